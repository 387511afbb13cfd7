// Package retry is coopguard's one retry policy for GCP calls: exponential
// backoff with jitter on errors that a later attempt can fix (429, 5xx,
// UNAVAILABLE, DEADLINE_EXCEEDED), and none on errors that it cannot.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Policy is a backoff schedule.
type Policy struct {
	Attempts int           // total tries, at least 1
	Initial  time.Duration // first pause
	Max      time.Duration // longest pause
	// PerTry bounds each attempt, so a hung call does not eat the budget
	// of the whole handler; zero means no per-attempt bound.
	PerTry time.Duration
	// OnRetry, when set, is told about each failed attempt that will be
	// retried, so reports can say what failed and when it recovered.
	OnRetry func(attempt int, err error)
}

// Default is used for every GCP call of the responder.
var Default = Policy{Attempts: 5, Initial: 50 * time.Millisecond, Max: 2 * time.Second, PerTry: 30 * time.Second}

// Do calls fn until it succeeds, returns a permanent error, or the policy
// or ctx runs out. It returns fn's last error.
func Do(ctx context.Context, p Policy, fn func(ctx context.Context) error) error {
	attempts := max(p.Attempts, 1)
	pause := p.Initial
	var err error
	for i := range attempts {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if p.PerTry > 0 {
			actx, cancel = context.WithTimeout(actx, p.PerTry)
		}
		err = fn(actx)
		cancel()
		if err == nil || !Retryable(err) || ctx.Err() != nil || i == attempts-1 {
			return err
		}
		if p.OnRetry != nil {
			p.OnRetry(i, err)
		}
		// Full jitter spreads the retries of concurrent handlers.
		d := time.Duration(rand.Int64N(int64(pause) + 1))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause = min(pause*2, p.Max)
	}
	return err
}

// Retryable reports whether err is transient: a later identical call may
// succeed.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if code, ok := HTTPCode(err); ok {
		return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
	}
	switch GRPCCode(err) {
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Internal, codes.Aborted:
		return true
	}
	return false
}

// HTTPCode returns the HTTP status of a REST client error, or of an error
// with an HTTPStatus method.
func HTTPCode(err error) (int, bool) {
	var gerr *googleapi.Error
	if errors.As(err, &gerr) {
		return gerr.Code, true
	}
	var aerr *apierror.APIError
	if errors.As(err, &aerr) && aerr.HTTPCode() > 0 {
		return aerr.HTTPCode(), true
	}
	// Errors of coopguard's own HTTP clients (provider revocation).
	var serr interface{ HTTPStatus() int }
	if errors.As(err, &serr) {
		return serr.HTTPStatus(), true
	}
	return 0, false
}

// GRPCCode returns the gRPC code of err (codes.Unknown when it has none).
func GRPCCode(err error) codes.Code {
	var aerr *apierror.APIError
	if errors.As(err, &aerr) {
		return aerr.GRPCStatus().Code()
	}
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return codes.Unknown
}

// IsNotFound reports whether err says the resource does not exist (REST 404
// or gRPC NOT_FOUND).
func IsNotFound(err error) bool {
	if code, ok := HTTPCode(err); ok {
		return code == http.StatusNotFound
	}
	return GRPCCode(err) == codes.NotFound
}

// IsAlreadyExists reports whether err says the resource exists already
// (REST 409 or gRPC ALREADY_EXISTS).
func IsAlreadyExists(err error) bool {
	if code, ok := HTTPCode(err); ok {
		return code == http.StatusConflict
	}
	return GRPCCode(err) == codes.AlreadyExists
}

// IsPrecondition reports whether err is a stale fingerprint or etag (REST
// 412 or gRPC FAILED_PRECONDITION/ABORTED): re-read and try again.
func IsPrecondition(err error) bool {
	if code, ok := HTTPCode(err); ok {
		return code == http.StatusPreconditionFailed
	}
	c := GRPCCode(err)
	return c == codes.FailedPrecondition || c == codes.Aborted
}
