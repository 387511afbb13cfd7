package gcp

import "testing"

// TestDefaultLimitsFitQuotas: a full burst plus one minute of refill stays
// within each per-minute quota DefaultLimits claims to follow, so one
// client set alone never meets RESOURCE_EXHAUSTED.
func TestDefaultLimitsFitQuotas(t *testing.T) {
	tests := []struct {
		name      string
		q         Quota
		perMinute float64 // read quota per minute (public quota pages)
	}{
		// https://cloud.google.com/logging/quotas: entries.list, 60 per minute per project.
		{"logging entries.list", DefaultLimits.Logging, 60},
	}
	for _, tt := range tests {
		if worst := float64(tt.q.Burst) + tt.q.ReadPerSecond*60; worst > tt.perMinute {
			t.Errorf("%s: burst %d + %.1f/s for a minute = %.0f requests, quota %v", tt.name, tt.q.Burst, tt.q.ReadPerSecond, worst, tt.perMinute)
		}
	}
}
