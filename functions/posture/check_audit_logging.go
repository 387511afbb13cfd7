package posture

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// requiredAuditLogs are the Data Access log types the security guide turns
// on for allServices; Admin Activity logs are always on.
var requiredAuditLogs = []iampb.AuditLogConfig_LogType{iampb.AuditLogConfig_ADMIN_READ, iampb.AuditLogConfig_DATA_WRITE}

// auditLogging: the project IAM policy's auditConfigs turn on ADMIN_READ
// and DATA_WRITE for allServices (the security guide) and DATA_READ for
// Secret Manager (the detection rules), without exempting the sandbox's
// service account (whose actions are exactly what must be audited).
type auditLogging struct{}

func (auditLogging) Name() string { return "audit-logging" }

func (auditLogging) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	pol, err := in.projectPolicy(ctx, c)
	if err != nil {
		return readError(err, "resourcemanager.projects.getIamPolicy")
	}
	sa := "serviceAccount:" + in.Config.Cloud.GCP.ServiceAccount
	on := map[iampb.AuditLogConfig_LogType]bool{}
	var exempt []string
	for _, ac := range pol.GetAuditConfigs() {
		if ac.GetService() != "allServices" {
			continue
		}
		for _, lc := range ac.GetAuditLogConfigs() {
			on[lc.GetLogType()] = true
			if slices.Contains(lc.GetExemptedMembers(), sa) {
				exempt = append(exempt, lc.GetLogType().String())
			}
		}
	}
	var missing, have []string
	for _, t := range requiredAuditLogs {
		if on[t] {
			have = append(have, t.String())
		} else {
			missing = append(missing, t.String())
		}
	}
	fix := fmt.Sprintf("gcloud projects get-iam-policy %[1]s --format=yaml > policy.yaml; under auditConfigs set service: allServices with auditLogConfigs logType ADMIN_READ and DATA_WRITE, and service: %[2]s with DATA_READ (no exemptedMembers for the sandbox's account); gcloud projects set-iam-policy %[1]s policy.yaml (Provision turns on the latter)", in.Project(), provisioner.AuditedService)
	switch {
	case len(missing) > 0:
		return fail(fmt.Sprintf("project %s: allServices audit logs %s off (on: %s)", in.Project(), strings.Join(missing, ", "), joinOr(have, "none")), fix)
	case len(exempt) > 0:
		return fail(fmt.Sprintf("project %s: %s is exempted from %s audit logs", in.Project(), sa, strings.Join(exempt, ", ")), fix)
	case !provisioner.DataReadAudited(pol, provisioner.AuditedService, sa):
		// Without it a read of the key by anyone leaves no trace, and the
		// foreign-secret-access and canary rules can never fire.
		return fail(fmt.Sprintf("project %s: DATA_READ audit logs off for %s: a read of the key leaves no trace, so secret theft cannot be detected", in.Project(), provisioner.AuditedService), fix)
	}
	return pass("project %s: allServices audit logs %s on; DATA_READ on for %s", in.Project(), strings.Join(have, ", "), provisioner.AuditedService)
}
