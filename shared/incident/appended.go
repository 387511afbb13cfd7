package incident

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// MaxAppendedKinds bounds the distinct methods and rules an Appended
// names: a storm of calls of ever-new methods costs a bounded document.
// Further kinds are counted under OtherKind.
const MaxAppendedKinds = 20

// OtherKind counts the events whose method or rule did not fit.
const OtherKind = "(other)"

// Appended summarises the later events about a sandbox whose incident was
// open: they are counted on it rather than answered as new incidents (no
// plan, no evidence read), so a stolen token making a thousand calls
// costs one line, not a thousand responses.
type Appended struct {
	// Count is how many events were appended (deliveries: Pub/Sub may
	// deliver one twice).
	Count int `json:"count" firestore:"count"`
	// FirstSeen and LastSeen are the earliest and latest event times.
	FirstSeen time.Time `json:"firstSeen" firestore:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen" firestore:"lastSeen"`
	// Methods and Rules count the events by API method and by the rule
	// that matched, at most MaxAppendedKinds names each.
	Methods map[string]int `json:"methods,omitempty" firestore:"methods"`
	Rules   map[string]int `json:"rules,omitempty" firestore:"rules"`
}

// Add counts one event at time at, of method, matched by rule.
func (a *Appended) Add(at time.Time, method, rule string) {
	a.Merge(&Appended{Count: 1, FirstSeen: at, LastSeen: at,
		Methods: map[string]int{cmp.Or(method, OtherKind): 1}, Rules: map[string]int{cmp.Or(rule, OtherKind): 1}})
}

// Merge adds b's events to a.
func (a *Appended) Merge(b *Appended) {
	if b == nil || b.Count == 0 {
		return
	}
	if a.Count == 0 || (!b.FirstSeen.IsZero() && b.FirstSeen.Before(a.FirstSeen)) || a.FirstSeen.IsZero() {
		a.FirstSeen = b.FirstSeen
	}
	if b.LastSeen.After(a.LastSeen) {
		a.LastSeen = b.LastSeen
	}
	a.Count += b.Count
	a.Methods = addKinds(a.Methods, b.Methods)
	a.Rules = addKinds(a.Rules, b.Rules)
}

// addKinds adds the counts of b to a, keeping at most MaxAppendedKinds
// names (OtherKind included) and counting the rest under OtherKind.
func addKinds(a, b map[string]int) map[string]int {
	if a == nil {
		a = map[string]int{}
	}
	for _, k := range slices.Sorted(maps.Keys(b)) {
		n := b[k]
		if _, ok := a[k]; !ok && len(a) >= MaxAppendedKinds-1 && k != OtherKind {
			k = OtherKind
		}
		a[k] += n
	}
	return a
}

// String is the one line a report shows: "1000 later events (first …,
// last …); methods: m (n), …".
func (a *Appended) String() string {
	if a == nil || a.Count == 0 {
		return ""
	}
	s := fmt.Sprintf("%d later events appended (first %s, last %s)", a.Count,
		a.FirstSeen.UTC().Format(time.RFC3339), a.LastSeen.UTC().Format(time.RFC3339))
	if m := kinds(a.Methods); m != "" {
		s += "; methods: " + m
	}
	if r := kinds(a.Rules); r != "" {
		s += "; rules: " + r
	}
	return s
}

// kinds lists m as "name (count)", most frequent first.
func kinds(m map[string]int) string {
	names := slices.Collect(maps.Keys(m))
	slices.SortFunc(names, func(x, y string) int { return cmp.Or(cmp.Compare(m[y], m[x]), strings.Compare(x, y)) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s (%d)", n, m[n])
	}
	return strings.Join(parts, ", ")
}
