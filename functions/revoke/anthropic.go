package revoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/outbound"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// AnthropicVersion is the anthropic-version header every request sends.
const AnthropicVersion = "2023-06-01"

// maxAnswer bounds an Admin API response (a page of up to 100 keys).
const maxAnswer = 1 << 20

// pageSize is the list page size coopguard asks for.
const pageSize = 100

// Anthropic revokes through Anthropic's Admin API: an API key's status set
// to inactive stops it working everywhere
// (https://platform.claude.com/docs/en/api/admin/api_keys/update).
//
// Keys are named by the ids recorded per secret version (KeyIDs), or, with
// ByWorkspace, as every active key of WorkspaceID. A recorded id whose key
// is in another workspace than WorkspaceID (when set) is not revoked.
type Anthropic struct {
	// BaseURL is the API's base, e.g. https://api.anthropic.com.
	BaseURL string
	// WorkspaceID is the sandbox's workspace ("" with key ids: any).
	WorkspaceID string
	// ByWorkspace names the keys as every active key of WorkspaceID.
	ByWorkspace bool
	// HTTP supplies the transport (nil: a fresh one); Timeout bounds each
	// request (0: 10 s).
	HTTP    *http.Client
	Timeout time.Duration

	cred    credential
	secrets *secretmanager.Client
	keys    KeyIDs
}

// Provider implements Revoker.
func (a *Anthropic) Provider() string { return "anthropic" }

// apiKey is the part of the Admin API's key object coopguard reads.
type apiKey struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	WorkspaceID *string `json:"workspace_id"`
}

