// Package logger makes log/slog write JSON lines in Cloud Logging's
// structured format (severity, message, trace) and carries the logger in
// the context, so every handler logs with its execution and event ids.
package logger

import (
	"context"
	"io"
	"log/slog"
	"os"
)

// LevelCritical is Cloud Logging's CRITICAL, above slog's Error.
const LevelCritical = slog.Level(12)

// LevelNotice is Cloud Logging's NOTICE, between Info and Warn.
const LevelNotice = slog.Level(2)

// New returns a logger writing Cloud Logging JSON to w at level and above.
func New(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		ReplaceAttr: replace,
	}))
}

// Default returns the process logger: stderr, Info and above, or Debug when
// COOPGUARD_DEBUG is set.
func Default() *slog.Logger {
	lvl := slog.LevelInfo
	if os.Getenv("COOPGUARD_DEBUG") != "" {
		lvl = slog.LevelDebug
	}
	return New(os.Stderr, lvl)
}

// Severity maps a slog level to Cloud Logging's severity name.
func Severity(l slog.Level) string {
	switch {
	case l >= LevelCritical:
		return "CRITICAL"
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= LevelNotice:
		return "NOTICE"
	case l >= slog.LevelInfo:
		return "INFO"
	default:
		return "DEBUG"
	}
}

func replace(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.LevelKey:
		lvl, _ := a.Value.Any().(slog.Level)
		return slog.String("severity", Severity(lvl))
	case slog.MessageKey:
		return slog.Attr{Key: "message", Value: a.Value}
	case slog.TimeKey:
		return slog.Attr{Key: "timestamp", Value: a.Value}
	}
	return a
}

type ctxKey struct{}

// WithLogger returns ctx carrying l.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext returns the logger in ctx, or slog.Default().
func FromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(ctxKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// TraceAttr returns the Cloud Logging trace attribute for a trace id in
// project, so log lines group under their request in the console.
func TraceAttr(project, traceID string) slog.Attr {
	return slog.String("logging.googleapis.com/trace", "projects/"+project+"/traces/"+traceID)
}
