package rotation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/outbound"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// KeyRequest says which key a KeySource is asked for.
type KeyRequest struct {
	// Project and Secret name the secret the key is for (Secret is the id).
	Project string
	Secret  string
	// IdempotencyKey is the same for every attempt of one rotation (secret
	// and the version being replaced), so a source that honours it mints
	// one key even when Pub/Sub redelivers the trigger.
	IdempotencyKey string
}

// KeySource mints a new key for a managed secret.
//
// The returned slice belongs to the caller, who stores it as a new version
// and then zeroes it. Implementations must not log the key, keep a copy, or
// put it (or any credential) in an error.
type KeySource interface {
	NewKey(ctx context.Context, req KeyRequest) ([]byte, error)
}

// maxKeyResponse bounds the key source's answer; Secret Manager's own
// payload limit is 64 KiB.
const maxKeyResponse = 64 << 10

// HTTPKeySource mints keys by calling an HTTPS endpoint: the provider's
// admin API behind a small adapter, or the user's own minting service.
//
// The contract:
//
//	POST <URL>
//	Authorization: Bearer <credential>
//	Content-Type: application/json
//	Idempotency-Key: <project>/<secret>/after-<version number being replaced>
//	{"project": "<project id>", "secret": "<secret id>"}
//
// answered with 200 or 201 and
//
//	{"key": "<the new key>", "key_id": "<the provider's id of it>"}
//
// (key_id is optional: with it, coopguard records which provider key the
// new version holds, so containment can revoke it there; other fields are
// ignored; at most 64 KiB). The key's UTF-8 bytes become
// the new version's payload. Any other status, a redirect, or another body
// is a failure; the response body is never copied into an error or a log,
// since an admin API may echo secrets in it.
//
// The credential is the latest version of the secret CredentialSecret,
// read with AccessSecretVersion for each key and dropped afterwards.
type HTTPKeySource struct {
	// URL is the endpoint (https://, or http://127.0.0.1 for a local service).
	URL string
	// Project is the project of CredentialSecret.
	Project string
	// CredentialSecret is the id of the secret holding the bearer credential.
	CredentialSecret string
	// Secrets reads the credential.
	Secrets *secretmanager.Client
	// HTTP sends the request; nil means a client with a 30 s timeout.
	// Redirects and other hosts are always refused (package outbound), so
	// the credential goes nowhere else.
	HTTP *http.Client
	// Retry is the policy for reading the credential; zero means retry.Default.
	Retry retry.Policy
}

// KeyIDSource is a KeySource that also tells the provider's id of the key
// it minted ("" when it does not know), which revocation uses to name the
// key to the provider without reading it.
type KeyIDSource interface {
	KeySource
	NewKeyWithID(ctx context.Context, req KeyRequest) (key []byte, keyID string, err error)
}

// keyIDSyntax is what a recorded key id may look like (Anthropic's are
// apikey_…): anything else is not recorded.
var keyIDSyntax = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// NewKey calls the endpoint and returns the new key. The request itself is
// not retried: minting is not idempotent at every provider, so a failure
// fails the run and Pub/Sub redelivers it (with the same Idempotency-Key).
func (s *HTTPKeySource) NewKey(ctx context.Context, req KeyRequest) ([]byte, error) {
	key, _, err := s.NewKeyWithID(ctx, req)
	return key, err
}

// NewKeyWithID is NewKey that also returns the answer's optional "key_id"
// (the provider's id of the new key, e.g. apikey_…; "" when absent or not
// an id).
func (s *HTTPKeySource) NewKeyWithID(ctx context.Context, req KeyRequest) ([]byte, string, error) {
	key, id, err := s.newKey(ctx, req)
	if !keyIDSyntax.MatchString(id) {
		id = ""
	}
	return key, id, err
}

