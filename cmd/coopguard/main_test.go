package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/test/emulator/firestoreemu"
)

// TestMain shares one Firestore emulator among the package's tests
// (FIRESTORE_EMULATOR_HOST): each emulated serve keeps its incidents in a
// database of its own there, and tests that open a store use a project of
// their own.
func TestMain(m *testing.M) {
	if _, err := firestoreemu.Shared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	firestoreemu.StopShared()
	os.Exit(code)
}

// TestQuickStart follows README's quick start: serve on the emulated GCP,
// provision twice, show status, run a drill. Like `make run` on a machine
// without FIRESTORE_EMULATOR_HOST, serve starts its own Firestore emulator.
func TestQuickStart(t *testing.T) {
	t.Setenv(firestoreemu.EnvHost, "")
	ctx := context.Background()
	// make run's default: GCP's operation times on the real clock.
	server, serveOut, stop := startServe(t)

	run := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := realMain(ctx, append(args, "--server", server), &out); err != nil {
			t.Fatalf("coopguard %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	if out := run("provision", "--dry-run"); !strings.Contains(out, "plan (dry run, nothing changed)") || !strings.Contains(out, "planned") {
		t.Errorf("provision --dry-run printed:\n%s", out)
	}
	if out := run("provision"); !strings.Contains(out, "converged") || strings.Contains(out, "failed") {
		t.Errorf("provision printed:\n%s", out)
	}
	var rep provisioner.Report
	if err := json.Unmarshal([]byte(run("provision", "--json")), &rep); err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Resources {
		if r.Action != provisioner.None {
			t.Errorf("second provision: %s/%s %s", r.Kind, r.Name, r.Action)
		}
	}
	if out := run("posture"); !strings.Contains(out, "0 failed") {
		t.Errorf("posture of a freshly provisioned demo sandbox:\n%s", out)
	}
	var st functions.StatusReport
	if err := json.Unmarshal([]byte(run("status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Instances) != 1 || st.Instances[0].Status != "RUNNING" {
		t.Fatalf("status = %+v", st)
	}
	if out := run("drill", "--dry-run"); !strings.Contains(out, "dry-run") || !strings.Contains(out, "\nnext: coopguard drill ") {
		t.Errorf("drill --dry-run printed:\n%s", out)
	}
	// On GCP's clock the drill answers once containment holds, while the
	// VM is still shutting down (a stop takes up to 90 s) and before the
	// snapshot: within seconds, with the follow-up still running.
	began := time.Now()
	out := run("drill")
	if took := time.Since(began); took > 30*time.Second {
		t.Errorf("drill took %v on GCP's operation times, want seconds", took)
	}
	if !strings.Contains(out, "(contained, contain via drill)") || !strings.Contains(out, "time to containment") ||
		!strings.Contains(out, "still running: ") ||
		!strings.Contains(out, "\nnext: coopguard incidents show alert-drill-") || !strings.HasSuffix(out, " --restore\n") {
		t.Errorf("drill printed:\n%s", out)
	}
	if strings.Contains(out, "time to containment: 0.000s") {
		t.Errorf("drill's time to containment is zero:\n%s", out)
	}
	if out := run("status"); !strings.Contains(out, "STOPPING") && !strings.Contains(out, "TERMINATED") || !strings.Contains(out, "DISABLED") {
		t.Errorf("status after drill:\n%s", out)
	}
	stop()
	if !strings.Contains(serveOut.String(), "EMULATED GCP") {
		t.Errorf("serve did not say the cloud is emulated: %s", serveOut.String())
	}
	if !strings.Contains(serveOut.String(), "Cloud Scheduler (emulated): coopguard-finish-incidents every minute") {
		t.Errorf("serve did not say its emulated Cloud Scheduler runs FinishIncidents: %s", serveOut.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"bogus"}, {"provision", "--no-such-flag"}, {"status", "extra-arg"}} {
		err := realMain(context.Background(), args, &bytes.Buffer{})
		if !errors.Is(err, errUsage) {
			t.Errorf("coopguard %v: err = %v, want a usage error (exit 2)", args, err)
		}
	}
}

func TestServerUnreachableSaysWhatToDo(t *testing.T) {
	err := realMain(context.Background(), []string{"status", "--server", "http://127.0.0.1:1"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "make run") {
		t.Errorf("err = %v, want advice to start the server", err)
	}
}

// TestEveryCommandHasHelp: COMMAND -h prints what the command does, its
// flags and at least one example of it, and runs nothing.
func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		for _, flag := range []string{"-h", "--help"} {
			var help, out bytes.Buffer
			helpOut = &help
			err := realMain(context.Background(), []string{c.name, flag}, &out)
			helpOut = os.Stdout
			if err != nil || out.Len() != 0 {
				t.Errorf("coopguard %s %s = %v, printed %q; want its help only", c.name, flag, err, out.String())
			}
			h := help.String()
			if !strings.HasPrefix(h, "coopguard "+c.name+": ") || !strings.Contains(h, "\nFlags:\n") || !strings.Contains(h, "\nExamples:\n  coopguard "+c.name) {
				t.Errorf("coopguard %s %s help lacks its purpose, flags or an example:\n%s", c.name, flag, h)
			}
		}
	}
}
