package logging

import "github.com/cloudcoop/coopguard/test/emulator/paging"

// pageLimits are this API's page sizes (API reference).
var pageLimits = paging.Limits{Default: 50, Max: 1000}

// page cuts one page out of items (see paging.Page).
func page[T any](items []T, size int32, token string) ([]T, string, error) {
	return paging.Page(pageLimits, items, size, token)
}
