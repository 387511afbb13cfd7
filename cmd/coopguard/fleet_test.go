package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// fleetReport is a Status report of 200 sandboxes in 50 projects (ids of
// 30 characters, names up to 63, the longest GCP allows), with incidents.
func fleetReport() *functions.StatusReport {
	rep := &functions.StatusReport{Project: "coopguard-home"}
	for i := range 200 {
		project := fmt.Sprintf("cloudcoop-sandbox-project-%04d", i/4)
		name := fmt.Sprintf("sandbox-%03d", i)
		if i%2 == 0 {
			name = fmt.Sprintf("a-very-long-sandbox-name-that-goes-on-and-on-and-on-%011d", i)
		}
		rep.Sandboxes = append(rep.Sandboxes, functions.SandboxStatus{Project: project, Zone: "us-central1-a", Name: name,
			InstanceID: fmt.Sprint(1000 + i), Network: "coopguard-" + name + "-net", Adopted: i%3 == 0, VM: "RUNNING", Incidents: i % 2, Latest: "contained"})
		if i%20 == 0 {
			rep.Incidents = append(rep.Incidents, incident.Report{Incident: incident.Incident{ID: "log-" + strings.Repeat("x", 30) + fmt.Sprint(i),
				Project: project, Trigger: "sandbox-sa-privileged-call"}, Instance: name, Outcome: "contained"})
		}
	}
	return rep
}

// TestStatusReadsAt200Sandboxes: status of 200 sandboxes opens with the
// summary line, then one line per sandbox, each told apart, no line over
// 100 columns; --project narrows to that project's four, --sandbox to one
// sandbox's detail, and the incidents follow the same filter.
func TestStatusReadsAt200Sandboxes(t *testing.T) {
	rep := fleetReport()
	var out bytes.Buffer
	printStatus(&out, rep)
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if want := "200 sandbox(es) in 50 project(s): 200 running; 10 incident(s)"; lines[0] != want {
		t.Errorf("first line %q, want the summary %q", lines[0], want)
	}
	seen := map[string]bool{}
	for i, l := range lines {
		if len(l) > fleetWidth {
			t.Errorf("line %d is %d columns, over %d: %q", i+1, len(l), fleetWidth, l)
		}
		if strings.HasPrefix(l, "cloudcoop-sandbox-project-") && !strings.Contains(l, "contained  cloudcoop") {
			addr := strings.Fields(l)[0] + "/" + strings.Fields(l)[1]
			if seen[addr] {
				t.Errorf("two sandboxes shown as %s", addr)
			}
			seen[addr] = true
		}
	}
	if len(seen) != 200 {
		t.Errorf("%d sandbox lines, want 200:\n%s", len(seen), out.String())
	}

	f := fleetFilter{project: "cloudcoop-sandbox-project-0007"}
	narrow := f.status(rep)
	if len(narrow.Sandboxes) != 4 || len(narrow.Incidents) != 0 {
		t.Errorf("--project %s: %d sandboxes, %d incidents; want 4, 0", f.project, len(narrow.Sandboxes), len(narrow.Incidents))
	}
	f = fleetFilter{project: "cloudcoop-sandbox-project-0005", sandbox: rep.Sandboxes[20].Name}
	one := f.status(rep)
	if len(one.Sandboxes) != 1 || len(one.Incidents) != 1 || one.Incidents[0].Instance != rep.Sandboxes[20].Name {
		t.Fatalf("--project --sandbox: %+v, incidents %+v; want that sandbox and its one incident", one.Sandboxes, one.Incidents)
	}
	out.Reset()
	printStatus(&out, one)
	if first, _, _ := strings.Cut(out.String(), "\n"); first != "1 sandbox(es) in 1 project(s): 1 running; 1 incident(s)" {
		t.Errorf("one sandbox's status opens with %q", first)
	}
	if !strings.Contains(out.String(), "project coopguard-home") {
		t.Errorf("one sandbox's status is not the detailed view:\n%s", out.String())
	}
	if got := (fleetFilter{sandbox: "sandbox-001"}).incidents(rep.Incidents, rep.Project); len(got) != 0 {
		t.Errorf("incidents --sandbox sandbox-001 = %d, want none (it has none)", len(got))
	}
}

