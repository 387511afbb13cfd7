// Package costs decides what a sandbox's spend means, without I/O: a
// Cloud Billing budget notification past a threshold notifies and past
// the cap quarantines (Budget); the model provider's usage report, per
// API key, shows a sandbox's key used while its VM is off (the key is
// used elsewhere: contain, which revokes it) or spend per hour or per
// day above the limit (quarantine, naming the figure) (Watch). Handlers
// in package functions read the inputs and run the incidents.
package costs

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/cloudcoop/coopguard/functions/revoke"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// The triggers (rule names) of cost incidents, as detection names its
// rules.
const (
	RuleBudgetThreshold = "budget-threshold-passed"
	RuleBudgetCap       = "budget-cap-passed"
	RuleKeyElsewhere    = "model-key-used-while-vm-off"
	RuleSpendHour       = "model-spend-per-hour"
	RuleSpendDay        = "model-spend-per-day"
)

// BudgetVerdict is what a budget notification means for its sandbox.
type BudgetVerdict struct {
	// Playbook is quarantine past the cap, notify past a threshold, ""
	// below every threshold (nothing to do).
	Playbook string
	// Trigger is the rule name; Percent the cost as a percent of the
	// budget; Threshold the percent passed (the cap's, or the highest
	// notify percent).
	Trigger   string
	Percent   float64
	Threshold float64
}

// Budget judges n against [coopguard.budget]: the percent is computed
// from the notification's own cost and budget amounts (the thresholds in
// the budget are coopguard's, but the message decides nothing it does not
// state).
func Budget(n events.BudgetNotification, b config.Budget) BudgetVerdict {
	if n.BudgetAmount <= 0 {
		return BudgetVerdict{}
	}
	v := BudgetVerdict{Percent: n.CostAmount / n.BudgetAmount * 100}
	if b.CapPercent > 0 && v.Percent >= b.CapPercent {
		v.Playbook, v.Trigger, v.Threshold = incident.PlaybookQuarantine, RuleBudgetCap, b.CapPercent
		return v
	}
	for _, p := range b.NotifyPercents {
		if v.Percent >= p && p > v.Threshold {
			v.Playbook, v.Trigger, v.Threshold = incident.PlaybookNotify, RuleBudgetThreshold, p
		}
	}
	return v
}

// Price is what one usage result cost in USD at b's prices: cache writes
// at 1.25x the input price (2x for the one-hour cache), cache reads at
// 0.1x (https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching#pricing).
func Price(r revoke.UsageResult, b config.Budget) float64 {
	in, out := b.InputUSDPerMTok/1e6, b.OutputUSDPerMTok/1e6
	return float64(r.UncachedInputTokens)*in + float64(r.CacheCreation5m)*in*1.25 + float64(r.CacheCreation1h)*in*2 +
		float64(r.CacheReadTokens)*in*0.1 + float64(r.OutputTokens)*out
}

// Sandbox is one sandbox as the watch sees it.
type Sandbox struct {
	Name       string
	InstanceID string
	// Keys are the provider key ids recorded for its managed secrets'
	// versions (rotation records them).
	Keys []string
	// OffSince is when the sandbox stopped being able to use its key
	// itself: its VM's last stop when the VM is not RUNNING, or its
	// quarantine's start; zero while it runs freely.
	OffSince time.Time
}

// Grace is how long after OffSince a request may still be counted: one
// in flight when the VM stopped, and the minute bucket it falls in.
const Grace = 2 * time.Minute

// Finding is one cost incident the watch found.
type Finding struct {
	Sandbox  Sandbox
	Trigger  string
	Playbook string
	// ID is stable for the same finding, so the next watch's reading of
	// the same usage appends nothing new.
	ID      string
	Summary string
}

// WatchResult is what one look at the usage report found.
type WatchResult struct {
	Findings []Finding
	// Unmanaged are the key ids in the report that no sandbox's managed
	// secret records: not coopguard's, ignored.
	Unmanaged []string
}

