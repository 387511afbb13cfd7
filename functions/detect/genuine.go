package detect

import (
	"fmt"
	"strings"

	"github.com/cloudcoop/coopguard/shared/events"
)

// AuditLogType is the @type of a Cloud Audit Logs payload.
const AuditLogType = "type.googleapis.com/google.cloud.audit.AuditLog"

// auditLogIDs are the log ids Cloud Audit Logs writes, URL-encoded as in
// logName (https://cloud.google.com/logging/docs/audit#types).
var auditLogIDs = []string{
	"cloudaudit.googleapis.com%2Factivity",
	"cloudaudit.googleapis.com%2Fdata_access",
	"cloudaudit.googleapis.com%2Fsystem_event",
	"cloudaudit.googleapis.com%2Fpolicy",
}

// AuditLogNames are the exact log names of project's Cloud Audit Logs.
func AuditLogNames(project string) []string {
	out := make([]string, len(auditLogIDs))
	for i, id := range auditLogIDs {
		out[i] = "projects/" + project + "/logs/" + id
	}
	return out
}

// Genuine returns nil when entry is a Cloud Audit Logs entry of project:
// its log name is exactly one of the project's audit logs and its payload
// an AuditLog. Anything else — a look-alike log name, another project, a
// JSON or text payload — could have been written by any principal holding
// logging.logEntries.create in that project, the sandbox's own account
// among them (roles/logging.logWriter); the error says so.
func Genuine(entry events.LogEntry, project string) error {
	isAudit := false
	for _, n := range AuditLogNames(project) {
		isAudit = isAudit || entry.LogName == n
	}
	switch {
	case project == "":
		return fmt.Errorf("no guarded project is configured")
	case !isAudit:
		return fmt.Errorf("log %q is not a Cloud Audit Logs log of project %s: any principal with logging.logEntries.create (the sandbox's account has roles/logging.logWriter) can write it", entry.LogName, project)
	case entry.Audit.Type != AuditLogType:
		return fmt.Errorf("entry %s in %s has no AuditLog payload (@type %q): it was not written by Cloud Audit Logs", entry.InsertID, entry.LogName, entry.Audit.Type)
	}
	return nil
}

// isCoopguard reports whether one of coopguard's own accounts made the
// audited call: coopguard's own work (restore, rotation, converge) never
// triggers a rule.
func isCoopguard(entry events.LogEntry, sb Sandbox) bool {
	p := strings.ToLower(entry.Audit.PrincipalEmail)
	for _, a := range sb.Coopguard {
		if p != "" && p == strings.ToLower(a) {
			return true
		}
	}
	return false
}
