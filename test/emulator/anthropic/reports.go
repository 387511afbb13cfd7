package anthropic

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Fault-injection and counting names of the report endpoints.
const (
	MethodUsageReport = "anthropic.usage_report.messages"
	MethodCostReport  = "anthropic.cost_report"
)

const (
	usagePath = "/v1/organizations/usage_report/messages"
	costPath  = "/v1/organizations/cost_report"
)

// Usage is one recorded use of the Messages API by a key: what the usage
// report sums per bucket and group, and the cost the cost report shows.
type Usage struct {
	// KeyID is the API key that made the requests; the key's workspace is
	// recorded with it.
	KeyID string
	// At is when the requests were made.
	At    time.Time
	Model string
	// Token counts, as the usage report names them.
	UncachedInput, CacheRead, CacheCreation5m, CacheCreation1h, Output int64
	// CostCents is what the usage cost, in cents (the cost report's unit).
	CostCents float64
}

// usageRecord is a Usage with the workspace its key was in.
type usageRecord struct {
	Usage
	workspace *string
}

// RecordUsage stands in for Messages API traffic: the reports show u from
// now on. A key that does not exist is reported with no workspace.
func (s *Server) RecordUsage(u Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := usageRecord{Usage: u}
	if k := s.find(u.KeyID); k != nil {
		r.workspace = k.WorkspaceID
	}
	s.usage = append(s.usage, r)
}

// bucket widths and their limits (default, max) per the reference.
var widths = map[string]struct {
	d          time.Duration
	def, limit int
}{
	"1d": {24 * time.Hour, 7, 31},
	"1h": {time.Hour, 24, 168},
	"1m": {time.Minute, 60, 1440},
}

// reportQuery is the parsed common part of both reports' queries.
type reportQuery struct {
	start, end time.Time
	width      time.Duration
	limit      int
	groupBy    []string
	keyIDs     []string
	workspaces []string
	models     []string
}

// multi returns a repeated parameter, sent as name[] (the reference's
// examples) or name.
func multi(q url.Values, name string) []string {
	return append(append([]string(nil), q[name+"[]"]...), q[name]...)
}

// parseReport reads the query of a report endpoint; allowedWidths and
// allowedGroups are the endpoint's.
func (s *Server) parseReport(q url.Values, allowedWidths, allowedGroups []string, defWidth string) (reportQuery, string) {
	var rq reportQuery
	st := q.Get("starting_at")
	if st == "" {
		return rq, "starting_at: field required"
	}
	t, err := time.Parse(time.RFC3339Nano, st)
	if err != nil {
		return rq, "starting_at: must be an RFC 3339 timestamp"
	}
	bw := q.Get("bucket_width")
	if bw == "" {
		bw = defWidth
	}
	if !slices.Contains(allowedWidths, bw) {
		return rq, "bucket_width: must be one of " + strings.Join(allowedWidths, ", ")
	}
	w := widths[bw]
	rq.width = w.d
	rq.start = t.UTC().Truncate(w.d)
	rq.limit = w.def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > w.limit {
			return rq, "limit: must be an integer from 1 to " + strconv.Itoa(w.limit) + " for bucket_width " + bw
		}
		rq.limit = n
	}
	rq.end = s.now().UTC()
	if et := q.Get("ending_at"); et != "" {
		e, err := time.Parse(time.RFC3339Nano, et)
		if err != nil {
			return rq, "ending_at: must be an RFC 3339 timestamp"
		}
		if !e.After(t) {
			return rq, "ending_at: must be after starting_at"
		}
		rq.end = e.UTC()
	}
	if p := q.Get("page"); p != "" {
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(p, "page_"))
		pt, err2 := time.Parse(time.RFC3339, string(raw))
		if !strings.HasPrefix(p, "page_") || err != nil || err2 != nil || pt.Before(rq.start) {
			return rq, "page: not a next_page token of this report"
		}
		rq.start = pt
	}
	rq.groupBy = multi(q, "group_by")
	for _, g := range rq.groupBy {
		if !slices.Contains(allowedGroups, g) {
			return rq, "group_by: must be a subset of " + strings.Join(allowedGroups, ", ")
		}
	}
	rq.keyIDs, rq.workspaces, rq.models = multi(q, "api_key_ids"), multi(q, "workspace_ids"), multi(q, "models")
	return rq, ""
}

// buckets returns the bucket starts of one page, and the next page's
// token ("" when this is the last page). Buckets end before the query's
// end; the bucket in progress is included, as the reference's "now"
// examples suggest, only when its start is before the end.
func (rq reportQuery) buckets() ([]time.Time, string) {
	var out []time.Time
	b := rq.start
	for ; b.Before(rq.end) && len(out) < rq.limit; b = b.Add(rq.width) {
		out = append(out, b)
	}
	if b.Before(rq.end) {
		return out, "page_" + base64.StdEncoding.EncodeToString([]byte(b.Format(time.RFC3339)))
	}
	return out, ""
}

