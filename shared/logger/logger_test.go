package logger

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestCloudLoggingShape(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug, "DEBUG"},
		{slog.LevelInfo, "INFO"},
		{LevelNotice, "NOTICE"},
		{slog.LevelWarn, "WARNING"},
		{slog.LevelError, "ERROR"},
		{LevelCritical, "CRITICAL"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		l := New(&buf, slog.LevelDebug)
		ctx := WithLogger(context.Background(), l.With("incident", "i1"))
		FromContext(ctx).Log(ctx, tt.level, "hello", "k", "v")
		var got map[string]any
		if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
			t.Fatalf("%s: not JSON: %v: %s", tt.want, err, buf.String())
		}
		if got["severity"] != tt.want || got["message"] != "hello" || got["incident"] != "i1" || got["k"] != "v" {
			t.Errorf("line = %v, want severity %s, message hello, incident and k", got, tt.want)
		}
		if _, ok := got["level"]; ok {
			t.Errorf("line still has slog's level key: %v", got)
		}
	}
}
