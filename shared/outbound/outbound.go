// Package outbound holds the rules for every request coopguard sends with a
// credential to an endpoint outside GCP (the rotation key source, the
// provider revocation endpoints): HTTPS only (plain HTTP only to a
// loopback address, for local services and tests), the configured host
// and no other (exact match, no redirects), bounded time and response
// size, and errors that name the endpoint without its query, user info or
// anything the endpoint answered, since an admin API may echo secrets.
package outbound

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultTimeout bounds one request when the caller sets none.
const DefaultTimeout = 30 * time.Second

// CheckURL returns an error when raw may not carry a credential: not
// https://, or http:// to anything but a loopback address, or with user
// info. The error names neither the query nor the user info.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("is not an absolute URL, e.g. https://keys.example.com/revoke")
	}
	if u.User != nil {
		return fmt.Errorf("%s must not carry user info: put the credential in its secret", Redact(raw))
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if loopback(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%s must be an https:// URL: the credential must not travel in clear text", Redact(raw))
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Client returns a client that sends requests only to host (exactly, as
// the URL's host:port), refuses every redirect, and gives up after timeout
// (DefaultTimeout when zero). base (nil: a fresh transport) supplies the
// transport, e.g. a test server's TLS client.
func Client(base *http.Client, host string, timeout time.Duration) *http.Client {
	c := &http.Client{}
	if base != nil {
		cp := *base
		c = &cp
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c.Timeout = timeout
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = hostOnly{host: host, next: next}
	c.CheckRedirect = func(*http.Request, []*http.Request) error {
		return fmt.Errorf("redirect refused: the credential is sent to the configured URL only: %w", ErrRefused)
	}
	return c
}

// ErrRefused is wrapped by the errors of requests these rules refused (a
// redirect, another host): asking again will not help.
var ErrRefused = errors.New("refused by coopguard's outbound rules")

// hostOnly refuses any request to another host than the configured one.
type hostOnly struct {
	host string
	next http.RoundTripper
}

func (h hostOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != h.host {
		return nil, fmt.Errorf("request to another host refused: the credential is sent to the configured host only: %w", ErrRefused)
	}
	return h.next.RoundTrip(r)
}

// Redact is the URL without user info, query or fragment, safe to print.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// CallError is the error of a request that got no response: url.Error
// repeats the URL, which may carry a query, so only its cause is kept.
func CallError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// ErrTooLarge is returned by ReadAll for a body over its bound.
var ErrTooLarge = errors.New("response over the size bound")

// ReadAll reads at most max bytes of r into one buffer allocated once (so
// no reallocation leaves stray copies of a secret), failing with
// ErrTooLarge when there is more. The caller clears the result when it
// may hold key material.
func ReadAll(r io.Reader, max int) ([]byte, error) {
	buf := make([]byte, max+1)
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return buf[:n], nil
	case err != nil:
		clear(buf)
		return nil, err
	}
	clear(buf)
	return nil, ErrTooLarge
}
