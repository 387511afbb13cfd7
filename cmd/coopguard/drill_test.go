package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
)

// fakeResponder is a coopguard server whose responder answers one
// incident with reports in turn: each Status read after the incident
// exists shows the next report, the last one again once all were shown.
// A drill's incident exists once it is posted to HandleAlert; with id
// set, it exists from the start.
type fakeResponder struct {
	mu      sync.Mutex
	id      string
	reports []incident.Report
	// reads counts the Status reads that showed the incident; onRead,
	// when set, is called with each count (a test ends its context there).
	reads  int
	onRead func(int)
}

func (f *fakeResponder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.URL.Path {
	case "/Status":
		st := functions.StatusReport{Project: "coopguard-local", Instances: []functions.InstanceStatus{{Name: "claude-sandbox", ID: "42", Zone: "europe-west1-b", Status: "RUNNING"}}}
		if f.id != "" {
			rep := f.reports[min(f.reads, len(f.reports)-1)]
			rep.Incident.ID = f.id
			st.Incidents = append(st.Incidents, rep)
			f.reads++
			if f.onRead != nil {
				f.onRead(f.reads)
			}
		}
		writeJSONBody(w, http.StatusOK, st)
	case "/HandleAlert": // the drill, posted as Eventarc would
		f.id = r.Header.Get("ce-id")
	default: // no EmulatorPublish: the drill goes to HandleAlert
		http.NotFound(w, r)
	}
}

// fastFollow makes --wait look again at once, for the test's length.
func fastFollow(t *testing.T) {
	t.Helper()
	was := followEvery
	followEvery = time.Millisecond
	t.Cleanup(func() { followEvery = was })
}

// drillT0 is when the drills' events were received.
var drillT0 = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

// drillAt is a time after drillT0.
func drillAt(ms int) time.Time { return drillT0.Add(time.Duration(ms) * time.Millisecond) }

// contained is a contain drill's report once the containment held at
// +0.412 s, its follow-up steps as given (action, result, detail).
func contained(outcome, followUp string, steps ...[3]string) incident.Report {
	rep := incident.Report{
		Incident: incident.Incident{Source: incident.SourceDrill, Trigger: "coopguard drill", Playbook: incident.PlaybookContain},
		Instance: "claude-sandbox", Outcome: outcome, FollowUp: followUp, ReceivedAt: drillT0,
		ContainmentSeconds: 0.412, CriticalPathSeconds: 0.398,
	}
	for _, a := range []string{"label-incident", "quarantine-tag", "disable-secrets", "revoke-key", "stop-vm", "stop-agents"} {
		rep.Actions = append(rep.Actions, incident.ActionResult{Action: a, Result: incident.ResultDone, Start: drillAt(10), End: drillAt(412), Seconds: 0.402})
	}
	for i, s := range steps {
		a := incident.ActionResult{Action: s[0], Result: s[1], Detail: s[2]}
		if s[1] == incident.ResultFailed {
			a.Detail, a.Reason = "", s[2]
		}
		if s[2] != "follow-up: not looked at yet" {
			a.Start, a.End = drillAt(60000+i), drillAt(60100+i)
			a.Seconds = 0.1
		}
		rep.Actions = append(rep.Actions, a)
	}
	return rep
}

// The follow-up of a contain drill, look by look: the steps as the event
// function leaves them, the VM still stopping (seen twice: no change),
// the VM stopped and the snapshot under way, then all done.
var (
	drillActing   = incident.Report{Incident: incident.Incident{Playbook: incident.PlaybookContain, Source: incident.SourceDrill}, Outcome: store.StateActing, ReceivedAt: drillT0, Actions: []incident.ActionResult{}}
	drillFresh    = contained(incident.OutcomeContained, incident.FollowUpRunning, [3]string{"agents-ack", "pending", "follow-up: not looked at yet"}, [3]string{"vm-terminated", "pending", "follow-up: not looked at yet"}, [3]string{"snapshot-disk", "pending", "follow-up: not looked at yet"}, [3]string{"collect-logs", "pending", "follow-up: not looked at yet"})
	drillStopping = contained(incident.OutcomeContained, incident.FollowUpRunning, [3]string{"agents-ack", "done", "agents stopped (the VM says)"}, [3]string{"vm-terminated", "pending", "VM is STOPPING"}, [3]string{"snapshot-disk", "pending", "waiting for vm-terminated"}, [3]string{"collect-logs", "pending", "waiting for vm-terminated"})
	drillSnapshot = contained(incident.OutcomeContained, incident.FollowUpRunning, [3]string{"agents-ack", "done", "agents stopped (the VM says)"}, [3]string{"vm-terminated", "done", "VM is TERMINATED"}, [3]string{"snapshot-disk", "pending", "snapshot CREATING"}, [3]string{"collect-logs", "done", "2 audited calls"})
	drillComplete = contained(incident.OutcomeComplete, incident.FollowUpDone, [3]string{"agents-ack", "done", "agents stopped (the VM says)"}, [3]string{"vm-terminated", "done", "VM is TERMINATED"}, [3]string{"snapshot-disk", "done", "snapshot READY"}, [3]string{"collect-logs", "done", "2 audited calls"})
	drillGaveUp   = contained(incident.OutcomeIncomplete, incident.FollowUpDone, [3]string{"agents-ack", "done", "agents stopped (the VM says)"}, [3]string{"vm-terminated", "done", "VM is TERMINATED"}, [3]string{"snapshot-disk", "failed", "quota exceeded"}, [3]string{"collect-logs", "done", "2 audited calls"})
)

