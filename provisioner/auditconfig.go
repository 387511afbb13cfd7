package provisioner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// AuditedService is the service whose DATA_READ audit logs the
// detection rules need: a read of a secret's payload (AccessSecretVersion)
// is DATA_READ, written only when the project's audit config turns it on
// (https://cloud.google.com/secret-manager/docs/audit-logging).
const AuditedService = "secretmanager.googleapis.com"

// AuditedLog is one Data Access audit log type turned on for a service
// (or allServices).
type AuditedLog struct {
	Service string
	Type    iampb.AuditLogConfig_LogType
}

// AuditedLogs are the Data Access audit logs the detection rules need: what
// cloudcoop's security guide turns on for every service (ADMIN_READ, so
// that GenerateAccessToken, SignJwt and every denied read are written;
// DATA_WRITE, so that OS Login key imports and OS Config assignments are),
// and DATA_READ for Secret Manager alone (a read of the key's payload).
// Every other service's DATA_READ stays off: it is the bulk of a project's
// log volume and no rule reads it.
var AuditedLogs = []AuditedLog{
	{"allServices", iampb.AuditLogConfig_ADMIN_READ},
	{"allServices", iampb.AuditLogConfig_DATA_WRITE},
	{AuditedService, iampb.AuditLogConfig_DATA_READ},
}

// auditConfig turns on AuditedLogs in the project's IAM policy, keeping
// every other audit config and binding as it is, and removes the
// sandbox's account from their exemptions.
type auditConfig struct{ s *Sandbox }

func (r *auditConfig) Kind() string   { return "auditConfig" }
func (r *auditConfig) Name() string   { return AuditedService }
func (r *auditConfig) Deps() []string { return nil }

func (r *auditConfig) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	res := "projects/" + r.s.Project
	pol, err := c.Projects.GetIamPolicy(ctx, readV3(res))
	if err != nil {
		return Change{}, err
	}
	member := "serviceAccount:" + r.s.ServiceAccount
	want := proto.Clone(pol).(*iampb.Policy)
	var missing []string
	for _, l := range AuditedLogs {
		if !Audited(pol, l.Service, l.Type, member) {
			missing = append(missing, l.Type.String()+" for "+l.Service)
			enableLog(want, l.Service, l.Type, member)
		}
	}
	if len(missing) == 0 {
		return Change{Action: None, Detail: "audit logs on: ADMIN_READ and DATA_WRITE for allServices, DATA_READ for " + AuditedService}, nil
	}
	return Change{Action: Update, Detail: "turn on audit logs " + strings.Join(missing, ", ") + " (what the detection rules read)", Apply: func(ctx context.Context) error {
		// Only auditConfigs change; the etag makes a concurrent policy
		// change fail (ABORTED) rather than be overwritten.
		_, err := c.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: want,
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"audit_configs"}}})
		if err != nil {
			return fmt.Errorf("set the audit config of %s: %w", res, err)
		}
		return nil
	}}, nil
}

// DataReadAudited reports whether pol writes DATA_READ audit logs of
// service (or allServices) for member.
func DataReadAudited(pol *iampb.Policy, service, member string) bool {
	return Audited(pol, service, iampb.AuditLogConfig_DATA_READ, member)
}

// Audited reports whether pol writes audit logs of type t for service
// (or allServices: IAM uses the union of the two) for member.
func Audited(pol *iampb.Policy, service string, t iampb.AuditLogConfig_LogType, member string) bool {
	exempt, on := false, false
	for _, ac := range pol.GetAuditConfigs() {
		if ac.GetService() != service && ac.GetService() != "allServices" {
			continue
		}
		for _, lc := range ac.GetAuditLogConfigs() {
			if lc.GetLogType() == t {
				on = true
				exempt = exempt || slices.Contains(lc.GetExemptedMembers(), member)
			}
		}
	}
	return on && !exempt
}

// enableLog adds log type t for service to pol and drops member from that
// log type's exemptions (in service's config and allServices', since IAM
// exempts a member exempted in either).
func enableLog(pol *iampb.Policy, service string, t iampb.AuditLogConfig_LogType, member string) {
	var ac *iampb.AuditConfig
	for _, a := range pol.AuditConfigs {
		if a.GetService() == service {
			ac = a
		}
		if a.GetService() != service && a.GetService() != "allServices" {
			continue
		}
		for _, lc := range a.AuditLogConfigs {
			if lc.GetLogType() == t {
				lc.ExemptedMembers = slices.DeleteFunc(lc.ExemptedMembers, func(m string) bool { return m == member })
			}
		}
	}
	if ac == nil {
		ac = &iampb.AuditConfig{Service: service}
		pol.AuditConfigs = append(pol.AuditConfigs, ac)
	}
	if !slices.ContainsFunc(ac.AuditLogConfigs, func(lc *iampb.AuditLogConfig) bool { return lc.GetLogType() == t }) {
		ac.AuditLogConfigs = append(ac.AuditLogConfigs, &iampb.AuditLogConfig{LogType: t})
	}
}
