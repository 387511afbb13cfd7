package detect

import (
	"regexp"
	"strings"
)

// SinkFilter returns the Cloud Logging query for the log sink that feeds the
// default rules. It is a superset of what they match, narrowed to the
// project's Cloud Audit Logs (exact log names), away from coopguard's own
// accounts, and to the sandbox's account, secrets and resources, so the
// responder is not woken for unrelated activity:
//
//   - calls by the sandbox SA to privileged methods, or denied (code 7);
//   - payload reads of the managed secrets by anyone but the sandbox SA,
//     and of the canaries by anyone;
//   - changes to coopguard's resources (network, firewalls, router, sink),
//     to alerting, and to the VM's tags.
//
// Clauses whose sandbox field is empty are left out; the defence clause
// always remains, so the filter is never empty. Terms are parenthesised
// throughout: in this language OR binds tighter than AND.
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
		c := `(protoPayload.methodName=~` + quote(`(?i)`+secretAccessMethods) +
			` AND protoPayload.resourceName=~` + quote(secretsRE(sb.Secrets))
		if sb.ServiceAccount != "" {
			// The sandbox reads its own key at every agent start; leave
			// those out. NOT also keeps entries without a principal.
			c += ` AND NOT protoPayload.authenticationInfo.principalEmail=` + sa
		}
		clauses = append(clauses, c+`)`)
	}
	if len(sb.Canaries) > 0 {
		clauses = append(clauses, `(protoPayload.methodName=~`+quote(`(?i)`+secretAccessMethods)+
			` AND protoPayload.resourceName=~`+quote(secretsRE(sb.Canaries))+`)`)
	}
	clauses = append(clauses, nonEmptyClauses(originClause(sb))...)
	clauses = append(clauses, defenceClause(sb))
	clauses = append(append(clauses, catalogueClauses(sb)...), catalogueClauses2(sb)...)
	var logs []string
	for _, n := range AuditLogNames(sb.Project) {
		logs = append(logs, `logName=`+quote(n))
	}
	f := `(` + strings.Join(logs, ` OR `) + `)`
	if len(sb.Coopguard) > 0 {
		var own []string
		for _, a := range sb.Coopguard {
			own = append(own, `protoPayload.authenticationInfo.principalEmail=`+quote(strings.ToLower(a)))
		}
		f += ` AND NOT (` + strings.Join(own, ` OR `) + `)`
	}
	return f + ` AND (` + strings.Join(clauses, ` OR `) + `)`
}

// defenceClause matches changes to coopguard's resources, alerting and the
// VM's tags, as celDefenceChange does.
func defenceClause(sb Sandbox) string {
	var alts []string
	if len(sb.Resources) > 0 {
		names := make([]string, len(sb.Resources))
		for i, r := range sb.Resources {
			names[i] = regexp.QuoteMeta(r)
		}
		res := quote(`/(` + strings.Join(names, "|") + `)$`)
		net := `(protoPayload.methodName=~` + quote(`(?i)`+networkChangeMethods) + ` AND (protoPayload.resourceName=~` + res
		if sb.Network != "" {
			net += ` OR protoPayload.request.network:` + quote(sb.Network)
		}
		alts = append(alts, net+`))`,
			`(protoPayload.methodName=~`+quote(`(?i)`+sinkChangeMethods)+` AND protoPayload.resourceName=~`+res+`)`)
	}
	alts = append(alts, `protoPayload.methodName=~`+quote(`(?i)`+alertingChangeMethods))
	if sb.InstanceName != "" {
		alts = append(alts, `(protoPayload.methodName=~`+quote(`(?i)`+tagMethods)+
			` AND protoPayload.resourceName=~`+quote(`/instances/`+regexp.QuoteMeta(sb.InstanceName)+`$`)+`)`)
	}
	return `(` + strings.Join(alts, ` OR `) + `)`
}

// secretsRE matches the resource name of the named secrets or their
// versions, in any project (by id or number).
func secretsRE(names []string) string {
	q := make([]string, len(names))
	for i, s := range names {
		q[i] = regexp.QuoteMeta(s)
	}
	return `^projects/[^/]+/secrets/(` + strings.Join(q, "|") + `)(/versions/[^/]+)?$`
}

// quote renders s as a Logging query string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}
