// Package review is the weekly review's data and its two renderings:
// markdown for a terminal, a chat or a ticket, and one self-contained HTML
// page. It knows nothing about reading GCP: functions.BuildReview fills a
// Review from Cloud Audit Logs, Cloud NAT logs, Secret Manager, posture
// and the incident store.
package review

import (
	"fmt"
	"strconv"
	"time"
)

// Retention is how long Cloud Logging's _Default bucket keeps entries
// unless configured otherwise
// (https://cloud.google.com/logging/docs/routing/overview#logs-retention):
// a review window reaching further back would read nothing there and say
// nothing happened, so it is refused.
const Retention = 30 * 24 * time.Hour

// Review is one review of every sandbox of a project over [From, To].
type Review struct {
	Project string    `json:"project"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	// Sandboxes are in the order coopguard lists them (the configured one
	// first).
	Sandboxes []Sandbox `json:"sandboxes"`
	// Drift are the posture checks that did not pass (project-wide).
	Drift []Drift `json:"drift"`
	// Notes say what the review could not see (a read budget used up, a
	// failed read): an empty list is not proof of no activity then.
	Notes []string `json:"notes,omitempty"`
}

// Sandbox is one sandbox's week.
type Sandbox struct {
	Name string `json:"name"`
	// Account is the sandbox's service account, whose calls are listed.
	Account string `json:"account"`
	// Methods are the account's audited calls by method, new ones first.
	Methods []Method `json:"methods"`
	// CallsTruncated says the read bound was reached: counts are a floor.
	CallsTruncated bool `json:"callsTruncated,omitempty"`
	// SecretReads are the reads of the sandbox's managed secrets, by
	// principal (the sandbox's own account among them).
	SecretReads []Reader `json:"secretReads"`
	// Destinations are where the VM connected to through Cloud NAT, new
	// ones first; NATNote says why there may be none.
	Destinations []Destination `json:"destinations"`
	NATNote      string        `json:"natNote,omitempty"`
	// Incidents are the incidents opened on the sandbox in the window.
	Incidents []Incident `json:"incidents"`
	// Keys are the sandbox's managed secrets' versions that are not
	// destroyed, with their ages.
	Keys []Key `json:"keys"`
	// FirstReview is set when no earlier review recorded what the sandbox
	// did: nothing is marked new then.
	FirstReview bool `json:"firstReview,omitempty"`
}

// Method is one method's calls by the sandbox's account.
type Method struct {
	Name    string `json:"name"`
	Allowed int    `json:"allowed"`
	Denied  int    `json:"denied"`
	// New is set for a method no earlier review saw.
	New bool `json:"new,omitempty"`
}

// Reader is one principal's reads of the sandbox's secrets.
type Reader struct {
	Principal string   `json:"principal"`
	Reads     int      `json:"reads"`
	Denied    int      `json:"denied"`
	Secrets   []string `json:"secrets"`
	// Own is set for the sandbox's own account.
	Own bool `json:"own,omitempty"`
}

// Destination is one "ip:port/protocol" the VM connected to.
type Destination struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	New   bool   `json:"new,omitempty"`
}

// Incident is how one incident opened in the window ended.
type Incident struct {
	ID         string    `json:"id"`
	Playbook   string    `json:"playbook"`
	Trigger    string    `json:"trigger"`
	Outcome    string    `json:"outcome"`
	ReceivedAt time.Time `json:"receivedAt"`
	// Ended says how it ended in words: resolved by whom, resumed,
	// still open.
	Ended string `json:"ended"`
}

// Key is one version of a managed secret.
type Key struct {
	Secret    string    `json:"secret"`
	Version   string    `json:"version"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"createdAt"`
	Age       string    `json:"age"`
	// Due says the rotation policy finds the secret due.
	Due string `json:"due,omitempty"`
}

// Drift is one posture check that did not pass.
type Drift struct {
	Check    string `json:"check"`
	Status   string `json:"status"`
	Evidence string `json:"evidence"`
	Fix      string `json:"fix,omitempty"`
}

// Counts are one sandbox's (or the whole review's) week in numbers: all
// coopguard computed, nothing the sandbox wrote.
type Counts struct {
	Calls, Denied, NewMethods, NewDestinations, Incidents, Open int
}

// Counts counts the sandbox's week.
func (s *Sandbox) Counts() Counts {
	var c Counts
	for _, m := range s.Methods {
		c.Calls += m.Allowed + m.Denied
		c.Denied += m.Denied
		if m.New {
			c.NewMethods++
		}
	}
	for _, d := range s.Destinations {
		if d.New {
			c.NewDestinations++
		}
	}
	for _, i := range s.Incidents {
		c.Incidents++
		if i.Ended == EndedOpen {
			c.Open++
		}
	}
	return c
}

// Counts adds up every sandbox's counts.
func (r *Review) Counts() Counts {
	var t Counts
	for i := range r.Sandboxes {
		c := r.Sandboxes[i].Counts()
		t.Calls += c.Calls
		t.Denied += c.Denied
		t.NewMethods += c.NewMethods
		t.NewDestinations += c.NewDestinations
		t.Incidents += c.Incidents
		t.Open += c.Open
	}
	return t
}

// Summary is the review in one short paragraph: what the notification
// says, with the command to read the rest.
func (r *Review) Summary() string {
	c := r.Counts()
	return fmt.Sprintf("coopguard weekly review of %s (%s → %s): %d sandbox(es), %d audited calls (%d denied), %d new method(s), %d new destination(s), %d incident(s) (%d still open), %d posture check(s) not passing. Read it: coopguard review --since %s",
		r.Project, r.From.UTC().Format("2006-01-02"), r.To.UTC().Format("2006-01-02"), len(r.Sandboxes), c.Calls, c.Denied, c.NewMethods, c.NewDestinations, c.Incidents, c.Open, len(r.Drift), Days(r.To.Sub(r.From)))
}

// EndedOpen is Incident.Ended of an incident not closed yet.
const EndedOpen = "still open"

// Days renders a window as the --since flag takes it: "7d".
func Days(d time.Duration) string {
	days := int((d + 12*time.Hour) / (24 * time.Hour))
	if days < 1 {
		return d.Round(time.Hour).String()
	}
	return strconv.Itoa(days) + "d"
}
