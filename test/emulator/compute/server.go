// Package compute is a wire-level fake of the Compute Engine v1 REST API.
//
// The official client (cloud.google.com/go/compute/apiv1, REST transport)
// talks to it unmodified: the fake serves the same URL paths, reads and
// writes the same protojson bodies, answers errors in Google's JSON error
// shape and reports long-running work through zonal, regional and global
// operations. Operations take time on the emulator's clock, per method
// (see Profile): meanwhile the operation is RUNNING and the
// resource shows GCP's intermediate status; even under the Compressed
// profile the mutation's answer is never DONE, so callers that forget
// op.Wait are still exercised. Every request goes through a faults.Injector first, so tests
// can count calls, add latency and make calls or their operations fail.
//
// State is kept per full resource path ("projects/p/zones/z/instances/i"),
// so many projects coexist in one server. Every message is cloned on the
// way in and out: callers never share memory with the fake's state.
package compute

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// selfLinkBase prefixes every selfLink, as on the real API: clients compare
// and parse selfLinks, so they must not depend on the fake's own address.
const selfLinkBase = "https://www.googleapis.com/compute/v1/"

// apiPrefix is the path every Compute v1 REST call starts with.
const apiPrefix = "/compute/v1/projects/"

// maxBody bounds request bodies; the real API refuses far smaller ones.
const maxBody = 4 << 20

// Server is the fake Compute Engine API. It is an http.Handler; serve it
// with httptest.NewServer and point the client at it with
// option.WithEndpoint. It is safe for concurrent use.
type Server struct {
	inj    *faults.Injector
	routes map[string]endpoint

	mu sync.Mutex
	// objects holds every resource by full path, e.g.
	// "projects/p/zones/z/instances/i".
	objects map[string]proto.Message
	// created counts creations per path so a re-created resource gets a
	// new id, as on the real API.
	created map[string]uint64
	// ops holds operations by full path, e.g. "projects/p/zones/z/operations/o".
	ops map[string]*computepb.Operation
	// opErrs holds the error an operation reports once it is DONE.
	opErrs map[string]*apiError
	// requestIDs maps project + requestId to the operation path, so a
	// retried mutation gets its first operation back.
	requestIDs map[string]string
	// guest holds guest attributes per instance path, keyed "namespace/key".
	guest map[string]map[string]string
	// guestReads is each VM's guest attribute read budget.
	guestReads map[string]*readBudget
	// changed is closed and replaced on every change of state, waking
	// the metadata server's long polls.
	changed chan struct{}
	seq     uint64
	// now is the emulator's clock; profile how long operations take.
	now func() time.Time
	// advance, when set, moves the clock for a waiter (AdvanceOnWait).
	advance func(to time.Time)
	profile Profile
	// pending holds the operations not yet DONE, by operation path.
	pending map[string]*pendingOp
	// watcherStandIn confirms agent stops like the VM's watcher would.
	watcherStandIn bool
	// tokenRefused, when set, says the metadata server hands out no token
	// for an account (RefuseTokensOf).
	tokenRefused func(email string) bool
	// systemRoutes are the routes GCP made itself (a network's default
	// route, vpcroutes.go), by path: they go with their network.
	systemRoutes map[string]bool
}

// endpoint is one REST method of the API.
type endpoint struct {
	// method is the API reference name, e.g. "compute.instances.insert".
	method string
	// read serves a non-mutating method; it runs with Server.mu held and
	// returns a proto.Message or a *listPage owned by the caller.
	read func(c *call) (any, error)
	// mutate applies a mutating method; it runs with Server.mu held and
	// names the resource the operation targets.
	mutate func(c *call) (target, error)
	// block serves a read that may wait (operations.wait); it runs
	// without Server.mu.
	block func(c *call) (any, error)
}

// target is the resource an operation acts on.
type target struct {
	key string
	id  uint64
	// done, when set, completes the change when the operation is DONE
	// (an instance STOPPING becomes TERMINATED); it runs with Server.mu held.
	done func()
	// until, when set, is when the operation is DONE instead of the
	// profile's duration from now (a stop of a VM already stopping ends
	// with the first stop).
	until time.Time
}

// call is one parsed request.
type call struct {
	s *Server
	r *http.Request
	// project, scope ("zones", "regions" or "global") and loc (the zone or
	// region name) come from the path.
	project, scope, loc string
	coll, name, verb    string
	body                []byte
}

