package main

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// guard stands in front of every endpoint of `coopguard serve`. A web page
// the operator has open can make the browser send requests to 127.0.0.1,
// and a DNS-rebinding page can make them look same-origin; other users of
// the machine reach the port too. So the guard refuses, in every mode:
//   - a Host that is not the listen address (403): a rebinding page's
//     requests carry its own name;
//   - an Origin of another site, or Sec-Fetch-Site cross-site/same-site
//     (403): a page must not POST /Resolve;
//   - a body that is not Content-Type application/json (415): the only
//     bodies a browser sends cross-origin without asking are text/plain,
//     form-encoded and multipart;
//
// and, with a real config, a request without the bearer token written at
// start to the user's config directory (401).
type guard struct {
	// host is the listen host in lower case; wildcard is set when it is
	// unspecified (0.0.0.0, ::), loopback when it is a loopback address or
	// localhost.
	host               string
	port               string
	wildcard, loopback bool
	// token is the bearer token every request needs; empty: none needed.
	token     string
	tokenPath string
	next      http.Handler
}

// newGuard guards next for a server listening on host:port. token empty
// means no bearer token is required (the embedded emulated GCP).
func newGuard(host string, port int, token, tokenPath string, next http.Handler) *guard {
	g := &guard{host: strings.ToLower(strings.Trim(host, "[]")), port: strconv.Itoa(port), token: token, tokenPath: tokenPath, next: next}
	ip := net.ParseIP(g.host)
	g.wildcard = g.host == "" || (ip != nil && ip.IsUnspecified())
	g.loopback = g.host == "localhost" || (ip != nil && ip.IsLoopback())
	return g
}

// hostAllowed reports whether hostport (a Host header, or an Origin's
// host) names this server. An IP literal cannot be rebound, so a wildcard
// listener takes any IP literal, a loopback one any loopback literal;
// names other than localhost must be the listen host itself.
func (g *guard) hostAllowed(hostport string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, "80"
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if port != g.port || host == "" {
		return false
	}
	if host == g.host {
		return true
	}
	ip := net.ParseIP(host)
	switch {
	case g.wildcard:
		return ip != nil || host == "localhost"
	case g.loopback:
		return (ip != nil && ip.IsLoopback()) || host == "localhost"
	}
	return false
}

// originAllowed reports whether an Origin header is this server itself.
func (g *guard) originAllowed(origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Scheme == "http" && u.Path == "" && g.hostAllowed(u.Host)
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.hostAllowed(r.Host) {
		writeJSONError(w, http.StatusForbidden, fmt.Sprintf("Host %q is not this server's address (port %s): call it by its listen address, e.g. http://127.0.0.1:%s", r.Host, g.port, g.port))
		return
	}
	if o := r.Header.Get("Origin"); o != "" && !g.originAllowed(o) {
		writeJSONError(w, http.StatusForbidden, fmt.Sprintf("requests from web pages of other sites are refused (Origin %q)", o))
		return
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s == "cross-site" || s == "same-site" {
		writeJSONError(w, http.StatusForbidden, "requests from web pages of other sites are refused (Sec-Fetch-Site "+s+")")
		return
	}
	if g.token != "" && !g.authorized(r) {
		// Say where the token is, never what it is.
		w.Header().Set("WWW-Authenticate", `Bearer realm="coopguard serve"`)
		writeJSONError(w, http.StatusUnauthorized, "this coopguard serve needs its bearer token: the CLI reads it from "+g.tokenPath+"; with curl send -H \"Authorization: Bearer $(cat "+g.tokenPath+")\"")
		return
	}
	if r.ContentLength != 0 {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			writeJSONError(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: send JSON bodies as application/json", r.Header.Get("Content-Type")))
			return
		}
	}
	g.next.ServeHTTP(w, r)
}

// authorized compares the request's bearer token with the server's in
// constant time.
func (g *guard) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(g.token)) == 1
}

// tokenFile is where `coopguard serve` on port keeps its bearer token: in
// the user's config directory ($XDG_CONFIG_HOME or ~/.config on Linux),
// readable by the user only.
func tokenFile(port string) (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the config directory for the serve token: %w (set HOME or XDG_CONFIG_HOME)", err)
	}
	return filepath.Join(dir, "coopguard", "serve-"+port+".token"), nil
}

// writeToken generates a bearer token (128 bits from crypto/rand) and
// writes it 0600 to the token file of port, replacing one left by an
// earlier serve. remove deletes the file unless another serve has since
// written its own.
func writeToken(port int) (token, path string, remove func(), err error) {
	path, err = tokenFile(strconv.Itoa(port))
	if err != nil {
		return "", "", nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", "", nil, fmt.Errorf("serve token: %w", err)
	}
	token = rand.Text()
	// Written whole under a temporary name (created 0600), then renamed:
	// the CLI never reads half a token.
	f, err := os.CreateTemp(filepath.Dir(path), ".serve-token-*")
	if err != nil {
		return "", "", nil, fmt.Errorf("serve token: %w", err)
	}
	_, werr := f.WriteString(token)
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(f.Name())
		return "", "", nil, fmt.Errorf("serve token %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return "", "", nil, fmt.Errorf("serve token: %w", err)
	}
	return token, path, func() {
		if b, err := os.ReadFile(path); err == nil && string(b) == token {
			os.Remove(path)
		}
	}, nil
}

// serverToken is the bearer token of the local `coopguard serve` at
// server, read from its token file; empty when the server is not on this
// machine or wrote none (an emulated serve needs none). The token is
// never sent anywhere else.
func serverToken(server string) string {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "http" {
		return ""
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	path, err := tokenFile(port)
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
