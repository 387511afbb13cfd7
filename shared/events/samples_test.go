package events

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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

// samplesWithPrefix returns every sample whose name starts with prefix.
func samplesWithPrefix(tb testing.TB, prefix string) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir, prefix+"*"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no samples %s* in %s", prefix, samplesDir)
	}
	var out [][]byte
	for _, f := range files {
		out = append(out, sample(tb, filepath.Base(f)))
	}
	return out
}

// wrappedMessage reads a sample shaped {attributes, data} (Secret Manager,
// Scheduler) into a PubSubMessage.
func wrappedMessage(tb testing.TB, raw []byte) PubSubMessage {
	tb.Helper()
	var w struct {
		Attributes map[string]string `json:"attributes"`
		Data       json.RawMessage   `json:"data"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		tb.Fatalf("sample: %v", err)
	}
	return PubSubMessage{Attributes: w.Attributes, Data: w.Data, MessageID: "1"}
}

// pushBody returns the body of the binary-mode CloudEvent sample with its
// data placeholder replaced by the real base64 of the open incident.
func pushBody(tb testing.TB) []byte {
	tb.Helper()
	raw := strings.ReplaceAll(string(sample(tb, "cloudevent-pubsub-binary-mode.http")), "\r\n", "\n")
	_, body, ok := strings.Cut(raw, "\n\n")
	if !ok {
		tb.Fatal("http sample has no body")
	}
	enc := base64.StdEncoding.EncodeToString(sample(tb, "monitoring-incident-open.json"))
	return []byte(strings.Replace(strings.TrimSpace(body), "<base64 of monitoring-incident-open.json>", enc, 1))
}
