package costs

import (
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions/revoke"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
)

func TestBudget(t *testing.T) {
	b := config.Budget{NotifyPercents: []float64{50, 90, 100}, CapPercent: 150}
	tests := []struct {
		name         string
		cost, amount float64
		cap          float64
		playbook     string
		threshold    float64
	}{
		{"under every threshold", 40, 100, 150, "", 0},
		{"past 90", 95, 100, 150, incident.PlaybookNotify, 90},
		{"past 100, under the cap", 120, 100, 150, incident.PlaybookNotify, 100},
		{"at the cap", 150, 100, 150, incident.PlaybookQuarantine, 150},
		{"no cap set", 900, 100, 0, incident.PlaybookNotify, 100},
		{"no budget amount", 10, 0, 150, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.CapPercent = tt.cap
			v := Budget(events.BudgetNotification{CostAmount: tt.cost, BudgetAmount: tt.amount}, b)
			if v.Playbook != tt.playbook || v.Threshold != tt.threshold {
				t.Errorf("verdict = %+v, want %q at %v", v, tt.playbook, tt.threshold)
			}
		})
	}
}

func TestPrice(t *testing.T) {
	b := config.Budget{InputUSDPerMTok: 3, OutputUSDPerMTok: 15}
	got := Price(revoke.UsageResult{UncachedInputTokens: 1e6, OutputTokens: 1e6, CacheReadTokens: 1e6, CacheCreation5m: 1e6, CacheCreation1h: 1e6}, b)
	if want := 3 + 15 + 0.3 + 3.75 + 6.0; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("Price = %v, want %v", got, want)
	}
}

func TestWatch(t *testing.T) {
	now := time.Date(2026, 12, 6, 14, 30, 0, 0, time.UTC)
	stopped := now.Add(-20 * time.Minute)
	b := config.Budget{InputUSDPerMTok: 3, OutputUSDPerMTok: 15, ModelUSDPerHour: 5, ModelUSDPerDay: 20}
	minute := func(at time.Time, key string, out int64) revoke.UsageBucket {
		return revoke.UsageBucket{Start: at, End: at.Add(time.Minute), Results: []revoke.UsageResult{{APIKeyID: key, OutputTokens: out}}}
	}
	hour := func(at time.Time, key string, usd float64) revoke.UsageBucket {
		// output tokens at $15 per million
		return revoke.UsageBucket{Start: at, End: at.Add(time.Hour), Results: []revoke.UsageResult{{APIKeyID: key, OutputTokens: int64(usd / 15 * 1e6)}}}
	}
	running := Sandbox{Name: "a", InstanceID: "1", Keys: []string{"apikey_a"}}
	off := Sandbox{Name: "b", InstanceID: "2", Keys: []string{"apikey_b"}, OffSince: stopped}
	tests := []struct {
		name      string
		minutes   []revoke.UsageBucket
		hours     []revoke.UsageBucket
		want      []string // triggers
		unmanaged int
		figure    string
	}{
		{"benign: spend under the limits", nil, []revoke.UsageBucket{hour(now.Truncate(time.Hour), "apikey_a", 4)}, nil, 0, ""},
		{"hourly spike", nil, []revoke.UsageBucket{hour(now.Truncate(time.Hour), "apikey_a", 7.5)}, []string{RuleSpendHour}, 0, "$7.50"},
		{"a day above the limit", nil, []revoke.UsageBucket{
			hour(now.Truncate(time.Hour).Add(-5*time.Hour), "apikey_a", 4.9), hour(now.Truncate(time.Hour).Add(-4*time.Hour), "apikey_a", 4.9),
			hour(now.Truncate(time.Hour).Add(-3*time.Hour), "apikey_a", 4.9), hour(now.Truncate(time.Hour).Add(-2*time.Hour), "apikey_a", 4.9),
			hour(now.Truncate(time.Hour).Add(-1*time.Hour), "apikey_a", 4.9)}, []string{RuleSpendDay}, 0, "$24.50"},
		{"key used while the VM is stopped", []revoke.UsageBucket{minute(stopped.Add(10*time.Minute), "apikey_b", 100)}, nil, []string{RuleKeyElsewhere}, 0, ""},
		{"use within the grace of the stop", []revoke.UsageBucket{minute(stopped.Add(time.Minute), "apikey_b", 100)}, nil, nil, 0, ""},
		{"use by the running sandbox", []revoke.UsageBucket{minute(now.Add(-time.Minute), "apikey_a", 100)}, nil, nil, 0, ""},
		{"keys coopguard does not manage are ignored", []revoke.UsageBucket{minute(now.Add(-time.Minute), "apikey_other", 100)},
			[]revoke.UsageBucket{hour(now.Truncate(time.Hour), "apikey_other", 500)}, nil, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Watch([]Sandbox{running, off}, tt.minutes, tt.hours, b, now)
			var got []string
			for _, f := range res.Findings {
				got = append(got, f.Trigger)
				if tt.figure != "" && !strings.Contains(f.Summary, tt.figure) {
					t.Errorf("summary %q does not name the figure %s", f.Summary, tt.figure)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") || len(res.Unmanaged) != tt.unmanaged {
				t.Errorf("findings = %v, unmanaged %v; want %v, %d", got, res.Unmanaged, tt.want, tt.unmanaged)
			}
			again := Watch([]Sandbox{running, off}, tt.minutes, tt.hours, b, now)
			for i := range again.Findings {
				if again.Findings[i].ID != res.Findings[i].ID {
					t.Errorf("finding ids differ between two reads of the same report: %s, %s", res.Findings[i].ID, again.Findings[i].ID)
				}
			}
		})
	}
}
