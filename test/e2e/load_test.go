package e2e

import (
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestHTTPFunctionsUnderLoad sends 500 concurrent Provision and Status
// requests: no 5xx, exactly one sandbox, memory bounded.
func TestHTTPFunctionsUnderLoad(t *testing.T) {
	w := newWorld(t)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 500, MaxConnsPerHost: 500}}
	t.Cleanup(client.CloseIdleConnections)
	const n = 500
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			method, path := http.MethodGet, "/Status"
			if i%2 == 0 {
				method, path = http.MethodPost, "/Provision"
			}
			req, _ := http.NewRequest(method, w.url+path, strings.NewReader(""))
			resp, err := client.Do(req)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d = %d", i, c)
		}
	}
	if n := len(w.emu.Compute.Instances(w.cfg.Cloud.GCP.Project)); n != 1 {
		t.Errorf("%d instances after the load, want 1", n)
	}
	m := w.emu.Faults.MutationSnapshot()
	if m["compute.instances.insert"] != 1 || m["compute.networks.insert"] != 1 {
		t.Errorf("inserts: %v, want one of each", m)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapInuse) - int64(before.HeapInuse); grown > 256<<20 {
		t.Errorf("heap grew by %d MiB under load, want a bounded footprint", grown>>20)
	}
}