// Watch reads the usage report: minutes are the recent 1-minute buckets
// (use while off), hours the last day's 1-hour buckets (spend). b's
// limits of 0 are off.
func Watch(sandboxes []Sandbox, minutes, hours []revoke.UsageBucket, b config.Budget, now time.Time) WatchResult {
	owner := map[string]int{}
	for i, s := range sandboxes {
		for _, k := range s.Keys {
			owner[k] = i
		}
	}
	var res WatchResult
	unmanaged := map[string]bool{}
	note := func(key string) (int, bool) {
		i, ok := owner[key]
		if !ok && key != "" {
			unmanaged[key] = true
		}
		return i, ok
	}
	// Use while off: the first minute after OffSince+Grace with any use
	// of one of the sandbox's keys.
	elsewhere := map[int]bool{}
	for _, bk := range minutes {
		for _, r := range bk.Results {
			i, ok := note(r.APIKeyID)
			if !ok || elsewhere[i] || tokens(r) == 0 {
				continue
			}
			s := sandboxes[i]
			if s.OffSince.IsZero() || bk.Start.Before(s.OffSince.Add(Grace)) {
				continue
			}
			elsewhere[i] = true
			res.Findings = append(res.Findings, Finding{
				Sandbox: s, Trigger: RuleKeyElsewhere, Playbook: incident.PlaybookContain,
				ID: fmt.Sprintf("cost-%s-key-elsewhere-%d", s.Name, s.OffSince.Unix()),
				Summary: fmt.Sprintf("sandbox %s's API key %s was used at %s, after its VM stopped at %s: the key is used elsewhere",
					s.Name, r.APIKeyID, bk.Start.UTC().Format(time.RFC3339), s.OffSince.UTC().Format(time.RFC3339)),
			})
		}
	}
	// Spend: per hour bucket, and over the last 24 hours.
	perHour := map[int]map[time.Time]float64{}
	for _, bk := range hours {
		for _, r := range bk.Results {
			i, ok := note(r.APIKeyID)
			if !ok {
				continue
			}
			if perHour[i] == nil {
				perHour[i] = map[time.Time]float64{}
			}
			perHour[i][bk.Start] += Price(r, b)
		}
	}
	idx := make([]int, 0, len(perHour))
	for i := range perHour {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	dayStart := now.Add(-24 * time.Hour)
	for _, i := range idx {
		s := sandboxes[i]
		var day float64
		var worst time.Time
		starts := make([]time.Time, 0, len(perHour[i]))
		for h := range perHour[i] {
			starts = append(starts, h)
		}
		slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
		for _, h := range starts {
			usd := perHour[i][h]
			if !h.Before(dayStart.Truncate(time.Hour)) {
				day += usd
			}
			if b.ModelUSDPerHour > 0 && usd > b.ModelUSDPerHour && worst.IsZero() {
				worst = h
			}
		}
		if !worst.IsZero() {
			res.Findings = append(res.Findings, Finding{
				Sandbox: s, Trigger: RuleSpendHour, Playbook: incident.PlaybookQuarantine,
				ID: fmt.Sprintf("cost-%s-hour-%s", s.Name, worst.UTC().Format("20060102t15")),
				Summary: fmt.Sprintf("sandbox %s spent %s on the model in the hour from %s, above its limit of %s per hour",
					s.Name, usd(perHour[i][worst]), worst.UTC().Format(time.RFC3339), usd(b.ModelUSDPerHour)),
			})
			continue
		}
		if b.ModelUSDPerDay > 0 && day > b.ModelUSDPerDay {
			res.Findings = append(res.Findings, Finding{
				Sandbox: s, Trigger: RuleSpendDay, Playbook: incident.PlaybookQuarantine,
				ID: fmt.Sprintf("cost-%s-day-%s", s.Name, now.UTC().Format("20060102")),
				Summary: fmt.Sprintf("sandbox %s spent %s on the model in the 24 hours to %s, above its limit of %s per day",
					s.Name, usd(day), now.UTC().Format(time.RFC3339), usd(b.ModelUSDPerDay)),
			})
		}
	}
	for k := range unmanaged {
		res.Unmanaged = append(res.Unmanaged, k)
	}
	sort.Strings(res.Unmanaged)
	return res
}

func tokens(r revoke.UsageResult) int64 {
	return r.UncachedInputTokens + r.CacheCreation5m + r.CacheCreation1h + r.CacheReadTokens + r.OutputTokens
}

// usd formats an amount as "$12.34".
func usd(v float64) string { return fmt.Sprintf("$%.2f", v) }