func init() {
	drillComplete.Evidence = &incident.Evidence{From: drillT0.Add(-30 * time.Minute), To: drillAt(60100),
		Audit: &incident.AuditEvidence{Source: incident.FromOutside, Principal: "sa@coopguard-local.iam.gserviceaccount.com", Entries: 2, Allowed: 2}}
	drillGaveUp.Reason = "contained; the follow-up could not finish: snapshot-disk: quota exceeded"
}

// TestDrillFollowUp: the drill returns as soon as the containment holds,
// saying what still runs and how to follow it; --wait follows the
// follow-up to its end, one line per change and never one unchanged;
// --json keeps the report's shape with its follow-up state (with --wait,
// only the final report).
func TestDrillFollowUp(t *testing.T) {
	fastFollow(t)
	tests := []struct {
		name    string
		args    []string
		reports []incident.Report
		// reads is how many Status reads of the incident the drill makes.
		reads   int
		wantErr bool
		// want are in the output in this order; once appear exactly once.
		want, once, none []string
	}{
		{
			name: "returns once contained", reports: []incident.Report{drillActing, drillFresh, drillStopping}, reads: 2,
			want: []string{
				"(contained, contain via drill)",
				"  follow-up running — 0 of 4 steps over\n",
				"  vm-terminated    -",
				"time to containment: 0.412s (critical path 0.398s)\n",
				"  still running: agents-ack, vm-terminated, snapshot-disk, collect-logs (follow-up: not looked at yet)\n",
				"\nnext: coopguard incidents show alert-drill-",
				" --wait   (follow the follow-up to its end), then undo the drill: coopguard resolve alert-drill-",
			},
			none: []string{"following", "VM is STOPPING"},
		},
		{
			name: "--wait follows to the end", args: []string{"--wait"},
			reports: []incident.Report{drillFresh, drillStopping, drillStopping, drillSnapshot, drillSnapshot, drillComplete}, reads: 6,
			want: []string{
				"still running: agents-ack, vm-terminated",
				"\nfollowing alert-drill-",
				"+60.1s  agents-ack       done     agents stopped (the VM says)\n",
				"+60.1s  vm-terminated    pending  VM is STOPPING\n",
				"+60.1s  vm-terminated    done     VM is TERMINATED\n",
				"+60.1s  snapshot-disk    pending  snapshot CREATING\n",
				"+60.1s  snapshot-disk    done     snapshot READY\n",
				"\nincident alert-drill-",
				" complete, follow-up done\n",
				"Cloud Audit Logs",
				"\nnext: coopguard incidents show alert-drill-",
			},
			once: []string{"VM is STOPPING", "snapshot CREATING", "agents stopped", "complete, follow-up done", "snapshot-disk    pending  waiting for vm-terminated"},
			none: []string{"\x1b", "\r", "label-incident   done"},
		},
		{
			name: "--wait: the follow-up could not finish", args: []string{"--wait"},
			reports: []incident.Report{drillFresh, drillSnapshot, drillGaveUp}, reads: 3, wantErr: true,
			want: []string{
				"+60.1s  snapshot-disk    pending  snapshot CREATING\n",
				"+60.1s  snapshot-disk    failed   quota exceeded\n",
				" incomplete, follow-up done\n",
				"  reason    contained; the follow-up could not finish: snapshot-disk: quota exceeded\n",
				"(what the follow-up could not do), then undo the drill: coopguard resolve alert-drill-",
			},
		},
		{
			name: "--json", args: []string{"--json"}, reports: []incident.Report{drillFresh}, reads: 1,
			want: []string{`"outcome": "contained"`, `"followUp": "running"`, `"result": "pending"`},
		},
		{
			name: "--wait --json", args: []string{"--wait", "--json"}, reports: []incident.Report{drillFresh, drillStopping, drillComplete}, reads: 3,
			want: []string{`"outcome": "complete"`, `"followUp": "done"`},
			none: []string{"following", "pending"},
		},
		{
			name: "a dry run has nothing to follow", args: []string{"--wait", "--dry-run"},
			reports: []incident.Report{{Incident: incident.Incident{Playbook: "contain", Source: "drill"}, Outcome: incident.OutcomeDryRun, Actions: []incident.ActionResult{{Action: "stop-vm", Result: incident.ResultDryRun}}}}, reads: 1,
			want: []string{"(dry-run, contain via drill)", "\nnext: coopguard drill   (without --dry-run"},
			none: []string{"following", "follow-up"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeResponder{reports: tt.reports}
			srv := httptest.NewServer(f)
			defer srv.Close()
			var out bytes.Buffer
			err := realMain(context.Background(), append([]string{"drill", "--server", srv.URL}, tt.args...), &out)
			if (err != nil) != tt.wantErr {
				t.Fatalf("drill %v: err = %v, want error %v\n%s", tt.args, err, tt.wantErr, out.String())
			}
			got := out.String()
			f.mu.Lock()
			reads := f.reads
			f.mu.Unlock()
			if reads != tt.reads {
				t.Errorf("the drill read the incident %d times, want %d (it must return once contained, and follow only with --wait)", reads, tt.reads)
			}
			wantInOrder(t, got, tt.want)
			for _, w := range tt.once {
				if n := strings.Count(got, w); n != 1 {
					t.Errorf("%q printed %d times, want once:\n%s", w, n, got)
				}
			}
			for _, w := range tt.none {
				if strings.Contains(got, w) {
					t.Errorf("output has %q:\n%s", w, got)
				}
			}
			if undone := tt.reports[len(tt.reports)-1].Outcome != incident.OutcomeDryRun && !slicesContain(tt.args, "--json"); undone && !strings.HasSuffix(got, " --restore\n") {
				t.Errorf("the drill's last line is not how to undo it:\n%s", got)
			}
			if slicesContain(tt.args, "--json") {
				dec := json.NewDecoder(strings.NewReader(got))
				var rep incident.Report
				if err := dec.Decode(&rep); err != nil || rep.Incident.ID == "" {
					t.Fatalf("--json printed no report (%v):\n%s", err, got)
				}
				if err := dec.Decode(&rep); !errors.Is(err, io.EOF) {
					t.Errorf("--json printed more than one report:\n%s", got)
				}
			}
		})
	}
}