func (s *HTTPKeySource) newKey(ctx context.Context, req KeyRequest) ([]byte, string, error) {
	where := redactURL(s.URL)
	cred, err := s.credential(ctx)
	if err != nil {
		return nil, "", err
	}
	body, err := json.Marshal(map[string]string{"project": req.Project, "secret": req.Secret})
	if err != nil {
		clear(cred)
		return nil, "", err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(body))
	if err != nil {
		clear(cred)
		return nil, "", fmt.Errorf("key source %s: build request: %w (check coopguard.rotation.key_source_url)", where, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	if req.IdempotencyKey != "" {
		hreq.Header.Set("Idempotency-Key", req.IdempotencyKey)
	}
	// net/http wants a string header: that copy cannot be zeroed, but it
	// lives only as long as the request.
	hreq.Header.Set("Authorization", "Bearer "+string(cred))
	clear(cred)

	resp, err := outbound.Client(s.HTTP, hreq.URL.Host, 30*time.Second).Do(hreq)
	if err != nil {
		return nil, "", fmt.Errorf("key source %s: %w (check that the endpoint is up and reachable from coopguard)", where, outbound.CallError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxKeyResponse))
		return nil, "", fmt.Errorf("key source %s answered %s: check its logs and the credential in secret %s (the response body is not shown: it may carry key material)", where, resp.Status, s.CredentialSecret)
	}
	buf, err := outbound.ReadAll(resp.Body, maxKeyResponse)
	switch {
	case errors.Is(err, outbound.ErrTooLarge):
		return nil, "", fmt.Errorf("key source %s: response over %d bytes: answer {\"key\": \"...\"} only", where, maxKeyResponse)
	case err != nil:
		return nil, "", fmt.Errorf("key source %s: read the response: %w", where, err)
	}
	defer clear(buf)
	key, id, err := parseKeyResponse(buf)
	if err != nil {
		return nil, "", fmt.Errorf("key source %s: %w", where, err)
	}
	return key, id, nil
}

// credential reads the bearer credential. The caller zeroes it.
func (s *HTTPKeySource) credential(ctx context.Context) ([]byte, error) {
	name := "projects/" + s.Project + "/secrets/" + s.CredentialSecret + "/versions/latest"
	var data []byte
	p := s.Retry
	if p.Attempts == 0 {
		p = retry.Default
	}
	err := retry.Do(ctx, p, func(ctx context.Context) error {
		resp, err := s.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
		if err != nil {
			return err
		}
		data = resp.GetPayload().GetData()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the key source credential from secret %s: %w (grant coopguard roles/secretmanager.secretAccessor on it and make sure its latest version is ENABLED)", s.CredentialSecret, err)
	}
	cred := bytes.TrimSpace(data)
	if len(cred) == 0 {
		clear(data)
		return nil, fmt.Errorf("the key source credential in secret %s is empty: add a version holding the credential", s.CredentialSecret)
	}
	return cred, nil
}

// redactURL is the URL without user info, query or fragment, safe to print.
func redactURL(raw string) string { return outbound.Redact(raw) }

// parseKeyResponse extracts the key of {"key": "..."} into a fresh slice
// without going through a Go string, which could not be zeroed. Errors
// describe the shape, never the content.
func parseKeyResponse(body []byte) ([]byte, string, error) {
	var w struct {
		Key   json.RawMessage `json:"key"`
		KeyID string          `json:"key_id"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, "", errors.New(`the response is not a JSON object like {"key": "..."}`)
	}
	defer clear(w.Key)
	if len(w.Key) == 0 || string(w.Key) == "null" {
		return nil, "", errors.New(`the response has no "key" field: answer {"key": "..."}`)
	}
	key, err := unquoteJSON(w.Key)
	if err != nil {
		return nil, "", err
	}
	if len(key) == 0 {
		return nil, "", errors.New(`the response's "key" is empty`)
	}
	return key, w.KeyID, nil
}

// unquoteJSON decodes a JSON string literal into bytes. The output is never
// longer than the input, so it is allocated once.
func unquoteJSON(raw []byte) ([]byte, error) {
	bad := errors.New(`the response's "key" is not a JSON string`)
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, bad
	}
	in := raw[1 : len(raw)-1]
	out := make([]byte, 0, len(in))
	fail := func() ([]byte, error) { clear(out[:cap(out)]); return nil, bad }
	for i := 0; i < len(in); {
		c := in[i]
		switch {
		case c == '"' || c < 0x20:
			return fail()
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(in) {
			return fail()
		}
		esc := in[i+1]
		i += 2
		switch esc {
		case '"', '\\', '/':
			out = append(out, esc)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(in[i:])
			if !ok {
				return fail()
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(in) >= i+6 && in[i] == '\\' && in[i+1] == 'u' {
					if v, ok := hex4(in[i+2:]); ok {
						r2 = v
					}
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError // as encoding/json does for a lone surrogate
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return fail()
		}
	}
	return out, nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
