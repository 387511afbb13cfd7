package anthropic

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestUsageReport pins FIDELITY.md's usage report rows: buckets snapped to
// the width in UTC, grouped by api_key_id (null when not grouped), limits
// per width, pages by next_page, bad parameters 400.
func TestUsageReport(t *testing.T) {
	o := newOrg(t) // now: 2026-12-02T07:00Z
	sandbox, _ := o.srv.CreateKey("sandbox", "wrkspc_sandbox")
	other, _ := o.srv.CreateKey("other", "")
	at := time.Date(2026, 12, 2, 5, 10, 0, 0, time.UTC)
	o.srv.RecordUsage(Usage{KeyID: sandbox, At: at, Model: "claude-sonnet-4-5", UncachedInput: 1000, Output: 200, CostCents: 30})
	o.srv.RecordUsage(Usage{KeyID: sandbox, At: at.Add(20 * time.Minute), Model: "claude-sonnet-4-5", UncachedInput: 500, CacheRead: 7, Output: 100, CostCents: 15})
	o.srv.RecordUsage(Usage{KeyID: other, At: at, Model: "claude-haiku-4-5", UncachedInput: 3, Output: 4, CostCents: 1})
	get := func(t *testing.T, path string, q url.Values) (int, []byte) {
		t.Helper()
		code, _, b := o.call(t, http.MethodGet, path+"?"+q.Encode(), "", o.admin, true)
		return code, b
	}
	t.Run("hourly by key", func(t *testing.T) {
		code, b := get(t, usagePath, url.Values{"starting_at": {"2026-12-02T04:30:00Z"}, "bucket_width": {"1h"}, "group_by[]": {"api_key_id"}})
		if code != 200 {
			t.Fatalf("status %d: %s", code, b)
		}
		var rep Report[UsageResult]
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		// 04:00 (snapped), 05:00, 06:00; 07:00 starts at now, not before it.
		if len(rep.Data) != 3 || rep.Data[0].StartingAt != "2026-12-02T04:00:00Z" || rep.Data[1].EndingAt != "2026-12-02T06:00:00Z" || rep.HasMore {
			t.Fatalf("buckets = %+v", rep)
		}
		res := rep.Data[1].Results
		if len(res) != 2 {
			t.Fatalf("05:00 results = %+v, want one per key", res)
		}
		for _, r := range res {
			if r.APIKeyID == nil || r.Model != nil || r.WorkspaceID != nil {
				t.Errorf("grouping fields = %+v, want api_key_id only", r)
			}
			if *r.APIKeyID == sandbox && (r.UncachedInputTokens != 1500 || r.OutputTokens != 300 || r.CacheReadInputTokens != 7) {
				t.Errorf("sandbox key sums = %+v", r)
			}
		}
		if len(rep.Data[0].Results) != 0 || rep.Data[0].Results == nil {
			t.Errorf("empty bucket results = %#v, want []", rep.Data[0].Results)
		}
	})
	t.Run("filtered by key, paged", func(t *testing.T) {
		q := url.Values{"starting_at": {"2026-12-02T00:00:00Z"}, "bucket_width": {"1h"}, "limit": {"5"}, "api_key_ids[]": {other}}
		code, b := get(t, usagePath, q)
		var rep Report[UsageResult]
		if err := json.Unmarshal(b, &rep); code != 200 || err != nil {
			t.Fatalf("status %d: %s", code, b)
		}
		if len(rep.Data) != 5 || !rep.HasMore || rep.NextPage == nil {
			t.Fatalf("first page = %d buckets, has_more %v", len(rep.Data), rep.HasMore)
		}
		q.Set("page", *rep.NextPage)
		_, b = get(t, usagePath, q)
		rep = Report[UsageResult]{}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Data) != 2 || rep.HasMore || rep.NextPage != nil || len(rep.Data[0].Results) != 1 || rep.Data[0].Results[0].OutputTokens != 4 {
			t.Fatalf("second page = %s", b)
		}
	})
	bad := []struct {
		name string
		path string
		q    url.Values
	}{
		{"no starting_at", usagePath, url.Values{}},
		{"bad width", usagePath, url.Values{"starting_at": {"2026-12-01T00:00:00Z"}, "bucket_width": {"2h"}}},
		{"limit above the hourly max", usagePath, url.Values{"starting_at": {"2026-12-01T00:00:00Z"}, "bucket_width": {"1h"}, "limit": {"169"}}},
		{"unknown group", usagePath, url.Values{"starting_at": {"2026-12-01T00:00:00Z"}, "group_by[]": {"colour"}}},
		{"cost report is daily only", costPath, url.Values{"starting_at": {"2026-12-01T00:00:00Z"}, "bucket_width": {"1h"}}},
		{"cost report cannot group by key", costPath, url.Values{"starting_at": {"2026-12-01T00:00:00Z"}, "group_by[]": {"api_key_id"}}},
		{"bad page", usagePath, url.Values{"starting_at": {"2026-12-01T00:00:00Z"}, "page": {"page_nope"}}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			code, b := get(t, tt.path, tt.q)
			if code != 400 || errorType(t, b) != "invalid_request_error" {
				t.Errorf("status %d: %s, want 400 invalid_request_error", code, b)
			}
		})
	}
}

// TestCostReport pins the cost report rows: daily buckets, amounts in
// cents as decimal strings, USD, grouped by workspace_id.
func TestCostReport(t *testing.T) {
	o := newOrg(t)
	sandbox, _ := o.srv.CreateKey("sandbox", "wrkspc_sandbox")
	other, _ := o.srv.CreateKey("other", "")
	at := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	o.srv.RecordUsage(Usage{KeyID: sandbox, At: at, Model: "m", CostCents: 123.45})
	o.srv.RecordUsage(Usage{KeyID: sandbox, At: at.Add(time.Hour), Model: "m", CostCents: 100})
	o.srv.RecordUsage(Usage{KeyID: other, At: at, Model: "m", CostCents: 1})
	code, _, b := o.call(t, http.MethodGet, costPath+"?starting_at=2026-12-01T00:00:00Z&group_by[]=workspace_id", "", o.admin, true)
	var rep Report[CostResult]
	if err := json.Unmarshal(b, &rep); code != 200 || err != nil {
		t.Fatalf("status %d: %s", code, b)
	}
	if len(rep.Data) != 2 || rep.Data[0].EndingAt != "2026-12-02T00:00:00Z" {
		t.Fatalf("buckets = %s", b)
	}
	got := map[string]string{}
	for _, r := range rep.Data[0].Results {
		ws := "default"
		if r.WorkspaceID != nil {
			ws = *r.WorkspaceID
		}
		if r.Currency != "USD" || r.Description != nil {
			t.Errorf("result = %+v", r)
		}
		got[ws] = r.Amount
	}
	if got["wrkspc_sandbox"] != "223.45" || got["default"] != "1" {
		t.Errorf("amounts = %v, want wrkspc_sandbox 223.45 and default 1", got)
	}
	if code, _, _ := o.call(t, http.MethodGet, costPath+"?starting_at=2026-12-01T00:00:00Z", "", "", true); code != 401 {
		t.Errorf("without the admin key: %d, want 401", code)
	}
}