// TestClipKeepsBothEnds: a clipped cell keeps its start and its end, fits
// its width, and never splits a character.
func TestClipKeepsBothEnds(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"project-0001/sandbox-long-name-17", 20, "project-0..g-name-17"},
		{"ééééééééé", 8, "é..é"},
	} {
		if got := clip(tt.in, tt.n); got != tt.want || len(got) > tt.n {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// TestDrillTargetsTheNamedSandbox: drill --sandbox picks that sandbox's
// VM; no filter the first; --project another project picks that
// project's sandbox from the registry, built ones only; an unknown name
// is an error naming it, and picks nothing.
func TestDrillTargetsTheNamedSandbox(t *testing.T) {
	st := &functions.StatusReport{Project: "home-proj", Instances: []functions.InstanceStatus{{Name: "claude-sandbox", ID: "1"}, {Name: "second", ID: "2"}},
		Sandboxes: []functions.SandboxStatus{{Project: "home-proj", Name: "claude-sandbox", InstanceID: "1"},
			{Project: "other-proj", Name: "unbuilt", Zone: "z"}, {Project: "other-proj", Name: "second", InstanceID: "9", Zone: "z"}}}
	for _, tt := range []struct {
		f                   fleetFilter
		project, want, zone string
		errSays             string
	}{
		{f: fleetFilter{}, project: "home-proj", want: "1"},
		{f: fleetFilter{sandbox: "second"}, project: "home-proj", want: "2"},
		{f: fleetFilter{project: "home-proj", sandbox: "second"}, project: "home-proj", want: "2"},
		{f: fleetFilter{project: "other-proj", sandbox: "second"}, project: "other-proj", want: "9", zone: "z"},
		{f: fleetFilter{project: "other-proj"}, project: "other-proj", want: "9", zone: "z"},
		{f: fleetFilter{sandbox: "third"}, errSays: "no sandbox third in project home-proj"},
		{f: fleetFilter{project: "other-proj", sandbox: "unbuilt"}, errSays: "no sandbox unbuilt with a built VM in project other-proj"},
		{f: fleetFilter{project: "third-proj"}, errSays: "no sandbox with a built VM in project third-proj"},
	} {
		project, vm, err := tt.f.drilled(st)
		if tt.errSays != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errSays) || vm.ID != "" {
				t.Errorf("%+v: %+v, %v; want an error saying %q", tt.f, vm, err, tt.errSays)
			}
			continue
		}
		if err != nil || vm.ID != tt.want || project != tt.project || vm.Zone != tt.zone {
			t.Errorf("%+v: drills %s %+v (%v), want instance %s in %s zone %q", tt.f, project, vm, err, tt.want, tt.project, tt.zone)
		}
	}
	if _, _, err := (fleetFilter{}).drilled(&functions.StatusReport{Project: "p"}); err == nil || !strings.Contains(err.Error(), "run coopguard provision first") {
		t.Errorf("no sandbox: err = %v", err)
	}
}

// TestFleetViewEscapes: the one-line-per-sandbox view shows text from
// outside (names, outcomes, the VM's status, triggers) escaped, like the
// detailed view.
func TestFleetViewEscapes(t *testing.T) {
	rep := fleetReport()
	hostile := "x\x1b[31m\a\r\u202e"
	rep.Sandboxes[0].Name, rep.Sandboxes[1].VM, rep.Sandboxes[2].Latest, rep.Sandboxes[3].Network, rep.Sandboxes[3].Adopted = hostile, hostile, hostile, hostile, true
	rep.Incidents[0].Incident.Trigger, rep.Incidents[1].Instance, rep.Incidents[2].Incident.Project = hostile, hostile, hostile
	var out bytes.Buffer
	printStatus(&out, rep)
	if i := strings.IndexAny(out.String(), "\x1b\x07\r\u202e"); i >= 0 {
		t.Fatalf("fleet view has a raw control character at %d:\n%q", i, out.String())
	}
	if !strings.Contains(out.String(), `x\x1b[31m`) {
		t.Errorf("the hostile text is not shown escaped:\n%s", out.String())
	}
}
