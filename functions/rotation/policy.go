// Package rotation is coopguard's key rotation for the managed secrets: a
// pure policy (versions + now + config → Plan), an executor that carries a
// Plan out on Secret Manager, and the KeySource that mints new keys.
//
// The policy, per managed secret:
//   - superseded versions: once a newer ENABLED version has been around for
//     longer than Grace, every older ENABLED version is disabled;
//   - due rotation: when the newest ENABLED version is older than MaxAge the
//     secret is due, and with a KeySource a new version is added;
//   - destruction (off unless DestroyAfter > 0): a DISABLED version is
//     destroyed DestroyAfter after coopguard would have disabled it, keeping
//     the KeepDisabled newest disabled versions;
//   - a secret is never left without an ENABLED version, and a secret whose
//     versions are all disabled (a containment did that) gets no new key by
//     itself: a person adds one once the incident is resolved.
package rotation

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cloudcoop/coopguard/shared/config"
)

// Version states, as Secret Manager spells them.
const (
	StateEnabled   = "ENABLED"
	StateDisabled  = "DISABLED"
	StateDestroyed = "DESTROYED"
)

// Version is what the policy needs of a secret version: its listing entry,
// never its payload.
type Version struct {
	// Name is the full resource name, projects/P/secrets/S/versions/N.
	Name string
	// Number is N of the name (0 if the name has no number).
	Number int64
	// State is ENABLED, DISABLED or DESTROYED.
	State string
	// CreateTime is when the version was added.
	CreateTime time.Time
	// Etag guards the executor's disable and destroy against a concurrent change.
	Etag string
	// ScheduledDestroy is set when the version is already scheduled for
	// destruction (the secret has a version_destroy_ttl).
	ScheduledDestroy time.Time
}

// Age is how old v is at now (negative for a create time in the future).
func (v Version) Age(now time.Time) time.Duration { return now.Sub(v.CreateTime) }

