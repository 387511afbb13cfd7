package compute

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// metadataPrefix starts every path of the metadata server.
const metadataPrefix = "/computeMetadata/v1/"

// metadataServer is the metadata server one VM sees. Its values come from
// the fake's state, so a setMetadata through the API is what a long poll
// on the VM observes.
type metadataServer struct {
	s                   *Server
	project, zone, name string
	instanceKey         string
}

// MetadataHandler returns the metadata server of one VM (serve it with
// httptest and point the guest code at it through GCE_METADATA_HOST). It
// serves instance attributes with wait_for_change long polls, the
// instance's id, name, zone and hostname, the project id and number, and
// guest attributes, which a PUT makes visible to getGuestAttributes.
func (s *Server) MetadataHandler(project, zone, instance string) http.Handler {
	return &metadataServer{s: s, project: project, zone: zone, name: instance,
		instanceKey: "projects/" + project + "/zones/" + zone + "/instances/" + instance}
}

// projectNumber is the project's number, which the metadata server
// reports where the real one shows the number, not the id; every fake
// derives it the same way.
func projectNumber(project string) int64 {
	return resourcemanager.ProjectNumber(project)
}

// ServeHTTP serves one metadata request.
func (m *metadataServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	w.Header().Set("Server", "Metadata Server for VM")
	// Google's time, as every HTTP answer carries it: the emulator's clock.
	m.s.mu.Lock()
	now := m.s.now()
	m.s.mu.Unlock()
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	// The header proves the request is deliberate, not a redirected or
	// forged browser request; the real server refuses without it.
	if r.Header.Get("Metadata-Flavor") != "Google" {
		http.Error(w, "Missing required header: Metadata-Flavor", http.StatusForbidden)
		return
	}
	if m.off() {
		hangUp(w)
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, metadataPrefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if attr, ok := strings.CutPrefix(p, "instance/guest-attributes/"); ok {
		m.guestAttribute(w, r, attr)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	recursive := q.Get("recursive") == "true"
	if q.Get("wait_for_change") != "true" {
		m.s.lock()
		v, found := m.lookup(p, recursive)
		m.s.mu.Unlock()
		writeMetadata(w, v, found)
		return
	}
	m.longPoll(w, r, p, recursive)
}

// longPoll answers when the value at p differs from last_etag (or, without
// one, from the value when the poll started), or when timeout_sec passes.
// It sleeps on the server's change channel, so a change wakes it at once.
func (m *metadataServer) longPoll(w http.ResponseWriter, r *http.Request, p string, recursive bool) {
	q := r.URL.Query()
	var timeout <-chan time.Time
	if ts := q.Get("timeout_sec"); ts != "" {
		n, err := strconv.Atoi(ts)
		if err != nil || n < 0 {
			http.Error(w, "Invalid timeout_sec", http.StatusBadRequest)
			return
		}
		t := time.NewTimer(time.Duration(n) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	want := q.Get("last_etag")
	for {
		m.s.lock()
		v, found := m.lookup(p, recursive)
		changed := m.s.changed
		m.s.mu.Unlock()
		tag := etag(v, found)
		if want == "" {
			want = tag
		} else if tag != want {
			writeMetadata(w, v, found)
			return
		}
		if m.off() {
			hangUp(w)
			return
		}
		select {
		case <-changed:
		case <-timeout:
			writeMetadata(w, v, found)
			return
		case <-r.Context().Done():
			return
		}
	}
}

// off reports whether the VM is not running, so nothing on it can ask
// its metadata server anything.
func (m *metadataServer) off() bool {
	m.s.lock()
	defer m.s.mu.Unlock()
	inst, ok := m.s.objects[m.instanceKey].(*computepb.Instance)
	if !ok {
		return false
	}
	switch inst.GetStatus() {
	case "TERMINATED", "STOPPED", "SUSPENDED":
		return true
	}
	return false
}

// hangUp drops the connection without an answer: the VM asking is off.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// Without a hijackable connection, abort the handler; net/http
	// closes the connection without a response.
	panic(http.ErrAbortHandler)
}

// etag identifies a value, so a poller can say which one it has seen.
func etag(v string, found bool) string {
	return fmt.Sprintf("%016x", newID(fmt.Sprintf("%t\x00%s", found, v)))
}

// writeMetadata answers with a value, or 404 when there is none.
func writeMetadata(w http.ResponseWriter, v string, found bool) {
	w.Header().Set("ETag", etag(v, found))
	if !found {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/text")
	_, _ = io.WriteString(w, v)
}

// lookup resolves a metadata path from the fake's state; callers hold s.mu.
func (m *metadataServer) lookup(p string, recursive bool) (string, bool) {
	switch p {
	case "project/project-id":
		return m.project, true
	case "project/numeric-project-id":
		return strconv.FormatInt(projectNumber(m.project), 10), true
	}
	if v, found, ok := attributes(p, "project/attributes", recursive, func() (map[string]string, []string) {
		return m.s.projectMetadata(m.project)
	}); ok {
		return v, found
	}
	inst, ok := m.s.objects[m.instanceKey].(*computepb.Instance)
	if !ok {
		return "", false
	}
	if v, found, ok := attributes(p, "instance/attributes", recursive, func() (map[string]string, []string) {
		return metadataItems(inst.GetMetadata())
	}); ok {
		return v, found
	}
	if v, found, ok := serviceAccounts(p, m.instanceKey, inst); ok {
		if found && strings.HasSuffix(p, "/token") && m.s.tokenRefused != nil && m.s.tokenRefused(inst.GetServiceAccounts()[0].GetEmail()) {
			return "", false // a disabled account gets no new token
		}
		return v, found
	}
	switch p {
	case "instance/id":
		return strconv.FormatUint(inst.GetId(), 10), true
	case "instance/name":
		return inst.GetName(), true
	case "instance/zone":
		return fmt.Sprintf("projects/%d/zones/%s", projectNumber(m.project), m.zone), true
	case "instance/hostname":
		return fmt.Sprintf("%s.%s.c.%s.internal", inst.GetName(), m.zone, m.project), true
	case "instance/machine-type":
		mt := inst.GetMachineType()
		return fmt.Sprintf("projects/%d/machineTypes/%s", projectNumber(m.project), mt[strings.LastIndex(mt, "/")+1:]), true
	case "instance/tags":
		b, _ := json.Marshal(append([]string{}, inst.GetTags().GetItems()...))
		return string(b), true
	}
	return "", false
}

// RefuseTokensOf makes the metadata servers hand out no access token for
// an account refused says is disabled: GCP refuses a disabled account new
// tokens (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/disable).
// What the metadata server answers then is not documented; the emulator
// answers 404, no token, the stricter choice.
func (s *Server) RefuseTokensOf(refused func(email string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenRefused = refused
}

// serviceAccounts serves instance/service-accounts/: the directory lists
// "default/" and the attached account's email; under either, "email" is
// the account and "token" an access token for it, as JSON with
// access_token, expires_in and token_type
// (https://cloud.google.com/compute/docs/access/authenticate-workloads#applications).
// The token is bound to the instance (iam.VMToken): calls made with it
// carry the VM's network in their audit entries. ok is false when p is
// not under the directory.
func serviceAccounts(p, instanceKey string, inst *computepb.Instance) (v string, found, ok bool) {
	rest, under := strings.CutPrefix(p, "instance/service-accounts")
	if !under {
		return "", false, false
	}
	var email string
	if sa := inst.GetServiceAccounts(); len(sa) > 0 {
		email = sa[0].GetEmail()
	}
	if email == "" {
		return "", false, true
	}
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		return "default/\n" + email + "/\n", true, true
	}
	acct, leaf, _ := strings.Cut(rest, "/")
	if acct != "default" && acct != email {
		return "", false, true
	}
	switch leaf {
	case "email":
		return email, true, true
	case "token":
		b, _ := json.Marshal(map[string]any{"access_token": iam.VMToken(instanceKey, email), "expires_in": 3599, "token_type": "Bearer"})
		return string(b), true, true
	}
	return "", false, true
}

// attributes serves the metadata items under dir ("instance/attributes"
// or "project/attributes"): the directory lists the keys (or, recursive,
// a JSON object), a key its value. ok is false when p is not under dir.
func attributes(p, dir string, recursive bool, items func() (map[string]string, []string)) (v string, found, ok bool) {
	if p == dir || p == dir+"/" {
		m, keys := items()
		if recursive {
			b, _ := json.Marshal(m)
			return string(b), true, true
		}
		var sb strings.Builder
		for _, k := range keys {
			sb.WriteString(k + "\n")
		}
		return sb.String(), true, true
	}
	if k, under := strings.CutPrefix(p, dir+"/"); under {
		m, _ := items()
		v, found := m[k]
		return v, found, true
	}
	return "", false, false
}

// guestAttribute serves PUT, GET and DELETE of one guest attribute
// ("namespace/key"), the channel through which the guest agent reports
// back to the control plane.
func (m *metadataServer) guestAttribute(w http.ResponseWriter, r *http.Request, attr string) {
	ns, key, ok := strings.Cut(attr, "/")
	if !ok || ns == "" || key == "" || strings.Contains(key, "/") {
		http.Error(w, "Guest attribute path must be <namespace>/<key>", http.StatusBadRequest)
		return
	}
	s := m.s
	s.lock()
	enabled := s.guestAttributesEnabled(m.instanceKey)
	s.mu.Unlock()
	if !enabled {
		// Guest attributes are off unless metadata enables them.
		http.Error(w, "Guest attributes endpoint access is disabled.", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodPut:
		body, err := io.ReadAll(io.LimitReader(r.Body, 256*1024))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.lock()
		defer s.mu.Unlock()
		if _, ok := s.objects[m.instanceKey]; !ok {
			http.Error(w, "Not Found", http.StatusNotFound)
			return
		}
		s.setGuest(m.instanceKey, attr, string(body))
	case http.MethodGet:
		s.lock()
		v, found := s.guest[m.instanceKey][attr]
		s.mu.Unlock()
		writeMetadata(w, v, found)
	case http.MethodDelete:
		s.lock()
		defer s.mu.Unlock()
		delete(s.guest[m.instanceKey], attr)
		s.notify()
	default:
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
	}
}