// New returns an empty fake. inj may be nil, in which case a fresh
// injector that injects nothing is used.
func New(inj *faults.Injector) *Server {
	if inj == nil {
		inj = faults.New()
	}
	s := &Server{
		inj:        inj,
		routes:     map[string]endpoint{},
		objects:    map[string]proto.Message{},
		created:    map[string]uint64{},
		ops:        map[string]*computepb.Operation{},
		opErrs:     map[string]*apiError{},
		requestIDs: map[string]string{},
		guest:      map[string]map[string]string{},
		guestReads: map[string]*readBudget{},
		changed:    make(chan struct{}),
		now:        time.Now,
		pending:    map[string]*pendingOp{},
		// A network's system-generated routes (vpcroutes.go).
		systemRoutes: map[string]bool{},
	}
	s.projectRoutes()
	s.instanceRoutes()
	s.accessConfigRoutes()
	s.interfaceUpdateRoutes()
	s.hardeningRoutes()
	s.mirroringRoutes()
	s.diskRoutes()
	s.snapshotRoutes()
	s.iamPolicyRoutes()
	s.imageRoutes()
	s.networkRoutes()
	s.subnetworkRoutes()
	s.firewallRoutes()
	s.routerRoutes()
	s.vpcRouteRoutes()
	s.peeringRoutes()
	s.operationRoutes()
	return s
}

// handle registers an endpoint. pattern is "HTTP-METHOD scope/collection",
// optionally followed by "/{}" for a named resource and "/verb".
func (s *Server) handle(pattern string, e endpoint) {
	if _, dup := s.routes[pattern]; dup {
		panic("compute: duplicate route " + pattern)
	}
	s.routes[pattern] = e
}

// ServeHTTP routes a Compute v1 REST request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, pattern, ok := s.parse(r)
	e, found := s.routes[pattern]
	if !ok || !found {
		writeError(w, errNotFoundMsg(fmt.Sprintf("The requested URL %s was not found on this server.", r.URL.Path)))
		return
	}
	mutating := r.Method != http.MethodGet
	if mutating {
		// Read the body first: only then does the server notice a client
		// that gives up, which ends an injected hang.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			writeError(w, errInvalid("Could not read the request body: "+err.Error()))
			return
		}
		c.body = body
	}
	f := s.inj.Before(r.Context(), e.method, mutating)
	if f.Code != 0 && !(f.OperationError && e.mutate != nil) {
		writeError(w, faultError(e.method, f))
		return
	}
	if err := validateScope(c); err != nil {
		writeError(w, err)
		return
	}
	if err := s.resolveProject(c); err != nil {
		writeError(w, err)
		return
	}
	var out any
	var err error
	if e.mutate != nil {
		var opErr *apiError
		if f.OperationError {
			opErr = operationFault(f)
		}
		out, err = s.mutate(c, e, opErr)
	} else if e.block != nil {
		out, err = e.block(c)
	} else {
		s.lock()
		out, err = e.read(c)
		s.mu.Unlock()
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeResponse(w, out)
}

// parse splits the path into a call and the route pattern it matches.
func (s *Server) parse(r *http.Request) (*call, string, bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok {
		return nil, "", false
	}
	seg := strings.Split(rest, "/")
	c := &call{s: s, r: r}
	if len(seg) > 0 && seg[0] != "" && len(seg) <= 2 {
		// The project itself: projects.get and its verbs, whose
		// operations are global.
		c.project, c.scope, c.coll = seg[0], "global", "project"
		if len(seg) == 1 {
			return c, r.Method + " project", true
		}
		c.verb = seg[1]
		return c, r.Method + " project/" + c.verb, c.verb != ""
	}
	if len(seg) < 3 || seg[0] == "" {
		return nil, "", false
	}
	c.project, c.scope = seg[0], seg[1]
	switch c.scope {
	case "zones", "regions":
		if len(seg) < 4 {
			return nil, "", false
		}
		c.loc, seg = seg[2], seg[3:]
	case "global", "aggregated":
		seg = seg[2:]
	default:
		return nil, "", false
	}
	for _, p := range seg {
		if p == "" {
			return nil, "", false
		}
	}
	c.coll = seg[0]
	pattern := r.Method + " " + c.scope + "/" + c.coll
	switch len(seg) {
	case 1:
	case 2:
		c.name = seg[1]
		pattern += "/{}"
	case 3:
		c.name, c.verb = seg[1], seg[2]
		pattern += "/{}/" + c.verb
	default:
		return nil, "", false
	}
	return c, pattern, true
}