// selected returns the records within [from, to) that the query's filters
// keep.
func (s *Server) selected(rq reportQuery, from, to time.Time) []usageRecord {
	var out []usageRecord
	for _, r := range s.usage {
		if r.At.Before(from) || !r.At.Before(to) {
			continue
		}
		if len(rq.keyIDs) > 0 && !slices.Contains(rq.keyIDs, r.KeyID) {
			continue
		}
		if len(rq.workspaces) > 0 && (r.workspace == nil || !slices.Contains(rq.workspaces, *r.workspace)) {
			continue
		}
		if len(rq.models) > 0 && !slices.Contains(rq.models, r.Model) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// UsageResult is one group of a usage report bucket. Fields not grouped by
// are null.
type UsageResult struct {
	UncachedInputTokens int64 `json:"uncached_input_tokens"`
	CacheCreation       struct {
		Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
		Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
	} `json:"cache_creation"`
	CacheReadInputTokens int64 `json:"cache_read_input_tokens"`
	OutputTokens         int64 `json:"output_tokens"`
	ServerToolUse        struct {
		WebSearchRequests int64 `json:"web_search_requests"`
	} `json:"server_tool_use"`
	APIKeyID      *string `json:"api_key_id"`
	WorkspaceID   *string `json:"workspace_id"`
	Model         *string `json:"model"`
	ServiceTier   *string `json:"service_tier"`
	ContextWindow *string `json:"context_window"`
}

// CostResult is one group of a cost report bucket.
type CostResult struct {
	Currency    string  `json:"currency"`
	Amount      string  `json:"amount"`
	WorkspaceID *string `json:"workspace_id"`
	Description *string `json:"description"`
	CostType    *string `json:"cost_type"`
	Model       *string `json:"model"`
	TokenType   *string `json:"token_type"`
}

// Bucket is one time bucket of a report.
type Bucket[R any] struct {
	StartingAt string `json:"starting_at"`
	EndingAt   string `json:"ending_at"`
	Results    []R    `json:"results"`
}

// Report is a page of a report.
type Report[R any] struct {
	Data     []Bucket[R] `json:"data"`
	HasMore  bool        `json:"has_more"`
	NextPage *string     `json:"next_page"`
}

func ptr(s string) *string { return &s }

func (s *Server) usageReport(w http.ResponseWriter, r *http.Request) {
	rq, bad := s.parseReport(r.URL.Query(), []string{"1d", "1h", "1m"},
		[]string{"api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo", "speed", "account_id", "service_account_id"}, "1d")
	if bad != "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", bad)
		return
	}
	starts, next := rq.buckets()
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := Report[UsageResult]{Data: []Bucket[UsageResult]{}}
	for _, b := range starts {
		end := b.Add(rq.width)
		groups := map[string]*UsageResult{}
		var order []string
		for _, u := range s.selected(rq, b, end) {
			g := UsageResult{}
			for _, by := range rq.groupBy {
				switch by {
				case "api_key_id":
					g.APIKeyID = ptr(u.KeyID)
				case "workspace_id":
					g.WorkspaceID = u.workspace
				case "model":
					g.Model = ptr(u.Model)
				case "service_tier":
					g.ServiceTier = ptr("standard")
				case "context_window":
					g.ContextWindow = ptr("0-200k")
				}
			}
			k := groupKey(g.APIKeyID, g.WorkspaceID, g.Model, g.ServiceTier, g.ContextWindow)
			if groups[k] == nil {
				groups[k] = &g
				order = append(order, k)
			}
			acc := groups[k]
			acc.UncachedInputTokens += u.UncachedInput
			acc.CacheReadInputTokens += u.CacheRead
			acc.CacheCreation.Ephemeral5m += u.CacheCreation5m
			acc.CacheCreation.Ephemeral1h += u.CacheCreation1h
			acc.OutputTokens += u.Output
		}
		bucket := Bucket[UsageResult]{StartingAt: b.Format(time.RFC3339), EndingAt: end.Format(time.RFC3339), Results: []UsageResult{}}
		sort.Strings(order)
		for _, k := range order {
			bucket.Results = append(bucket.Results, *groups[k])
		}
		resp.Data = append(resp.Data, bucket)
	}
	if next != "" {
		resp.HasMore, resp.NextPage = true, &next
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) costReport(w http.ResponseWriter, r *http.Request) {
	rq, bad := s.parseReport(r.URL.Query(), []string{"1d"}, []string{"workspace_id", "description"}, "1d")
	if bad != "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", bad)
		return
	}
	if len(rq.keyIDs) > 0 || len(rq.models) > 0 {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "the cost report filters by time only: api_key_ids and models are not parameters of it")
		return
	}
	starts, next := rq.buckets()
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := Report[CostResult]{Data: []Bucket[CostResult]{}}
	for _, b := range starts {
		end := b.Add(rq.width)
		groups := map[string]float64{}
		meta := map[string]CostResult{}
		var order []string
		for _, u := range s.selected(rq, b, end) {
			g := CostResult{Currency: "USD"}
			for _, by := range rq.groupBy {
				switch by {
				case "workspace_id":
					g.WorkspaceID = u.workspace
				case "description":
					g.Description, g.Model, g.CostType, g.TokenType = ptr(u.Model+" Usage"), ptr(u.Model), ptr("tokens"), ptr("uncached_input_tokens")
				}
			}
			k := groupKey(g.WorkspaceID, g.Description)
			if _, ok := meta[k]; !ok {
				meta[k] = g
				order = append(order, k)
			}
			groups[k] += u.CostCents
		}
		bucket := Bucket[CostResult]{StartingAt: b.Format(time.RFC3339), EndingAt: end.Format(time.RFC3339), Results: []CostResult{}}
		sort.Strings(order)
		for _, k := range order {
			g := meta[k]
			g.Amount = strconv.FormatFloat(groups[k], 'f', -1, 64)
			bucket.Results = append(bucket.Results, g)
		}
		resp.Data = append(resp.Data, bucket)
	}
	if next != "" {
		resp.HasMore, resp.NextPage = true, &next
	}
	writeJSON(w, http.StatusOK, resp)
}

func groupKey(parts ...*string) string {
	var b strings.Builder
	for _, p := range parts {
		if p != nil {
			b.WriteString(*p)
		}
		b.WriteByte(0)
	}
	return b.String()
}
