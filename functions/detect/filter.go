package detect

import (
	"regexp"
	"strings"
)

// SinkFilter returns the Cloud Logging query for the log sink that feeds the
// default rules. It is a superset of what they match, narrowed to the
// project's Admin Activity and Data Access audit logs (by exact log ID)
// and to the sandbox's service account, secrets and network, so the
// responder is not woken for unrelated activity:
//
//   - calls by the sandbox SA to privileged methods, or denied (code 7);
//   - reads of the managed secrets by anyone but the sandbox SA;
//   - firewall and route changes, on the sandbox network when it is known.
//
// Clauses whose sandbox field is empty are left out; the network clause
// remains (without the network condition) so the filter is never empty.
func SinkFilter(sb Sandbox) string {
	var clauses []string
	// Audit logs write emails in lower case, as sandboxValue normalises them.
	sa := quote(strings.ToLower(sb.ServiceAccount))
	if sb.ServiceAccount != "" {
		clauses = append(clauses, `(protoPayload.authenticationInfo.principalEmail=`+sa+
			` AND (protoPayload.methodName=~`+quote(`(?i)(`+privilegedMethods+`)`)+
			` OR protoPayload.status.code=7))`)
	}
	if len(sb.Secrets) > 0 {
		names := make([]string, len(sb.Secrets))
		for i, s := range sb.Secrets {
			names[i] = regexp.QuoteMeta(s)
		}
		c := `(protoPayload.methodName=~` + quote(`(?i)`+secretReadMethods) +
			` AND protoPayload.resourceName=~` + quote(`^projects/[^/]+/secrets/(`+strings.Join(names, "|")+`)(/versions/[^/]+)?$`)
		if sb.ServiceAccount != "" {
			// The sandbox reads its own key at every agent start; leave
			// those out. NOT also keeps entries without a principal.
			c += ` AND NOT protoPayload.authenticationInfo.principalEmail=` + sa
		}
		clauses = append(clauses, c+`)`)
	}
	c := `(protoPayload.methodName=~` + quote(`(?i)`+networkChangeMethods)
	if sb.Network != "" {
		n := quote(sb.Network)
		c += ` AND (protoPayload.resourceName:` + n + ` OR protoPayload.request.network:` + n + `)`
	}
	clauses = append(clauses, c+`)`)
	return auditLogs + ` AND (` + strings.Join(clauses, " OR ") + `)`
}

// auditLogs admits exactly the project's Admin Activity and Data Access
// audit logs, the two the rules read. log_id compares the whole decoded
// LOG_ID, so a look-alike log anyone with logWriter can write
// ("cloudaudit.googleapis.com-x", "…/activity2") does not pass, as it
// would a substring test on logName. A sink sees only its own project's
// entries, so the project needs no condition.
const auditLogs = `(log_id("cloudaudit.googleapis.com/activity") OR log_id("cloudaudit.googleapis.com/data_access"))`

// quote renders s as a Logging query string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
