package run

import (
	"encoding/base64"
	"strconv"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Paging limits of the API reference: page_size 0 means the default, and
// larger sizes are capped rather than refused.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// page cuts one page out of items, which the caller has already filtered
// and sorted. The token is an opaque offset, so it stays valid only for the
// same listing, which is all the service promises too.
func page[T any](items []T, size int32, token string) ([]T, string, error) {
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
		n = defaultPageSize
	}
	if n > maxPageSize {
		n = maxPageSize
	}
	end := min(start+n, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}
