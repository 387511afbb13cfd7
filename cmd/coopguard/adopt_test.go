package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/provisioner"
)

// TestAdoptPrintsGapsAndWatcherInstall: an adoption's output names its
// network, every gap with its fix, and the watcher's one-line install; a
// built sandbox's report prints none of it.
func TestAdoptPrintsGapsAndWatcherInstall(t *testing.T) {
	rep := &provisioner.Report{Project: "p", Sandbox: "claude-sandbox", Adopted: "default",
		Gaps:           []provisioner.Gap{{What: "has an external IP", Fix: "gcloud compute instances delete-access-config claude-sandbox"}},
		WatcherInstall: "gcloud compute ssh claude-sandbox --tunnel-through-iap"}
	var out bytes.Buffer
	printAdoption(&out, rep)
	for _, want := range []string{"network default", "without a restart", "has an external IP", "fix: gcloud compute instances delete-access-config", "--tunnel-through-iap"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("adopt output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	printAdoption(&out, &provisioner.Report{Project: "p", Sandbox: "s"})
	if out.Len() != 0 {
		t.Errorf("a built sandbox printed adoption lines: %q", out.String())
	}
}

// TestAdoptNameAndAllExclude: --name with --all is a usage error.
func TestAdoptNameAndAllExclude(t *testing.T) {
	err := runAdopt(context.Background(), []string{"--name", "x", "--all"}, io.Discard)
	if !errors.Is(err, errUsage) {
		t.Errorf("adopt --name x --all = %v, want a usage error", err)
	}
}
