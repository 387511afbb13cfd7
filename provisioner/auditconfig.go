package provisioner

import (
	"context"
	"fmt"
	"slices"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// AuditedService is the service whose Data Access audit logs the
// detection rules need: a read of a secret's payload (AccessSecretVersion)
// is DATA_READ, written only when the project's audit config turns it on
// (https://cloud.google.com/secret-manager/docs/audit-logging).
const AuditedService = "secretmanager.googleapis.com"

// auditConfig turns on DATA_READ audit logs for Secret Manager in the
// project's IAM policy, keeping every other audit config and binding as
// it is, and removes the sandbox's account from its exemptions.
type auditConfig struct{ s *Sandbox }

func (r *auditConfig) Kind() string   { return "auditConfig" }
func (r *auditConfig) Name() string   { return AuditedService }
func (r *auditConfig) Deps() []string { return nil }

func (r *auditConfig) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	res := "projects/" + r.s.Project
	pol, err := c.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: res, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		return Change{}, err
	}
	member := "serviceAccount:" + r.s.ServiceAccount
	if DataReadAudited(pol, AuditedService, member) {
		return Change{Action: None, Detail: "DATA_READ audit logs on for " + AuditedService}, nil
	}
	want := proto.Clone(pol).(*iampb.Policy)
	enableDataRead(want, AuditedService, member)
	return Change{Action: Update, Detail: "turn on DATA_READ audit logs for " + AuditedService + " (secret reads are what the rules watch)", Apply: func(ctx context.Context) error {
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
	for _, ac := range pol.GetAuditConfigs() {
		if ac.GetService() != service && ac.GetService() != "allServices" {
			continue
		}
		for _, lc := range ac.GetAuditLogConfigs() {
			if lc.GetLogType() == iampb.AuditLogConfig_DATA_READ && !slices.Contains(lc.GetExemptedMembers(), member) {
				return true
			}
		}
	}
	return false
}

// enableDataRead adds DATA_READ for service to pol and drops member from
// that log type's exemptions.
func enableDataRead(pol *iampb.Policy, service, member string) {
	var ac *iampb.AuditConfig
	for _, a := range pol.AuditConfigs {
		if a.GetService() == service {
			ac = a
		}
	}
	if ac == nil {
		ac = &iampb.AuditConfig{Service: service}
		pol.AuditConfigs = append(pol.AuditConfigs, ac)
	}
	for _, lc := range ac.AuditLogConfigs {
		if lc.GetLogType() == iampb.AuditLogConfig_DATA_READ {
			lc.ExemptedMembers = slices.DeleteFunc(lc.ExemptedMembers, func(m string) bool { return m == member })
			return
		}
	}
	ac.AuditLogConfigs = append(ac.AuditLogConfigs, &iampb.AuditLogConfig{LogType: iampb.AuditLogConfig_DATA_READ})
}
