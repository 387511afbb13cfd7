package audit

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudcoop/coopguard/test/emulator/compute"
	"github.com/cloudcoop/coopguard/test/emulator/googleerr"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// ComputeFake is what the middleware reads of the Compute REST fake.
type ComputeFake interface {
	RouteOf(r *http.Request) (compute.Route, bool)
	Instance(project, zone, name string) (*computepb.Instance, bool)
}

// Middleware authenticates, authorises and audits every Compute REST
// request before fake serves it.
func (g *Gate) Middleware(fake ComputeFake, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		principal, msg, ok := g.authenticate(r.Header.Get("Authorization"))
		if !ok {
			reason := "required"
			if msg == invalidCredentialsMessage {
				reason = "authError"
			}
			googleerr.Write(w, http.StatusUnauthorized, reason, msg)
			return
		}
		route, ok := fake.RouteOf(r)
		if !ok {
			next.ServeHTTP(w, r) // the fake answers 404 as GCP does
			return
		}
		row, known := REST[route.Method]
		if !known {
			googleerr.WriteCompute(w, http.StatusForbidden, "forbidden", "the emulated GCP has no IAM row for "+route.Method+": add it to test/emulator/audit/table.go")
			return
		}
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(io.LimitReader(r.Body, 4<<20))
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		c := &call{row: row, principal: principal, userAgent: r.Header.Get("User-Agent"), callerIP: hostOf(r.RemoteAddr)}
		g.origin(c, r.Header.Get("Authorization"))
		c.resource, c.actAs, c.monitored = g.restTarget(fake, route, body)
		c.request = requestOf(route, body)
		authz, denied := g.authorize(c)
		if denied != nil {
			msg := "Required '" + denied.perm + "' permission for '" + denied.resource + "'"
			g.record(r.Context(), c, authz, statusOf(code.Code_PERMISSION_DENIED, msg))
			googleerr.WriteCompute(w, http.StatusForbidden, "forbidden", msg)
			return
		}
		c.metadata = metadataDelta(fake, route, body)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r.WithContext(iam.WithPrincipal(r.Context(), principal)))
		g.record(r.Context(), c, authz, statusOf(code.Code(googleerr.Code(rec.code)), http.StatusText(rec.code)))
	})
}

// restTarget returns the call's resource name, the account it acts as and
// its monitored resource.
func (g *Gate) restTarget(fake ComputeFake, rt compute.Route, body []byte) (string, string, *monitoredres.MonitoredResource) {
	base := "projects/" + rt.Project
	switch rt.Scope {
	case "zones", "regions":
		base += "/" + rt.Scope + "/" + rt.Loc
	case "global":
		base += "/global"
	}
	name := rt.Name
	var created computepb.Instance
	if name == "" && len(body) > 0 {
		var named struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(body, &named)
		name = named.Name
		if rt.Collection == "instances" {
			_ = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, &created)
		}
	}
	res := base + "/" + rt.Collection
	if name != "" {
		res += "/" + name
	}
	var actAs string
	var mr *monitoredres.MonitoredResource
	if rt.Collection == "instances" && rt.Scope == "zones" {
		mr = &monitoredres.MonitoredResource{Type: "gce_instance", Labels: map[string]string{"project_id": g.ProjectID(rt.Project), "zone": rt.Loc, "instance_id": ""}}
		if in, ok := fake.Instance(rt.Project, rt.Loc, rt.Name); ok && rt.Name != "" {
			mr.Labels["instance_id"] = itoa(in.GetId())
			if sa := in.GetServiceAccounts(); len(sa) > 0 {
				actAs = sa[0].GetEmail()
			}
		} else if sa := created.GetServiceAccounts(); len(sa) > 0 {
			actAs = sa[0].GetEmail()
		}
		if rt.Method == "compute.instances.setServiceAccount" {
			// The account acted as is the one the VM is to run as.
			var req computepb.InstancesSetServiceAccountRequest
			_ = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(body, &req)
			actAs = req.GetEmail()
		}
	}
	if rt.Collection == "firewalls" {
		mr = &monitoredres.MonitoredResource{Type: "gce_firewall_rule", Labels: map[string]string{"project_id": g.ProjectID(rt.Project), "firewall_rule_id": ""}}
	}
	return res, actAs, mr
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}

// statusRecorder remembers the status code the fake answered with.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}
