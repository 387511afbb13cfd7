// Package revoke makes the managed key stop working at its provider, which
// disabling Secret Manager versions cannot do: the agents read the key into
// their environment, so a compromised agent holds a copy. coopguard never
// reads the managed key, so a provider is told which key by another name:
// for Anthropic, the key ids recorded when rotation added each version (or
// every active key of a workspace dedicated to the sandbox); for the
// generic https provider, the project and secret ids (the endpoint knows
// its keys).
//
// Every request follows package outbound's rules, and no error, log line
// or result carries a credential, a key or anything the provider answered
// beyond its status.
package revoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/outbound"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/shared/store"
)

// Request says what to revoke: the keys of the managed secrets.
type Request struct {
	Project string
	// Sandbox is the sandbox whose key is revoked ("" from callers that
	// predate per-sandbox keys: the configured one).
	Sandbox string
	// Secrets are the sandbox's own managed secret ids
	// (config.SandboxSecrets).
	Secrets []string
	// Workspace is the sandbox's own Anthropic workspace
	// (config.SandboxWorkspace): with a Sandbox set, it replaces the
	// configured workspace_id, and "" means the sandbox has none.
	Workspace string
	// Incident is the incident id (the https provider's Idempotency-Key).
	Incident string
	// DryRun reads and reports, changing nothing.
	DryRun bool
}

// Result is what one revocation found and did.
type Result struct {
	// Revoked are the keys this call revoked (would revoke, in a dry run).
	Revoked []string
	// Already are the named keys that were not active any more.
	Already []string
	// Unnamed are what could not be revoked at the provider: versions
	// whose key has no recorded id, or ids outside the workspace.
	Unnamed []string
}

// Revoker revokes the managed keys at one provider.
type Revoker interface {
	// Provider names it in reports: anthropic or https.
	Provider() string
	// Revoke revokes every named, active managed key. A transient failure
	// is an error retry.Retryable accepts.
	Revoke(ctx context.Context, req Request) (Result, error)
}

// KeyIDs reads the provider key ids recorded per version of a managed
// secret (the incident store implements it).
type KeyIDs interface {
	ProviderKeysOf(ctx context.Context, secret string) (map[string]store.ProviderKey, error)
}

// New returns the configured revoker, or nil when revocation is off.
// secrets reads the credential (and the versions, to find unnamed ones);
// keys reads recorded key ids; httpc (nil: a fresh transport) carries the
// requests under package outbound's rules.
func New(cfg config.Revoke, project string, secrets *secretmanager.Client, keys KeyIDs, httpc *http.Client) Revoker {
	cred := credential{project: project, secret: cfg.CredentialSecret, client: secrets}
	switch cfg.Provider {
	case config.RevokeAnthropic:
		a := &Anthropic{BaseURL: cfg.BaseURL(), cred: cred, secrets: secrets, keys: keys, HTTP: httpc, Timeout: cfg.Timeout.Duration, WorkspaceID: cfg.WorkspaceID}
		a.ByWorkspace = cfg.NameKeysBy == config.NameByWorkspace
		return a
	case config.RevokeHTTPS:
		return &HTTPS{URL: cfg.URL, cred: cred, HTTP: httpc, Timeout: cfg.Timeout.Duration}
	}
	return nil
}

// credential reads a provider credential from its secret for one call.
type credential struct {
	project, secret string
	client          *secretmanager.Client
}

// read returns the latest version's payload, trimmed; the caller clears
// it. The error names the secret, never its content.
func (c credential) read(ctx context.Context) ([]byte, error) {
	if c.client == nil {
		return nil, errors.New("no Secret Manager client to read the provider credential")
	}
	name := "projects/" + c.project + "/secrets/" + c.secret + "/versions/latest"
	resp, err := c.client.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		return nil, fmt.Errorf("read the provider credential from secret %s: %w (grant the responder roles/secretmanager.secretAccessor on that secret only, and keep its latest version ENABLED)", c.secret, err)
	}
	data := resp.GetPayload().GetData()
	cred := bytes.TrimSpace(data)
	if len(cred) == 0 {
		clear(data)
		return nil, fmt.Errorf("the provider credential in secret %s is empty: add a version holding it", c.secret)
	}
	return cred, nil
}

// statusError is a provider's answer other than success; it carries the
// HTTP status (so retry.Retryable sees 429 and 5xx as transient), never
// the body.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// HTTPStatus is the provider's status (503 for no answer).
func (e *statusError) HTTPStatus() int { return e.status }

// noAnswer is the error of a request that got no usable response: one
// the outbound rules refused is final; a timeout wraps
// context.DeadlineExceeded; anything else counts as 503, since reaching
// the provider may work next time.
func noAnswer(where string, err error) error {
	if errors.Is(err, outbound.ErrRefused) || errors.Is(err, outbound.ErrTooLarge) {
		return fmt.Errorf("%s: %w", where, err) // the same request fails the same way
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: no answer in time: %w", where, context.DeadlineExceeded)
	}
	return &statusError{status: http.StatusServiceUnavailable, msg: where + ": " + err.Error()}
}

// answered is the error of a response with status code, named by where,
// with the fix for the statuses a person must act on.
func answered(where string, code int, credSecret string) error {
	msg := where + " answered " + strconv.Itoa(code) + " " + http.StatusText(code)
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		msg += ": the credential in secret " + credSecret + " was refused; put a valid one there (the response body is not shown)"
	case code == http.StatusTooManyRequests || code >= 500:
		msg += ": the provider is unavailable or busy; the incident is retried"
	default:
		msg += " (the response body is not shown: it may carry key material)"
	}
	return &statusError{status: code, msg: msg}
}

// Transient reports whether a revocation error is worth redelivering.
func Transient(err error) bool { return retry.Retryable(err) }

// timeoutOr is d, or 10 s when zero.
func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return 10 * time.Second
	}
	return d
}
