package revoke

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/cloudcoop/coopguard/shared/outbound"
)

// UsageResult is one API key's Messages usage in one time bucket, as the
// Admin API's usage report groups it by api_key_id
// (https://platform.claude.com/docs/en/api/admin/usage_report/retrieve_messages).
type UsageResult struct {
	// APIKeyID is "" for usage no key made (the Console's workbench).
	APIKeyID            string
	UncachedInputTokens int64
	CacheCreation5m     int64
	CacheCreation1h     int64
	CacheReadTokens     int64
	OutputTokens        int64
}

// UsageBucket is one time bucket of the report.
type UsageBucket struct {
	Start, End time.Time
	Results    []UsageResult
}

// usageJSON is the part of the report coopguard reads.
type usageJSON struct {
	Data []struct {
		StartingAt string `json:"starting_at"`
		EndingAt   string `json:"ending_at"`
		Results    []struct {
			UncachedInputTokens int64 `json:"uncached_input_tokens"`
			CacheCreation       struct {
				Ephemeral1h int64 `json:"ephemeral_1h_input_tokens"`
				Ephemeral5m int64 `json:"ephemeral_5m_input_tokens"`
			} `json:"cache_creation"`
			CacheReadInputTokens int64   `json:"cache_read_input_tokens"`
			OutputTokens         int64   `json:"output_tokens"`
			APIKeyID             *string `json:"api_key_id"`
		} `json:"results"`
	} `json:"data"`
	HasMore  bool    `json:"has_more"`
	NextPage *string `json:"next_page"`
}

// maxUsagePages bounds how many pages one read follows.
const maxUsagePages = 50

// MessagesUsage reads the organisation's Messages usage from start to end
// in buckets of width ("1m", "1h" or "1d"), grouped by API key, following
// next_page. It reads the Admin API key from its secret for this call
// only; no error carries it or the answer's body.
func (a *Anthropic) MessagesUsage(ctx context.Context, start, end time.Time, width string) ([]UsageBucket, error) {
	admin, err := a.cred.read(ctx)
	if err != nil {
		return nil, err
	}
	defer clear(admin)
	c := &adminClient{base: a.BaseURL, key: admin, http: outbound.Client(a.HTTP, hostOf(a.BaseURL), timeoutOr(a.Timeout)), secret: a.cred.secret}
	limit := map[string]int{"1m": 1440, "1h": 168, "1d": 31}[width]
	if limit == 0 {
		return nil, fmt.Errorf("usage report: bucket width %q: want 1m, 1h or 1d", width)
	}
	q := url.Values{
		"starting_at": {start.UTC().Format(time.RFC3339)}, "ending_at": {end.UTC().Format(time.RFC3339)},
		"bucket_width": {width}, "group_by[]": {"api_key_id"}, "limit": {strconv.Itoa(limit)},
	}
	var out []UsageBucket
	for range maxUsagePages {
		var page usageJSON
		if err := c.do(ctx, http.MethodGet, "/v1/organizations/usage_report/messages?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		for _, d := range page.Data {
			b := UsageBucket{}
			var err1, err2 error
			b.Start, err1 = time.Parse(time.RFC3339Nano, d.StartingAt)
			b.End, err2 = time.Parse(time.RFC3339Nano, d.EndingAt)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("usage report: a bucket's starting_at or ending_at is not an RFC 3339 time")
			}
			for _, r := range d.Results {
				u := UsageResult{UncachedInputTokens: r.UncachedInputTokens, CacheCreation5m: r.CacheCreation.Ephemeral5m,
					CacheCreation1h: r.CacheCreation.Ephemeral1h, CacheReadTokens: r.CacheReadInputTokens, OutputTokens: r.OutputTokens}
				if r.APIKeyID != nil {
					u.APIKeyID = *r.APIKeyID
				}
				b.Results = append(b.Results, u)
			}
			out = append(out, b)
		}
		if !page.HasMore || page.NextPage == nil || *page.NextPage == q.Get("page") {
			return out, nil
		}
		q.Set("page", *page.NextPage)
	}
	return out, fmt.Errorf("usage report: more than %d pages from %s to %s; read a shorter window", maxUsagePages, start.Format(time.RFC3339), end.Format(time.RFC3339))
}