func slicesContain(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestDrillWaitStopsWithItsContext: --wait on a follow-up that never ends
// stops when its context does (Ctrl-C), says that the follow-up goes on
// and how to follow it again, and reports that it stopped.
func TestDrillWaitStopsWithItsContext(t *testing.T) {
	fastFollow(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeResponder{reports: []incident.Report{drillFresh, drillStopping}, onRead: func(n int) {
		if n == 5 {
			cancel()
		}
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out bytes.Buffer
	err := realMain(ctx, []string{"drill", "--wait", "--server", srv.URL}, &out)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped following alert-drill-") {
		t.Fatalf("err = %v, want it stopped following with its context", err)
	}
	if got := out.String(); strings.Count(got, "VM is STOPPING") != 1 || !strings.Contains(got, " --wait   (the follow-up goes on without you)\n") {
		t.Errorf("output:\n%s", got)
	}
}

// TestIncidentShowWait: `incidents show ID` shows the follow-up's state
// and its pending steps as pending; with --wait it follows them to the
// end, as text under the timeline, or for another format only the final
// report.
func TestIncidentShowWait(t *testing.T) {
	fastFollow(t)
	tests := []struct {
		args       []string
		reads      int
		want, none []string
	}{
		{[]string{}, 1, []string{"(contained, contain via drill)", "  follow-up running — 1 of 4 steps over\n", "  vm-terminated    +60.001s  -        pending  VM is STOPPING",
			"still running: vm-terminated (VM is STOPPING), snapshot-disk, collect-logs (waiting for vm-terminated)\n"}, []string{"following"}},
		{[]string{"--wait"}, 3, []string{"follow-up running — 1 of 4 steps over", "\nfollowing alert-x", "vm-terminated    done     VM is TERMINATED\n",
			"\nincident alert-x complete, follow-up done\n"}, []string{"next:"}},
		{[]string{"--wait", "--format", "markdown"}, 3, []string{"# coopguard incident alert-x: complete\n", "- **Follow-up:** done\n"}, []string{"following", "pending"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			f := &fakeResponder{id: "alert-x", reports: []incident.Report{drillStopping, drillSnapshot, drillComplete}}
			srv := httptest.NewServer(f)
			defer srv.Close()
			var out bytes.Buffer
			if err := realMain(context.Background(), append([]string{"incidents", "show", "alert-x", "--server", srv.URL}, tt.args...), &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			got := out.String()
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.reads != tt.reads {
				t.Errorf("%d reads of the incident, want %d", f.reads, tt.reads)
			}
			wantInOrder(t, got, tt.want)
			for _, w := range tt.none {
				if strings.Contains(got, w) {
					t.Errorf("output has %q:\n%s", w, got)
				}
			}
		})
	}
}

// TestDrillProgressOnTerminal: on a terminal the display redraws its block in
// place (back to its first line, erased, lines unwrapped), one line per
// follow-up step under the state; what the report says is escaped there
// too.
func TestDrillProgressOnTerminal(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, true, &drillFresh)
	first := out.String()
	if strings.Contains(first, "\x1b[5F") || !strings.Contains(first, "follow-up running — 0 of 4 steps over") || strings.Count(first, "\n") != 5 {
		t.Errorf("first draw:\n%q", first)
	}
	hostileStep := drillStopping
	hostileStep.Actions = append([]incident.ActionResult(nil), drillStopping.Actions...)
	hostileStep.Actions[7].Detail = hostile
	out.Reset()
	p.update(&hostileStep)
	redraw := out.String()
	for _, want := range []string{"\x1b[?7l\x1b[5F\x1b[J", "follow-up running — 1 of 4 steps over", "    vm-terminated  pending  x\\x1b[31m\\x1b[2J", "    snapshot-disk  pending  waiting for vm-terminated\n", "\x1b[?7h"} {
		if !strings.Contains(redraw, want) {
			t.Errorf("redraw lacks %q:\n%q", want, redraw)
		}
	}
	if strings.ContainsAny(redraw, "\x07\r\u202e") || strings.Contains(redraw, "\x1b]52") || strings.Contains(redraw, "label-incident") {
		t.Errorf("redraw has raw outside text or a containment step:\n%q", redraw)
	}
}

// TestDrillProgressLinesEscape: one line per change, escaped.
func TestDrillProgressLinesEscape(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, false, &drillFresh)
	if out.Len() != 0 {
		t.Errorf("the display repeated the summary: %q", out.String())
	}
	rep := drillStopping
	rep.Actions = append([]incident.ActionResult(nil), drillStopping.Actions...)
	rep.Actions[7].Detail, rep.Actions[8].Reason, rep.Actions[8].Result = hostile, hostile, incident.ResultFailed
	p.update(&rep)
	p.update(&rep)
	if got := out.String(); strings.ContainsAny(got, "\x1b\x07\r\u202e") || strings.Count(got, `x\x1b[31m`) != 2 || strings.Count(got, "\n") != 4 {
		t.Errorf("lines:\n%q", got)
	}
}

// TestDrillProgressStateOnce: in line mode a change of the outcome or of
// the follow-up on the way (a containment that held while followed) is
// said once; a look that finds nothing new prints nothing.
func TestDrillProgressStateOnce(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, false, &drillActing)
	p.update(&drillFresh)
	p.update(&drillFresh)
	got := out.String()
	if n := strings.Count(got, "  outcome contained, follow-up running — 0 of 4 steps over\n"); n != 1 || strings.Count(got, "\n") != 1+len(drillFresh.Actions) {
		t.Errorf("lines:\n%s", got)
	}
}

// wantInOrder fails t unless got holds each of want, in that order.
func wantInOrder(t *testing.T, got string, want []string) {
	t.Helper()
	at := 0
	for _, w := range want {
		i := strings.Index(got[at:], w)
		if i < 0 {
			t.Errorf("output lacks %q after offset %d:\n%s", w, at, got)
			continue
		}
		at += i + len(w)
	}
}
