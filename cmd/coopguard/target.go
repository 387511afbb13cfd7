package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// target is where a command acts: in this process against the GCP project
// of a config file, or through a coopguard server (by default the local
// `coopguard serve`).
type target struct {
	configPath string
	server     string
}

func (t *target) flags(fs *flag.FlagSet) {
	fs.StringVar(&t.configPath, "config", os.Getenv("COOPGUARD_CONFIG"), "config file: act directly on its GCP project with Application Default Credentials")
	def := os.Getenv("COOPGUARD_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	fs.StringVar(&t.server, "server", def, "coopguard server URL, used when no --config is given")
}

// direct reports whether the command runs in this process.
func (t *target) direct() bool { return t.configPath != "" }

// env builds the Env of direct mode, as a deployed function builds its
// own; the caller closes it.
func (t *target) env(ctx context.Context) (*functions.Env, error) {
	return functions.Open(ctx, t.configPath, logger.FromContext(ctx))
}

// call sends a request to the server and returns the response; a non-2xx
// answer becomes an error carrying the server's message.
func (t *target) call(ctx context.Context, method, path string, body any, accept string) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(t.server, "/")+path, r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	t.authorize(req)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("reach coopguard at %s: %w (start it with `make run`, or pass --config to act on a project directly)", t.server, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var eb struct {
			Error string `json:"error"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if json.Unmarshal(raw, &eb) == nil && eb.Error != "" {
			return resp, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, eb.Error)
		}
		// A report with failures still has a JSON body; hand it back.
		resp.Body = io.NopCloser(bytes.NewReader(raw))
		return resp, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return resp, nil
}

// authorize adds the bearer token of a local `coopguard serve` with a
// real config (see serverToken) to req.
func (t *target) authorize(req *http.Request) {
	if tok := serverToken(t.server); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
}

// getJSON GETs path from the server and decodes its JSON answer.
func getJSON[T any](ctx context.Context, t *target, path string) (T, error) {
	var v T
	resp, err := t.call(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, fmt.Errorf("bad answer from %s%s: %w", t.server, path, err)
	}
	return v, nil
}

// fetch reads something either in this process against the project of
// --config (direct) or from the server's read-only function at path.
func fetch[T any](ctx context.Context, t *target, path string, direct func(context.Context, *functions.Env) (T, error)) (T, error) {
	if !t.direct() {
		return getJSON[T](ctx, t, path)
	}
	e, err := t.env(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer e.Close()
	return direct(ctx, e)
}

// printJSON writes v as indented JSON: every command's --json.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
