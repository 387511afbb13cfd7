package detect

import (
	"os"
	"path/filepath"
	"testing"
)

// samplesDir holds the sample payloads (testdata/samples/README.md cites
// their public sources), relative to this package's directory.
const samplesDir = "../../testdata/samples"

// sample returns the named sample payload.
func sample(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		tb.Fatalf("sample %s: %v", name, err)
	}
	return b
}
