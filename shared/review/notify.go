package review

import (
	"fmt"
	"regexp"
	"strings"
)

// Notification is the weekly review as the operator's notification
// channels show it: a subject and a short markdown body, for the
// documentation of the "coopguard weekly review" alert policy.
//
// It is built from numbers coopguard computed and names from coopguard's
// own configuration (the project, the sandboxes), never from what the
// review read: a method name, a principal, a destination or an incident
// trigger is written by whoever made the call, the sandbox included, and
// a notification is where a forged "run this" would be believed. A name
// that is not a plain GCP resource name is left out rather than escaped.
// Each sandbox gets the command that prints its review.
func (r *Review) Notification() (subject, content string) {
	t := r.Counts()
	project := plainName(r.Project)
	subject = fmt.Sprintf("coopguard weekly review of %s: %d incident(s) (%d still open), %d new method(s), %d new destination(s)",
		project, t.Incidents, t.Open, t.NewMethods, t.NewDestinations)
	since := Days(r.To.Sub(r.From))
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n%s → %s. %d posture check(s) not passing.\n\n",
		r.NotificationHeading(), r.From.UTC().Format("2006-01-02 15:04 MST"), r.To.UTC().Format("2006-01-02 15:04 MST"), len(r.Drift))
	for i := range r.Sandboxes {
		s := &r.Sandboxes[i]
		name := plainName(s.Name)
		c := s.Counts()
		fmt.Fprintf(&b, "- **`%s`**: %d audited call(s) (%d denied), %d new method(s), %d new destination(s), %d incident(s) (%d still open). Read it:\n\n      coopguard review --since %s --sandbox %s\n\n",
			name, c.Calls, c.Denied, c.NewMethods, c.NewDestinations, c.Incidents, c.Open, since, name)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(&b, "%d read(s) could not be completed: the counts may be low; the review says which.\n\n", len(r.Notes))
	}
	b.WriteString("This message carries only coopguard's counts: what the sandbox did (methods, principals, destinations) " +
		"is in the review itself, which these commands print, and in coopguard's store. " +
		"The same body stays on the policy until the next review replaces it.\n")
	return subject, b.String()
}

// NotificationHeading is the first line of the notification's body: the
// project and the day the review ran, which tells one week's review from
// the next (a redelivered review of the same day is not told twice).
func (r *Review) NotificationHeading() string {
	return fmt.Sprintf("## coopguard weekly review of project `%s` to %s", plainName(r.Project), r.To.UTC().Format("2006-01-02"))
}

// plainNameRE is a GCP resource name or project id: lower case letters,
// digits and hyphens (and the colon and dot of a domain-scoped project).
var plainNameRE = regexp.MustCompile(`^[a-z][a-z0-9.:-]{0,99}$`)

// plainName returns s when it is a plain resource name, and a placeholder
// otherwise, so nothing that could carry markup or a command reaches a
// notification.
func plainName(s string) string {
	if plainNameRE.MatchString(s) {
		return s
	}
	return "(unnamed)"
}
