package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestResumeBadInput: a mistake is refused before anything is read or
// changed, saying what to do.
func TestResumeBadInput(t *testing.T) {
	cases := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"resume"}, true, "coopguard resume INCIDENT"},
		{[]string{"resume", "--force"}, true, "coopguard resume INCIDENT"},
		{[]string{"resume", "alert-1", "--reason", "why"}, true, "resolve alert-1 --note"},
		{[]string{"resume", "alert-1", "--server", "http://127.0.0.1:1"}, false, "pass --config"},
		{[]string{"resume", "alert-1", "--dry-run", "--reason", "why"}, true, "--reason goes with --force"},
	}
	for _, c := range cases {
		err := realMain(context.Background(), c.args, &bytes.Buffer{})
		if err == nil || errors.Is(err, errUsage) != c.usage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("coopguard %v = %v; want usage=%v, saying %q", c.args, err, c.usage, c.want)
		}
	}
}