var (
	// rfc1035 is the name rule of nearly every Compute resource.
	rfc1035   = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	projectRE = regexp.MustCompile(`^([a-z][-a-z0-9.:]{0,60}:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	zoneRE    = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)
	regionRE  = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	// numberRE is a project number or a resource id, which paths accept
	// in place of a project id or an instance name.
	numberRE = regexp.MustCompile(`^[1-9][0-9]{0,19}$`)
	// uuidRE is a UUID in its canonical text form, the only requestId
	// the API accepts.
	uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// zeroUUID is the one UUID the API refuses as a requestId.
const zeroUUID = "00000000-0000-0000-0000-000000000000"

// validateScope rejects malformed projects, zones and regions the way the
// real API does, so a typo in the code under test fails here too.
func validateScope(c *call) error {
	if !projectRE.MatchString(c.project) && !numberRE.MatchString(c.project) {
		return errInvalidField("project", c.project, "Must be a match of regex '(?:(?:[-a-z0-9]{1,63}\\.)*(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?):)?(?:[0-9]{1,19}|(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?))'")
	}
	switch c.scope {
	case "zones":
		if !zoneRE.MatchString(c.loc) {
			return errInvalidField("zone", c.loc, "Unknown zone.")
		}
	case "regions":
		if !regionRE.MatchString(c.loc) {
			return errInvalidField("region", c.loc, "Unknown region.")
		}
	}
	return nil
}

// resolveProject turns a project number in the path into the project's
// id, as GCP accepts either; resources are kept and named by id.
func (s *Server) resolveProject(c *call) error {
	if !numberRE.MatchString(c.project) {
		return nil
	}
	s.lock()
	defer s.mu.Unlock()
	for _, k := range sortedKeys(s.objects) {
		if id := projectOf(k); strconv.FormatInt(resourcemanager.ProjectNumber(id), 10) == c.project {
			c.project = id
			return nil
		}
	}
	return errNotFound("projects/" + c.project)
}

// mutate runs a mutating endpoint: requestId replay, the change itself (or
// an injected operation error instead of it), and its operation.
func (s *Server) mutate(c *call, e endpoint, opErr *apiError) (any, error) {
	rid := c.r.URL.Query().Get("requestId")
	if rid != "" && (!uuidRE.MatchString(rid) || rid == zeroUUID) {
		return nil, errInvalidField("requestId", rid, "The request ID must be a valid UUID other than the zero UUID.")
	}
	s.lock()
	defer s.mu.Unlock()
	if rid != "" {
		if key, ok := s.requestIDs[c.project+"\x00"+rid]; ok {
			return proto.Clone(s.ops[key]), nil
		}
	}
	var t target
	if opErr != nil {
		// Accept the request but change nothing: the operation carries
		// the failure, as when the real backend fails after accepting.
		name := c.name
		if name == "" {
			var body struct {
				Name string `json:"name"`
			}
			_ = json.Unmarshal(c.body, &body)
			name = body.Name
		}
		t.key = c.key(c.coll, name)
	} else {
		var err error
		if t, err = e.mutate(c); err != nil {
			return nil, err
		}
		s.notify()
	}
	op := s.newOperation(c, e.method, t, opErr)
	if t.done != nil && opErr == nil {
		s.pending[c.scopePath()+"/operations/"+op.GetName()].done = t.done
	}
	if rid != "" {
		// The API echoes the requestId as clientOperationId.
		op.ClientOperationId = proto.String(rid)
		s.requestIDs[c.project+"\x00"+rid] = c.scopePath() + "/operations/" + op.GetName()
	}
	return proto.Clone(op), nil
}

// lock takes s.mu and first completes every operation whose time has
// come, so whatever the caller reads is as of the emulator's clock.
func (s *Server) lock() {
	s.mu.Lock()
	s.settle()
}

// notify wakes every long poll; callers hold s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// scopePath is the path of the call's zone, region or the global scope.
func (c *call) scopePath() string {
	switch c.scope {
	case "zones", "regions":
		return "projects/" + c.project + "/" + c.scope + "/" + c.loc
	default:
		return "projects/" + c.project + "/global"
	}
}

// key is the full path of a resource of coll in the call's scope.
func (c *call) key(coll, name string) string {
	return c.scopePath() + "/" + coll + "/" + name
}

// decode reads the request body into m, refusing unknown fields as the
// real API does.
func (c *call) decode(m proto.Message) error {
	if len(c.body) == 0 {
		return errInvalid("Required field 'resource' not specified")
	}
	if err := protojson.Unmarshal(c.body, m); err != nil {
		return errInvalid("Invalid JSON payload received. " + err.Error())
	}
	return nil
}

// query returns a query parameter of the request.
func (c *call) query(name string) string {
	return c.r.URL.Query().Get(name)
}

// get returns the stored resource at key; callers hold s.mu and must not
// let the result escape without cloning.
func (s *Server) get(key string) (proto.Message, error) {
	m, ok := s.objects[key]
	if !ok {
		return nil, errNotFound(key)
	}
	return m, nil
}

// create stores a new resource at key, stamping kind, id, selfLink and
// creationTimestamp, and returns its id. It fails with 409 when key is taken.
func (s *Server) create(key, kind string, m proto.Message) (uint64, error) {
	name := key[strings.LastIndex(key, "/")+1:]
	if !rfc1035.MatchString(name) {
		return 0, errInvalidField("resource.name", name, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	if _, ok := s.objects[key]; ok {
		return 0, errAlreadyExists(key)
	}
	id := s.stamp(key, kind, m)
	s.objects[key] = proto.Clone(m)
	return id, nil
}

// stamp sets the server-owned fields every resource has.
func (s *Server) stamp(key, kind string, m proto.Message) uint64 {
	s.created[key]++
	id := newID(fmt.Sprintf("%s#%d", key, s.created[key]))
	r := m.ProtoReflect()
	fields := r.Descriptor().Fields()
	set := func(name string, v protoreflect.Value) {
		if fd := fields.ByName(protoreflect.Name(name)); fd != nil {
			r.Set(fd, v)
		}
	}
	set("name", protoreflect.ValueOfString(key[strings.LastIndex(key, "/")+1:]))
	set("kind", protoreflect.ValueOfString(kind))
	set("id", protoreflect.ValueOfUint64(id))
	set("self_link", protoreflect.ValueOfString(selfLinkBase+key))
	set("creation_timestamp", protoreflect.ValueOfString(timestamp(s.now())))
	return id
}

// remove deletes the resource at key; callers hold s.mu.
func (s *Server) remove(key string) (uint64, error) {
	m, err := s.get(key)
	if err != nil {
		return 0, err
	}
	delete(s.objects, key)
	return idOf(m), nil
}

// replace stores m at key, keeping a clone.
func (s *Server) replace(key string, m proto.Message) {
	s.objects[key] = proto.Clone(m)
}

// idOf returns the id field of a stored resource.
func idOf(m proto.Message) uint64 {
	r := m.ProtoReflect()
	if fd := r.Descriptor().Fields().ByName("id"); fd != nil {
		return r.Get(fd).Uint()
	}
	return 0
}

// children returns the keys directly under prefix (which ends in "/"),
// sorted, so listings are stable.
func (s *Server) children(prefix string) []string {
	var keys []string
	for k := range s.objects {
		if rest, ok := strings.CutPrefix(k, prefix); ok && !strings.Contains(rest, "/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// listPage is one page of a list response.
type listPage struct {
	kind  string
	self  string
	items []proto.Message
	next  string
}

// list serves a list method of coll in the call's scope: filter,
// maxResults and pageToken as the real API does them.
func (s *Server) list(c *call, coll, kind string) (any, error) {
	f, err := parseFilter(c.query("filter"))
	if err != nil {
		return nil, err
	}
	max := 500
	if v := c.query("maxResults"); v != "" {
		if _, err := fmt.Sscan(v, &max); err != nil || max < 0 || max > 500 {
			return nil, errInvalidField("maxResults", v, "Must be between 0 and 500.")
		}
		if max == 0 {
			max = 500
		}
	}
	after := ""
	if tok := c.query("pageToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		if err != nil {
			return nil, errInvalidField("pageToken", tok, "Invalid page token.")
		}
		after = string(b)
	}
	prefix := c.key(coll, "")
	page := &listPage{kind: kind, self: selfLinkBase + strings.TrimSuffix(prefix, "/")}
	last := ""
	for _, k := range s.children(prefix) {
		if k <= prefix+after {
			continue
		}
		m := s.objects[k]
		ok, err := f.match(m)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if len(page.items) == max {
			page.next = base64.RawURLEncoding.EncodeToString([]byte(strings.TrimPrefix(last, prefix)))
			break
		}
		page.items = append(page.items, proto.Clone(m))
		last = k
	}
	return page, nil
}

// newID derives a stable, positive 63-bit id from seed, so ids look like
// the real ones and tests that repeat a scenario see the same ids.
func newID(seed string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(seed))
	id := h.Sum64() & (1<<63 - 1)
	if id == 0 {
		id = 1
	}
	return id
}

// fingerprint returns a fresh opaque fingerprint; it changes on every call
// so a client holding an old one gets 412.
func (s *Server) fingerprint(seed string) string {
	s.seq++
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], newID(fmt.Sprintf("%s#%d", seed, s.seq)))
	return base64.StdEncoding.EncodeToString(b[:])
}

// timestamp formats t the way Compute does (RFC 3339 with milliseconds
// and a numeric zone).
func timestamp(t time.Time) string {
	return t.Format("2006-01-02T15:04:05.000-07:00")
}

// link turns a resource reference into a full path key within project.
// The API accepts full URLs, "projects/..." paths and paths relative to
// the project ("global/networks/default"), and stores full URLs.
func link(project, ref string) string {
	if i := strings.Index(ref, "projects/"); i >= 0 {
		return ref[i:]
	}
	return "projects/" + project + "/" + strings.TrimPrefix(ref, "/")
}

// writeResponse marshals a proto message or list page as the API's JSON.
func writeResponse(w http.ResponseWriter, out any) {
	var body []byte
	var err error
	switch v := out.(type) {
	case proto.Message:
		body, err = protojson.Marshal(v)
	case *listPage:
		body, err = v.marshal()
	default:
		err = fmt.Errorf("compute: cannot marshal %T", out)
	}
	if err != nil {
		writeError(w, &apiError{code: http.StatusInternalServerError, reason: "backendError", message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(body)
}

// marshal renders the page with protojson items inside the list envelope.
func (p *listPage) marshal() ([]byte, error) {
	type envelope struct {
		Kind          string            `json:"kind"`
		ID            string            `json:"id"`
		Items         []json.RawMessage `json:"items,omitempty"`
		NextPageToken string            `json:"nextPageToken,omitempty"`
		SelfLink      string            `json:"selfLink"`
	}
	env := envelope{Kind: p.kind, ID: p.self, NextPageToken: p.next, SelfLink: p.self}
	for _, m := range p.items {
		b, err := protojson.Marshal(m)
		if err != nil {
			return nil, err
		}
		env.Items = append(env.Items, b)
	}
	return json.Marshal(env)
}

// sortByName orders resources by their name field, the order list
// methods return them in.
func sortByName(items []proto.Message) {
	name := func(m proto.Message) string {
		r := m.ProtoReflect()
		return r.Get(r.Descriptor().Fields().ByName("name")).String()
	}
	sort.Slice(items, func(i, j int) bool { return name(items[i]) < name(items[j]) })
}

// patchFields copies every field set in src onto dst (the body of an
// update, which replaces the resource), replacing whole
// lists and maps,
// except the fields named in keep, which the server owns or which may not
// change.
func patchFields(dst, src proto.Message, keep ...string) {
	d := dst.ProtoReflect()
	src.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		for _, k := range keep {
			if string(fd.Name()) == k {
				return true
			}
		}
		d.Set(fd, v)
		return true
	})
}

// mergePatch applies raw, a PATCH body, to dst as a JSON merge patch
// (RFC 7386), which is how the Compute API reads PATCH: a member set to
// null is removed, an object merges member by member, anything else (a
// list included, so [] clears one) replaces. Fields named in keep, which
// the server owns or which may not change, are left as they are.
func mergePatch(dst proto.Message, raw []byte, keep ...string) error {
	var patch map[string]any
	if err := json.Unmarshal(raw, &patch); err != nil {
		return errInvalid("Invalid JSON payload received. " + err.Error())
	}
	fields := dst.ProtoReflect().Descriptor().Fields()
	for _, k := range keep {
		if fd := fields.ByName(protoreflect.Name(k)); fd != nil {
			delete(patch, fd.JSONName())
			delete(patch, k)
		}
	}
	curJSON, err := protojson.Marshal(dst)
	if err != nil {
		return err
	}
	var cur map[string]any
	if err := json.Unmarshal(curJSON, &cur); err != nil {
		return err
	}
	merged, err := json.Marshal(mergeJSON(cur, patch))
	if err != nil {
		return err
	}
	next := dst.ProtoReflect().New().Interface()
	if err := protojson.Unmarshal(merged, next); err != nil {
		return errInvalid("Invalid JSON payload received. " + err.Error())
	}
	proto.Reset(dst)
	proto.Merge(dst, next)
	return nil
}

// mergeJSON is RFC 7386's MergePatch on decoded JSON.
func mergeJSON(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergeJSON(t[k], v)
	}
	return t
}

// identity names the fields the server owns on every resource.
var identity = []string{"name", "id", "kind", "self_link", "creation_timestamp"}

// sortedKeys returns the keys of objects in order, so scans that stop at
// the first hit give the same answer every time.
func sortedKeys(objects map[string]proto.Message) []string {
	keys := make([]string, 0, len(objects))
	for k := range objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// projectOf returns the project id of a "projects/p/..." path.
func projectOf(key string) string {
	rest := strings.TrimPrefix(key, "projects/")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i]
	}
	return rest
}
