package evidence

import (
	"cmp"
	"slices"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// AllMethods is every method the sandbox's account called, with its
// counts, most frequent first: the weekly review lists them all (what is
// new may be rare), where an incident's evidence keeps the TopN.
func (c *Collector) AllMethods() []incident.Count {
	out := make([]incident.Count, 0, len(c.methods))
	for _, m := range c.methods {
		out = append(out, *m)
	}
	return sortCounts(out)
}

// AllDestinations is every NAT destination of the VM with its count,
// most frequent first.
func (c *Collector) AllDestinations() []incident.Count {
	out := make([]incident.Count, 0, len(c.dests))
	for d, n := range c.dests {
		out = append(out, incident.Count{Name: d, Count: n})
	}
	return sortCounts(out)
}

// sortCounts orders counts as top does, without the bound.
func sortCounts(cs []incident.Count) []incident.Count {
	slices.SortFunc(cs, func(a, b incident.Count) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name))
	})
	return cs
}
