// Package paging cuts list results into pages the way Google's gRPC APIs
// do, for every fake of the emulated GCP.
package paging

import (
	"encoding/base64"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Limits are one API's page sizes: page_size 0 means Default, and larger
// sizes are capped at Max rather than refused, as the API references say.
type Limits struct {
	Default, Max int
}

// Page cuts one page out of items, which the caller has already filtered
// and sorted. The token is an opaque offset, so it stays valid only for the
// same listing, which is all the services promise too.
func Page[T any](l Limits, items []T, size int32, token string) ([]T, string, error) {
	if size < 0 {
		return nil, "", status.Error(codes.InvalidArgument, "page_size must not be negative.")
	}
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		n, err2 := strconv.Atoi(string(raw))
		if err != nil || err2 != nil || n < 0 || n > len(items) {
			return nil, "", status.Errorf(codes.InvalidArgument, "Invalid page_token %q.", token)
		}
		start = n
	}
	n := int(size)
	if n == 0 {
		n = l.Default
	}
	n = min(n, l.Max)
	end := min(start+n, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}
