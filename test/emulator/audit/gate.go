package audit

import (
	"context"
	"fmt"
	"google.golang.org/protobuf/types/known/structpb"
	"strings"
	"sync/atomic"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/genproto/googleapis/rpc/code"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/audit/detail"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// Log names of Cloud Audit Logs (https://cloud.google.com/logging/docs/audit#types).
const (
	ActivityLog   = "cloudaudit.googleapis.com%2Factivity"
	DataAccessLog = "cloudaudit.googleapis.com%2Fdata_access"
)

// Gate checks and audits every call of the emulated GCP. Its fields are
// set once by the emulator before it serves.
type Gate struct {
	// IAM decides permissions.
	IAM *iam.Evaluator
	// Now is the emulator's clock.
	Now func() time.Time
	// AuditConfigs returns a project's Data Access audit configuration.
	AuditConfigs func(projectID string) []*iampb.AuditConfig
	// ProjectID and ProjectNumber map between a project's id and number
	// (each returns its argument for an unknown project).
	ProjectID, ProjectNumber func(string) string
	// Instance returns a VM by its relative name
	// ("projects/<p>/zones/<z>/instances/<name>"): calls made with a token
	// its metadata server handed out come from its network while it runs.
	// Nil: every call comes from outside Google Cloud.
	Instance func(name string) (*computepb.Instance, bool)
	// Write stores an audit entry in the emulated Logging, which routes it
	// through the project's sinks; nil drops entries.
	Write func(ctx context.Context, e *loggingpb.LogEntry)
	// Disabled reports whether a principal is a disabled service account:
	// GCP rejects a disabled account's existing access tokens
	// (https://cloud.google.com/iam/docs/reference/rest/v1/projects.serviceAccounts/disable).
	// nil means no account is ever disabled.
	Disabled func(email string) bool

	seq atomic.Uint64
}

// call is one request as the gate sees it.
type call struct {
	row       Row
	principal string
	// resource is the relative resource name as the request gives it.
	resource  string
	callerIP  string
	userAgent string
	// callerNetwork and delegation are where the call came from and who
	// minted its token (see origin).
	callerNetwork string
	delegation    []*auditpb.ServiceAccountDelegationInfo
	// actAs is the service account the call acts as, if any.
	actAs string
	// monitored is the log entry's monitored resource.
	monitored *monitoredres.MonitoredResource
	// detail is what the fake adds to the entry (serviceData, metadata).
	detail *detail.Holder
	// metadata is the entry's metadata when the gate computes it itself.
	metadata *structpb.Struct
	// request is the entry's protoPayload.request (requestOf).
	request *structpb.Struct
	// permOn are the resources of row.PermOn's permissions.
	permOn map[string]string
}

// projectOf returns the project id a relative resource name is in.
func (g *Gate) projectOf(resource string) string {
	rest, ok := strings.CutPrefix(resource, "projects/")
	if !ok {
		return ""
	}
	p, tail, _ := strings.Cut(rest, "/")
	if p == "-" {
		// IAM's "projects/-/serviceAccounts/EMAIL": the entry belongs to
		// the project that owns the account.
		if email, ok := strings.CutPrefix(tail, "serviceAccounts/"); ok {
			email, _, _ = strings.Cut(email, "/")
			if _, dom, ok := strings.Cut(email, "@"); ok {
				p, _ = strings.CutSuffix(dom, ".iam.gserviceaccount.com")
			}
		}
	}
	return g.ProjectID(p)
}

// denial is why a call is refused; empty when it is allowed.
type denial struct {
	perm, resource string
}

// authorize checks every permission the row needs on the call's resource,
// and actAs on the account it acts as; it returns the authorization info
// the audit entry carries and the first permission denied, if any.
func (g *Gate) authorize(c *call) ([]*auditpb.AuthorizationInfo, *denial) {
	member := iam.Member(c.principal)
	var info []*auditpb.AuthorizationInfo
	var denied *denial
	check := func(perm, resource string) {
		ok := g.IAM.Allowed(member, perm, resource)
		info = append(info, &auditpb.AuthorizationInfo{Resource: resource, Permission: perm, Granted: ok})
		if !ok && denied == nil {
			denied = &denial{perm: perm, resource: resource}
		}
	}
	res := c.resource
	if c.row.ByNumber {
		res = g.byNumber(res)
	}
	for _, p := range c.row.Perms {
		if on := c.permOn[p]; on != "" {
			check(p, on)
			continue
		}
		check(p, res)
	}
	if c.row.ActAs && c.actAs != "" {
		check("iam.serviceAccounts.actAs", ServiceAccountResource(c.actAs))
	}
	return info, denied
}

// ServiceAccountResource is the IAM resource of a service account: its
// project comes from the email's domain.
func ServiceAccountResource(email string) string {
	proj := "-"
	if _, dom, ok := strings.Cut(email, "@"); ok {
		if p, ok := strings.CutSuffix(dom, ".iam.gserviceaccount.com"); ok {
			proj = p
		}
	}
	return "projects/" + proj + "/serviceAccounts/" + email
}

// enabled reports whether the call's audit log is written: Admin Activity
// always; Data Access only when the project's audit config enables the
// type for the service (or allServices) and does not exempt the caller
// (https://cloud.google.com/logging/docs/audit/configure-data-access).
func (g *Gate) enabled(project string, c *call) bool {
	switch c.row.Type {
	case NotAudited:
		return false
	case AdminWrite:
		return true
	}
	if g.AuditConfigs == nil {
		return false
	}
	member := iam.Member(c.principal)
	want := iampb.AuditLogConfig_LogType(iampb.AuditLogConfig_LogType_value[string(c.row.Type)])
	for _, ac := range g.AuditConfigs(project) {
		if ac.GetService() != c.row.Service && ac.GetService() != "allServices" {
			continue
		}
		for _, lc := range ac.GetAuditLogConfigs() {
			if lc.GetLogType() != want {
				continue
			}
			exempt := false
			for _, m := range lc.GetExemptedMembers() {
				exempt = exempt || m == member
			}
			if !exempt {
				return true
			}
		}
	}
	return false
}

// record writes the call's audit entry, if its log is on. st is the
// call's outcome (nil or code OK for success).
func (g *Gate) record(ctx context.Context, c *call, authz []*auditpb.AuthorizationInfo, st *rpcstatus.Status) {
	project := g.projectOf(c.resource)
	if g.Write == nil || project == "" || !g.enabled(project, c) {
		return
	}
	log := DataAccessLog
	if c.row.Type == AdminWrite {
		log = ActivityLog
	}
	name := c.resource
	if c.row.ByNumber {
		name = g.byNumber(name)
	}
	payload := &auditpb.AuditLog{
		ServiceName:        c.row.Service,
		MethodName:         c.row.Method,
		ResourceName:       name,
		AuthenticationInfo: &auditpb.AuthenticationInfo{PrincipalEmail: c.principal, ServiceAccountDelegationInfo: c.delegation},
		AuthorizationInfo:  authz,
		RequestMetadata:    &auditpb.RequestMetadata{CallerIp: c.callerIP, CallerSuppliedUserAgent: c.userAgent, CallerNetwork: c.callerNetwork},
		Request:            c.request,
	}
	addDetail(payload, c, st)
	severity := ltype.LogSeverity_NOTICE
	if c.row.Type != AdminWrite {
		severity = ltype.LogSeverity_INFO
	}
	if st != nil && st.GetCode() != int32(code.Code_OK) {
		payload.Status = st
		severity = ltype.LogSeverity_ERROR
	}
	anyPayload, err := anypb.New(payload)
	if err != nil {
		return
	}
	mr := c.monitored
	if mr == nil {
		mr = &monitoredres.MonitoredResource{Type: "audited_resource", Labels: map[string]string{"project_id": project, "service": c.row.Service, "method": c.row.Method}}
	}
	now := g.Now()
	g.Write(ctx, &loggingpb.LogEntry{
		LogName:          "projects/" + project + "/logs/" + log,
		Resource:         mr,
		Payload:          &loggingpb.LogEntry_ProtoPayload{ProtoPayload: anyPayload},
		Timestamp:        timestamppb.New(now),
		ReceiveTimestamp: timestamppb.New(now),
		Severity:         severity,
		InsertId:         fmt.Sprintf("%x%06d", now.UnixNano(), g.seq.Add(1)),
	})
}

// byNumber rewrites "projects/<id>/…" to "projects/<number>/…".
func (g *Gate) byNumber(name string) string {
	rest, ok := strings.CutPrefix(name, "projects/")
	if !ok {
		return name
	}
	p, tail, _ := strings.Cut(rest, "/")
	out := "projects/" + g.ProjectNumber(g.ProjectID(p))
	if tail != "" {
		out += "/" + tail
	}
	return out
}

// deniedMessage is the text GCP's gRPC APIs refuse a permission with.
func deniedMessage(d *denial) string {
	return "Permission '" + d.perm + "' denied on resource '" + d.resource + "' (or it may not exist)."
}

// authenticate returns the principal of an Authorization value and
// whether its token is accepted: a missing or foreign token is not, nor is
// one of a disabled service account, whose existing tokens GCP rejects
// until it is enabled again. msg is the refusal's text.
func (g *Gate) authenticate(authorization string) (principal string, msg string, ok bool) {
	principal, ok = iam.PrincipalFromAuthorization(authorization)
	switch {
	case !ok:
		return "", unauthenticatedMessage, false
	case g.Disabled != nil && g.Disabled(principal):
		return "", invalidCredentialsMessage, false
	}
	return principal, "", true
}

// invalidCredentialsMessage is GCP's answer to a token it no longer
// accepts (expired, revoked, or of a disabled account).
const invalidCredentialsMessage = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential."

// unauthenticatedMessage is GCP's answer to a call without credentials.
const unauthenticatedMessage = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential."

// statusOf builds the google.rpc.Status an audit entry carries.
func statusOf(c code.Code, msg string) *rpcstatus.Status {
	return &rpcstatus.Status{Code: int32(c), Message: msg}
}
