package revoke

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cloudcoop/coopguard/shared/outbound"
)

// maxHTTPSAnswer bounds the endpoint's answer.
const maxHTTPSAnswer = 64 << 10

// HTTPS revokes by calling the user's own endpoint, which knows the keys
// it minted. The contract:
//
//	POST <url>
//	Authorization: Bearer <credential>
//	Content-Type: application/json
//	Idempotency-Key: <project>/<incident id>
//	{"project": "<project id>", "secrets": ["<secret id>", …], "incident": "<id>", "dryRun": false}
//
// answered 200 with {"revoked": <number of keys revoked now>} (0: nothing
// was active) or 204 (revoked, count not told). Any other status, a
// redirect, another host or another body is a failure; 429 and 5xx are
// retried and redelivered. The answer is never copied into a report, a
// log or an error.
type HTTPS struct {
	// URL is the endpoint (https://, or http:// on loopback).
	URL string
	// HTTP supplies the transport (nil: a fresh one); Timeout bounds each
	// request (0: 10 s).
	HTTP    *http.Client
	Timeout time.Duration

	cred credential
}

// Provider implements Revoker.
func (h *HTTPS) Provider() string { return "https" }

// Revoke implements Revoker.
func (h *HTTPS) Revoke(ctx context.Context, req Request) (Result, error) {
	var res Result
	where := "revocation endpoint " + outbound.Redact(h.URL)
	body, err := json.Marshal(map[string]any{"project": req.Project, "secrets": req.Secrets, "incident": req.Incident, "dryRun": req.DryRun})
	if err != nil {
		return res, err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return res, fmt.Errorf("%s: build request: %w (check coopguard.revoke.url)", where, err)
	}
	cred, err := h.cred.read(ctx)
	if err != nil {
		return res, err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("Idempotency-Key", req.Project+"/"+req.Incident)
	hreq.Header.Set("Authorization", "Bearer "+string(cred))
	clear(cred)
	resp, err := outbound.Client(h.HTTP, hreq.URL.Host, timeoutOr(h.Timeout)).Do(hreq)
	if err != nil {
		return res, noAnswer(where, outbound.CallError(err))
	}
	defer resp.Body.Close()
	b, err := outbound.ReadAll(resp.Body, maxHTTPSAnswer)
	defer clear(b)
	if err != nil {
		return res, noAnswer(where, fmt.Errorf("read the answer: %w", err))
	}
	switch resp.StatusCode {
	case http.StatusNoContent:
		res.Revoked = []string{"keys of " + fmt.Sprint(req.Secrets) + " at " + outbound.Redact(h.URL)}
		return res, nil
	case http.StatusOK:
	default:
		return res, answered(where, resp.StatusCode, h.cred.secret)
	}
	var a struct {
		Revoked *int `json:"revoked"`
	}
	if err := json.Unmarshal(b, &a); err != nil || a.Revoked == nil || *a.Revoked < 0 {
		return res, fmt.Errorf(`%s: the answer is not {"revoked": <number>} (body not shown)`, where)
	}
	if *a.Revoked == 0 {
		res.Already = []string{"no active key of " + fmt.Sprint(req.Secrets) + " at " + outbound.Redact(h.URL)}
		return res, nil
	}
	res.Revoked = []string{strconv.Itoa(*a.Revoked) + " key(s) of " + fmt.Sprint(req.Secrets) + " at " + outbound.Redact(h.URL)}
	return res, nil
}