// VersionNumber parses N out of a version name; 0 when there is none.
func VersionNumber(name string) int64 {
	n, err := strconv.ParseInt(name[strings.LastIndex(name, "/")+1:], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Policy is the [coopguard.rotation] table in the form the policy uses.
type Policy struct {
	// MaxAge is the oldest the newest ENABLED version may get before the
	// secret is due for rotation.
	MaxAge time.Duration
	// Grace is how long a new version must have existed before the
	// versions it supersedes are disabled, so that consumers can pick it up.
	Grace time.Duration
	// KeepDisabled is how many of the newest DISABLED versions are never
	// destroyed.
	KeepDisabled int
	// DestroyAfter destroys a DISABLED version that long after coopguard
	// would have disabled it; zero never destroys anything.
	DestroyAfter time.Duration
	// KeySource says that a key source is configured, so a due secret gets
	// a new version rather than only a report.
	KeySource bool
}

// PolicyFrom builds the Policy of a validated config.
func PolicyFrom(r config.Rotation) Policy {
	return Policy{
		MaxAge:       r.MaxAge.Duration,
		Grace:        r.Grace.Duration,
		KeepDisabled: r.KeepDisabled,
		DestroyAfter: r.DestroyAfter.Duration,
		KeySource:    r.KeySourceURL != "",
	}
}

// Plan is what the policy decided for one secret at one moment. It is data
// only: the executor carries it out, dry-run reports it.
type Plan struct {
	// Versions are the secret's versions, newest first.
	Versions []Version
	// NewestEnabled is the index in Versions of the newest ENABLED version,
	// -1 when there is none.
	NewestEnabled int
	// Disable lists the superseded ENABLED versions to disable.
	Disable []Version
	// Destroy lists the DISABLED (or now disabled) versions to destroy.
	Destroy []Version
	// Due reports that the secret needs a new key; DueReason says why.
	Due       bool
	DueReason string
	// AddVersion asks for a new version from the key source.
	AddVersion bool
	// NotAdded says why a due secret gets no new version (no key source,
	// or every version is disabled); empty when AddVersion or not Due.
	NotAdded string
	// NextRotation is when the newest ENABLED version reaches MaxAge; zero
	// when there is no ENABLED version.
	NextRotation time.Time
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool {
	return len(p.Disable) == 0 && len(p.Destroy) == 0 && !p.AddVersion
}

// SortNewestFirst orders versions newest first, as Secret Manager lists
// them: by create time, then by number for versions created together.
func SortNewestFirst(vs []Version) {
	sort.SliceStable(vs, func(i, j int) bool {
		if !vs[i].CreateTime.Equal(vs[j].CreateTime) {
			return vs[i].CreateTime.After(vs[j].CreateTime)
		}
		return vs[i].Number > vs[j].Number
	})
}

// Decide applies the policy to a secret's versions at now. It does no I/O
// and does not modify versions.
func Decide(versions []Version, now time.Time, p Policy) Plan {
	vs := append([]Version(nil), versions...)
	SortNewestFirst(vs)
	plan := Plan{Versions: vs, NewestEnabled: -1}

	settled := -1 // the newest ENABLED version older than Grace
	live := 0     // versions that are not DESTROYED
	for i, v := range vs {
		if v.State != StateDestroyed {
			live++
		}
		if v.State != StateEnabled {
			continue
		}
		if plan.NewestEnabled < 0 {
			plan.NewestEnabled = i
		}
		if settled < 0 && v.Age(now) >= p.Grace {
			settled = i
			continue
		}
		// Everything older than the settled version is superseded. The
		// settled version itself is never in this list, so an ENABLED
		// version always survives.
		if settled >= 0 {
			plan.Disable = append(plan.Disable, v)
		}
	}

	if plan.NewestEnabled < 0 {
		plan.Due = true
		if live == 0 {
			plan.DueReason = "the secret has no version"
			plan.AddVersion = p.KeySource
			if !p.KeySource {
				plan.NotAdded = "no key source configured: add the first version by hand"
			}
			return plan
		}
		// Every version is disabled: that is what a containment does, and
		// minting a key now would hand a fresh one to whoever caused it.
		// Nothing is destroyed either: the disabled versions are the only
		// way back.
		plan.DueReason = "no ENABLED version: every version is disabled"
		plan.NotAdded = "every version is disabled (containment?): add a new version by hand once the incident is resolved"
		return plan
	}

	newest := vs[plan.NewestEnabled]
	plan.NextRotation = newest.CreateTime.Add(p.MaxAge)
	if age := newest.Age(now); age >= p.MaxAge {
		plan.Due = true
		plan.DueReason = fmt.Sprintf("the newest ENABLED version %d is %s old, max_age is %s", newest.Number, FormatAge(age), FormatAge(p.MaxAge))
		plan.AddVersion = p.KeySource
		if !p.KeySource {
			plan.NotAdded = "no key source configured: add a new version by hand, or set coopguard.rotation.key_source_url"
		}
	}
	plan.Destroy = destroyable(vs, plan.Disable, now, p)
	return plan
}

// Renew turns p into the runbook's rotation before resuming: whatever the
// versions' ages and the policy, the secret ends with one ENABLED version
// created after since (added from the key source unless one exists, e.g.
// added by hand), and every other ENABLED version is disabled at once,
// without Grace. Nothing is destroyed. Without a key source and without a
// fresh version nothing changes and NotAdded says why. It does no I/O.
func Renew(p Plan, since time.Time, keySource bool) Plan {
	out := Plan{Versions: p.Versions, NewestEnabled: p.NewestEnabled, NextRotation: p.NextRotation}
	fresh := false
	for _, v := range p.Versions { // newest first
		if v.State != StateEnabled {
			continue
		}
		if !fresh && v.CreateTime.After(since) {
			fresh = true
			continue
		}
		out.Disable = append(out.Disable, v)
	}
	if fresh {
		return out
	}
	out.Due, out.DueReason = true, "no version added since "+since.UTC().Format(time.RFC3339)+": every credential is rotated before resuming"
	if !keySource {
		out.Disable = nil
		out.NotAdded = "no key source configured: add a new version by hand (gcloud secrets versions add), or set coopguard.rotation.key_source_url"
		return out
	}
	out.AddVersion = true
	return out
}

// destroyable picks the versions to destroy, judged on the state the plan
// leaves (so one run converges and the next finds nothing to do).
//
// Secret Manager does not record when a version was disabled, so the policy
// estimates it: a version is superseded when the next newer version was
// created, and coopguard disables it Grace after that. It is destroyed
// DestroyAfter later. The KeepDisabled newest disabled versions are kept,
// and so is the newest version of all (nothing superseded it).
func destroyable(vs []Version, disabling []Version, now time.Time, p Policy) []Version {
	if p.DestroyAfter <= 0 {
		return nil
	}
	willDisable := make(map[string]bool, len(disabling))
	for _, v := range disabling {
		willDisable[v.Name] = true
	}
	var out []Version
	kept := 0
	for i, v := range vs {
		disabled := (v.State == StateDisabled || willDisable[v.Name]) && v.ScheduledDestroy.IsZero()
		if !disabled {
			continue
		}
		if kept < p.KeepDisabled || i == 0 {
			kept++
			continue
		}
		if supersededAt := vs[i-1].CreateTime; now.Sub(supersededAt) >= p.Grace+p.DestroyAfter {
			out = append(out, v)
		}
	}
	return out
}

// FormatAge renders a duration compactly for tables and messages: "91d3h",
// "5h12m", "40s".
func FormatAge(d time.Duration) string {
	neg := d < 0
	if neg {
		d = -d
	}
	var s string
	switch days := int64(d / (24 * time.Hour)); {
	case days > 0:
		s = fmt.Sprintf("%dd", days)
		if h := int64(d%(24*time.Hour)) / int64(time.Hour); h > 0 {
			s += fmt.Sprintf("%dh", h)
		}
	case d >= time.Hour:
		s = fmt.Sprintf("%dh", int64(d/time.Hour))
		if m := int64(d%time.Hour) / int64(time.Minute); m > 0 {
			s += fmt.Sprintf("%dm", m)
		}
	case d >= time.Minute:
		s = fmt.Sprintf("%dm", int64(d/time.Minute))
	default:
		s = fmt.Sprintf("%ds", int64(d/time.Second))
	}
	if neg {
		return "-" + s
	}
	return s
}
