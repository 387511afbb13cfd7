package grpctest

import (
	"context"
	"io"
	"testing"

	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Client connects one official client over opts (from Serve) and closes it
// when the test ends.
func Client[C io.Closer](tb testing.TB, opts []option.ClientOption, dial func(context.Context, ...option.ClientOption) (C, error)) C {
	tb.Helper()
	c, err := dial(context.Background(), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// WantCode fails the test now unless err carries the gRPC code want.
func WantCode(tb testing.TB, err error, want codes.Code) {
	tb.Helper()
	if got := status.Code(err); got != want {
		tb.Fatalf("error = %v, want code %v", err, want)
	}
}
