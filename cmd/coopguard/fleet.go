package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// fleetFilter narrows status and incidents to a project and a sandbox
// (--project, --sandbox); empty fields match everything.
type fleetFilter struct {
	project, sandbox string
}

func (f *fleetFilter) flags(fs *flag.FlagSet) {
	fs.StringVar(&f.project, "project", "", "only the sandboxes of this project (default: every project)")
	fs.StringVar(&f.sandbox, "sandbox", "", "only the sandbox of this name (with --project when names repeat across projects)")
}

// query is the filter as Posture's query string ("" when empty).
func (f fleetFilter) query() string {
	v := url.Values{}
	if f.project != "" {
		v.Set("project", f.project)
	}
	if f.sandbox != "" {
		v.Set("sandbox", f.sandbox)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// matches reports whether the sandbox (project, name) passes the filter.
func (f fleetFilter) matches(project, name string) bool {
	return (f.project == "" || f.project == project) && (f.sandbox == "" || f.sandbox == name)
}

// incident reports whether the incident passes: it acted on a sandbox
// that passes, or (acting on none) is about a project that passes while
// no sandbox is named. home is coopguard's project, which an incident
// naming none is about ("" when unknown: such an incident passes any
// --project).
func (f fleetFilter) incident(r incident.Report, home string) bool {
	p := cmp.Or(r.Incident.Project, home)
	inProject := f.project == "" || p == "" || f.project == p
	if r.Instance == "" {
		return f.sandbox == "" && inProject
	}
	return inProject && (f.sandbox == "" || f.sandbox == r.Instance)
}

// status returns the part of rep that passes the filter: instances and
// secrets by their own project (coopguard's when a server predating it
// names none).
func (f fleetFilter) status(rep *functions.StatusReport) *functions.StatusReport {
	if f == (fleetFilter{}) {
		return rep
	}
	out := *rep
	out.Sandboxes = slices.DeleteFunc(slices.Clone(rep.Sandboxes), func(s functions.SandboxStatus) bool { return !f.matches(s.Project, s.Name) })
	out.Instances = slices.DeleteFunc(slices.Clone(rep.Instances), func(in functions.InstanceStatus) bool { return !f.matches(cmp.Or(in.Project, rep.Project), in.Name) })
	out.Secrets = slices.DeleteFunc(slices.Clone(rep.Secrets), func(s functions.SecretStatus) bool { return !f.matches(cmp.Or(s.Project, rep.Project), s.Sandbox) })
	out.Incidents = f.incidents(rep.Incidents, rep.Project)
	return &out
}

// incidents returns the reports that pass the filter, in order.
func (f fleetFilter) incidents(reps []incident.Report, home string) []incident.Report {
	if f == (fleetFilter{}) {
		return reps
	}
	return slices.DeleteFunc(slices.Clone(reps), func(r incident.Report) bool { return !f.incident(r, home) })
}

// drilled is the sandbox VM a drill targets, and its project: the one
// --sandbox names, else the first Status lists; with --project another
// project than coopguard's, that project's sandbox of the registry
// (Status's sandboxes) whose VM is built.
func (f fleetFilter) drilled(st *functions.StatusReport) (string, functions.InstanceStatus, error) {
	if f.project != "" && f.project != st.Project {
		for _, sb := range st.Sandboxes {
			if sb.Project == f.project && sb.InstanceID != "" && (f.sandbox == "" || sb.Name == f.sandbox) {
				return sb.Project, functions.InstanceStatus{Name: sb.Name, ID: sb.InstanceID, Zone: sb.Zone}, nil
			}
		}
		what := "no sandbox"
		if f.sandbox != "" {
			what = "no sandbox " + f.sandbox
		}
		return "", functions.InstanceStatus{}, fmt.Errorf("%s with a built VM in project %s to drill: coopguard status --project %s lists the sandboxes coopguard guards there", what, f.project, f.project)
	}
	for _, in := range st.Instances {
		if cmp.Or(in.Project, st.Project) == st.Project && (f.sandbox == "" || in.Name == f.sandbox) {
			return st.Project, in, nil
		}
	}
	if f.sandbox != "" {
		return "", functions.InstanceStatus{}, fmt.Errorf("no sandbox %s in project %s to drill: coopguard status lists them", f.sandbox, st.Project)
	}
	return "", functions.InstanceStatus{}, errors.New("no sandbox to drill: run coopguard provision first")
}

// fleetDetail is the most sandboxes status shows in detail (every
// instance, every secret version); past it, one line per sandbox.
const fleetDetail = 5

// fleetWidth bounds a fleet table's lines (in bytes), as posture's.
const fleetWidth = 100

// printFleetSummary prints the one line that opens status: how many
// sandboxes in how many projects, their VMs, their incidents.
func printFleetSummary(w io.Writer, rep *functions.StatusReport) {
	projects := map[string]bool{}
	vms := map[string]int{}
	for _, s := range rep.Sandboxes {
		projects[s.Project] = true
		vms[cmp.Or(s.VM, "not read")]++
	}
	var states []string
	for _, k := range slices.Sorted(maps.Keys(vms)) {
		states = append(states, fmt.Sprintf("%d %s", vms[k], escape(strings.ToLower(k))))
	}
	line := fmt.Sprintf("%d sandbox(es) in %d project(s)", len(rep.Sandboxes), len(projects))
	if len(states) > 0 {
		line += ": " + strings.Join(states, ", ")
	}
	fmt.Fprintf(w, "%s; %d incident(s)\n", line, len(rep.Incidents))
}

// printFleet prints one line per sandbox, at most fleetWidth bytes: its
// project (never clipped: an id has at most 30 characters), name, VM,
// network ("own" for the VPC Provision made it), incidents and the newest
// one's outcome.
func printFleet(w io.Writer, sandboxes []functions.SandboxStatus) {
	const row = "%-30s  %-24s  %-10s  %-12s  %3s  %s\n"
	fmt.Fprintf(w, row, "PROJECT", "SANDBOX", "VM", "NETWORK", "INC", "LATEST")
	for _, s := range sandboxes {
		net := "own"
		if s.Adopted {
			net = s.Network + "*"
		}
		fmt.Fprintf(w, row, escape(s.Project), clip(escape(s.Name), 24), clip(orDash(escape(s.VM)), 10),
			clip(escape(net), 12), fmt.Sprint(s.Incidents), clip(orDash(escape(s.Latest)), 10))
	}
	fmt.Fprintln(w, "(* adopted, on its own network; --project and --sandbox narrow this to detail)")
}

// printFleetIncidents prints the incidents one line each, at most
// fleetWidth bytes.
func printFleetIncidents(w io.Writer, reps []incident.Report, home string) {
	const row = "%-20s  %-10s  %-30s  %-14s  %s\n"
	fmt.Fprintf(w, row, "INCIDENT", "OUTCOME", "PROJECT", "SANDBOX", "TRIGGER")
	for _, r := range reps {
		r = printable(r)
		fmt.Fprintf(w, row, clip(escape(r.Incident.ID), 20), clip(escape(r.Outcome), 10), clip(escape(cmp.Or(r.Incident.Project, home)), 30),
			clip(orDash(escape(r.Instance)), 14), clip(escape(r.Incident.Trigger), 16))
	}
}

// clip shortens s to n bytes, keeping its start and end around "..", so
// that two long names stay told apart.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	head := (n - 2) / 2
	// A cut through a multi-byte character drops its bytes.
	return strings.ToValidUTF8(s[:head], "") + ".." + strings.ToValidUTF8(s[len(s)-(n-2-head):], "")
}