// Revoke implements Revoker.
func (a *Anthropic) Revoke(ctx context.Context, req Request) (Result, error) {
	var res Result
	var ids []string
	ws := a.workspace(req)
	if a.ByWorkspace && ws == "" {
		// workspace_id is the configured sandbox's: emptying it for
		// another sandbox would revoke the wrong sandbox's keys.
		res.Unnamed = []string{"sandbox " + req.Sandbox + " has no Anthropic workspace of its own (workspace_id is the configured sandbox's): nothing revoked; use name_keys_by = \"key-id\" to revoke other sandboxes' keys"}
		return res, nil
	}
	if !a.ByWorkspace {
		var err error
		ids, res.Unnamed, err = a.named(ctx, req)
		if err != nil {
			return res, err
		}
		if len(ids) == 0 {
			return res, nil
		}
	}
	admin, err := a.cred.read(ctx)
	if err != nil {
		return res, err
	}
	defer clear(admin)
	c := &adminClient{base: a.BaseURL, key: admin, http: outbound.Client(a.HTTP, hostOf(a.BaseURL), timeoutOr(a.Timeout)), secret: a.cred.secret}
	if a.ByWorkspace {
		active, err := c.listActive(ctx, ws)
		if err != nil {
			return res, err
		}
		for _, k := range active {
			if err := a.deactivate(ctx, c, k.ID, req.DryRun, &res); err != nil {
				return res, err
			}
		}
		return res, nil
	}
	for _, id := range ids {
		k, err := c.get(ctx, id)
		var se *statusError
		if errors.As(err, &se) && se.status == http.StatusNotFound {
			res.Unnamed = append(res.Unnamed, id+" (no such key at Anthropic)")
			continue
		}
		if err != nil {
			return res, err
		}
		switch {
		case ws != "" && (k.WorkspaceID == nil || *k.WorkspaceID != ws):
			res.Unnamed = append(res.Unnamed, id+" (outside workspace "+ws+": not revoked)")
		case k.Status != "active":
			res.Already = append(res.Already, id)
		default:
			if err := a.deactivate(ctx, c, id, req.DryRun, &res); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

// workspace is the workspace req's sandbox owns: WorkspaceID for the
// configured sandbox (or a request naming none), req.Workspace otherwise.
func (a *Anthropic) workspace(req Request) string {
	if req.Sandbox == "" {
		return a.WorkspaceID
	}
	return req.Workspace
}

// deactivate sets key id inactive (or records that it would).
func (a *Anthropic) deactivate(ctx context.Context, c *adminClient, id string, dry bool, res *Result) error {
	if !dry {
		k, err := c.update(ctx, id, "inactive")
		if err != nil {
			return err
		}
		if k.Status != "inactive" {
			return fmt.Errorf("Anthropic answered status %q for key %s after setting it inactive: check the key in the Console", k.Status, id)
		}
	}
	res.Revoked = append(res.Revoked, id)
	return nil
}

// named returns the recorded key ids of the managed secrets, and the
// versions (not destroyed) that have none.
func (a *Anthropic) named(ctx context.Context, req Request) (ids, unnamed []string, err error) {
	if a.keys == nil {
		return nil, nil, errors.New("no store of recorded key ids: coopguard needs its Firestore database to name the key to Anthropic")
	}
	for _, s := range req.Secrets {
		rec, err := a.keys.ProviderKeysOf(ctx, s)
		if err != nil {
			return nil, nil, err
		}
		for _, k := range rec {
			if k.Provider == a.Provider() && !slices.Contains(ids, k.KeyID) {
				ids = append(ids, k.KeyID)
			}
		}
		versions, err := liveVersions(ctx, a.secrets, req.Project, s)
		if err != nil {
			return nil, nil, err
		}
		for _, v := range versions {
			if k, ok := rec[v]; !ok || k.Provider != a.Provider() {
				unnamed = append(unnamed, s+"/"+v)
			}
		}
	}
	slices.Sort(ids)
	return ids, unnamed, nil
}

// liveVersions lists the version numbers of secret that are not destroyed.
func liveVersions(ctx context.Context, c *secretmanager.Client, project, secret string) ([]string, error) {
	if c == nil {
		return nil, nil
	}
	var out []string
	it := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: "projects/" + project + "/secrets/" + secret, PageSize: 250})
	for {
		v, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if retry.IsNotFound(err) {
			return out, nil // no secret, no version to name
		}
		if err != nil {
			return nil, fmt.Errorf("list versions of secret %s: %w", secret, err)
		}
		if v.GetState() != secretmanagerpb.SecretVersion_DESTROYED {
			out = append(out, v.GetName()[strings.LastIndex(v.GetName(), "/")+1:])
		}
	}
}

// adminClient speaks the Admin API with one admin key.
type adminClient struct {
	base   string
	key    []byte
	http   *http.Client
	secret string
}

func (c *adminClient) get(ctx context.Context, id string) (apiKey, error) {
	var k apiKey
	err := c.do(ctx, http.MethodGet, "/v1/organizations/api_keys/"+url.PathEscape(id), nil, &k)
	return k, err
}

func (c *adminClient) update(ctx context.Context, id, status string) (apiKey, error) {
	var k apiKey
	body, _ := json.Marshal(map[string]string{"status": status})
	err := c.do(ctx, http.MethodPost, "/v1/organizations/api_keys/"+url.PathEscape(id), body, &k)
	return k, err
}

// listActive pages through the active keys of workspace.
func (c *adminClient) listActive(ctx context.Context, workspace string) ([]apiKey, error) {
	var out []apiKey
	after := ""
	for {
		q := url.Values{"workspace_id": {workspace}, "status": {"active"}, "limit": {fmt.Sprint(pageSize)}}
		if after != "" {
			q.Set("after_id", after)
		}
		var page struct {
			Data    []apiKey `json:"data"`
			HasMore bool     `json:"has_more"`
			LastID  *string  `json:"last_id"`
		}
		if err := c.do(ctx, http.MethodGet, "/v1/organizations/api_keys?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		for _, k := range page.Data {
			if k.Status == "active" {
				out = append(out, k)
			}
		}
		if !page.HasMore || page.LastID == nil || *page.LastID == after {
			return out, nil
		}
		after = *page.LastID
	}
}

// do sends one request and decodes a 200 answer into out.
func (c *adminClient) do(ctx context.Context, method, path string, body []byte, out any) error {
	where := "Anthropic Admin API " + method + " " + outbound.Redact(c.base+path)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.base, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("%s: build request: %w (check coopguard.revoke.url)", where, err)
	}
	req.Header.Set("anthropic-version", AnthropicVersion)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// net/http wants a string header: that copy lives as long as the
	// request.
	req.Header.Set("x-api-key", string(c.key))
	resp, err := c.http.Do(req)
	if err != nil {
		return noAnswer(where, outbound.CallError(err))
	}
	defer resp.Body.Close()
	b, err := outbound.ReadAll(resp.Body, maxAnswer)
	if err != nil {
		return noAnswer(where, fmt.Errorf("read the answer: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		return answered(where, resp.StatusCode, c.secret)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s: the answer is not the documented JSON (body not shown)", where)
	}
	return nil
}

// hostOf is raw's host:port ("" when unparsable: every request is then
// refused).
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}
