package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/api/googleapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&googleapi.Error{Code: 429}, true},
		{&googleapi.Error{Code: 503}, true},
		{&googleapi.Error{Code: 500}, true},
		{&googleapi.Error{Code: 404}, false},
		{&googleapi.Error{Code: 412}, false},
		{fmt.Errorf("wrapped: %w", &googleapi.Error{Code: 502}), true},
		{status.Error(codes.Unavailable, "x"), true},
		{status.Error(codes.ResourceExhausted, "x"), true},
		{status.Error(codes.DeadlineExceeded, "x"), true},
		{status.Error(codes.PermissionDenied, "x"), false},
		{status.Error(codes.InvalidArgument, "x"), false},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{errors.New("plain"), false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestDo(t *testing.T) {
	p := Policy{Attempts: 4, Initial: time.Millisecond, Max: time.Millisecond}
	tests := []struct {
		name      string
		errs      []error
		wantCalls int
		wantErr   bool
	}{
		{"success first", nil, 1, false},
		{"transient then success", []error{status.Error(codes.Unavailable, "x")}, 2, false},
		{"permanent stops at once", []error{status.Error(codes.NotFound, "x")}, 1, true},
		{"gives up after attempts", []error{&googleapi.Error{Code: 503}, &googleapi.Error{Code: 503}, &googleapi.Error{Code: 503}, &googleapi.Error{Code: 503}}, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := Do(context.Background(), p, func(context.Context) error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if calls != tt.wantCalls || (err != nil) != tt.wantErr {
				t.Errorf("calls = %d, err = %v; want %d calls, error %v", calls, err, tt.wantCalls, tt.wantErr)
			}
		})
	}
}
