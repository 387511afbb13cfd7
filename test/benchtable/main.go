// Command benchtable turns `go test -bench` output (stdin) into the one
// table README keeps: every benchmark's figures, named for what they mean.
// It passes the raw output through to stderr so nothing is hidden.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
)

// row is one line of the table: a benchmark and what its figures mean.
type row struct {
	bench   string // benchmark name prefix, without -GOMAXPROCS
	label   string
	metrics []string // units to show, in order
}

var rows = []row{
	{"BenchmarkContainment", "containment, 20 ms per GCP call (contain playbook)", []string{"containment-ms", "critical-path-ms", "containment/critical", "sum-of-actions-ms"}},
	{"BenchmarkContainment", "contain DAG against its own critical path; the incident store's claim before it and its work after it", []string{"dag-ms", "dag-critical-ms", "dag/critical", "claim-ms", "done-after-ms"}},
	{"BenchmarkGCPLikeContainment", "contain playbook, GCP-like operation times (mutation 2 s, stop 90 s): event → egress cut (tag on), key unusable (versions disabled), VM stop requested, VM TERMINATED, in s", []string{"s-to-egress-cut", "s-to-key-unusable", "s-to-vm-stop-requested", "s-to-vm-terminated"}},
	{"BenchmarkGCPLikeContainment", "the same incident, coopguard's cost: event → the function's answer (containment holds), → incident complete (VM TERMINATED, snapshot READY, evidence read; the follow-up's passes a minute apart, as Cloud Scheduler runs them), in s; function-seconds per incident (the answer plus every follow-up pass: what a Cloud Run bill follows); follow-up passes", []string{"s-to-answer", "s-to-complete", "function-s-per-incident", "follow-up-passes"}},
	{"BenchmarkGCPLikeContainment", "the same incident by the runbook, one step after another (stop agents awaiting the ack, disable versions, stop VM; egress ends with the VM), in s; runbook ÷ contain to egress cut and key unusable", []string{"runbook-s-to-egress-cut", "runbook-s-to-key-unusable", "runbook-s-to-vm-stop-requested", "runbook-s-to-vm-terminated", "runbook/contain"}},
	{"BenchmarkConverge", "provisioning a new sandbox, 20 ms per GCP call", []string{"wall-ms", "critical-path-ms", "wall/critical", "sequential-ms"}},
	{"BenchmarkStorm", "storm: 1,000 deliveries, 50 sandboxes, default rate limits", []string{"events/s", "compute-mutations/sandbox"}},
	{"BenchmarkStormSecondSandbox", "storm on a contained sandbox: another sandbox's call → first containment action on it (median of 3), quiet and while 1,000 denied calls by the contained one's account are delivered (audit log, sink, Pub/Sub, Eventarc; GCP-like profile), in ms; target storm/quiet within 2×; the storm's deliveries still to come then", []string{"quiet-ms-to-first-action", "storm-ms-to-first-action", "storm/quiet", "storm-deliveries-to-come"}},
	{"BenchmarkDecidePerEvent/alert", "decode + match + plan: Monitoring alert", []string{"ns/op", "allocs/op"}},
	{"BenchmarkDecidePerEvent/logentry-setiampolicy", "decode + match + plan: audit log entry (matches)", []string{"ns/op", "allocs/op"}},
	{"BenchmarkDecidePerEvent/logentry-benign", "decode + match + plan: audit log entry (no match)", []string{"ns/op", "allocs/op"}},
	{"BenchmarkRotate200x50", "rotation run: 200 secrets × 50 versions", []string{"ns/op"}},
	{"BenchmarkDetectionLatency", "detection: the agent's refused call → first containment action (audit log, sink, Pub/Sub, Eventarc; GCP-like profile)", []string{"ms-to-first-action"}},
	{"BenchmarkStatus", "Status: 1,000 stored incidents, 50 concurrent clients", []string{"status-p50-ms", "status-p99-ms"}},
	{"BenchmarkClaimCommit", "incident store per incident: claim, acting mark, a commit per contain action, report", []string{"store-ms/incident", "claim-ms", "acting-ms", "commit-ms/action", "report-ms"}},
	{"BenchmarkDecideFleet", "deciding on an audit entry with 1, 50, 500 sandboxes in the registry (a project each; decode, guarded project, rules of the sandbox found by the caller's account or the entry's project), median ns; 500 ÷ 1 (target within 2×)", []string{"own-account-ns@1", "own-account-ns@50", "own-account-ns@500", "own-account-500/1", "other-principal-ns@1", "other-principal-ns@50", "other-principal-ns@500", "other-principal-500/1"}},
	{"BenchmarkFleetStorm", "storm across the fleet: 1,000 audit-entry deliveries spread over every sandbox of a registry of 1, 50, 500 (a project each), 16 in flight, each judged and let through by HandleLogEntry; 500 ÷ 1 (target at least 0.5)", []string{"events/s@1", "events/s@50", "events/s@500", "events/s-500/1"}},
	{"BenchmarkFleetStatus", "Status with 1, 50, 500 sandboxes in the registry (a project each), 50 concurrent clients", []string{"status-p50-ms@1", "status-p50-ms@50", "status-p50-ms@500", "status-p99-ms@1", "status-p99-ms@50", "status-p99-ms@500"}},
	{"BenchmarkColdStart", "coopguard serve: process start → first 200", []string{"cold-start-ms", "idle-rss-MiB"}},
}

func main() {
	found := map[string]map[string]string{}
	sc := bufio.NewScanner(io.TeeReader(os.Stdin, os.Stderr))
	sc.Buffer(make([]byte, 0, 1<<20), 1<<24)
	failed := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "FAIL") {
			failed = true
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i]
		}
		m := map[string]string{}
		for i := 2; i+1 < len(f); i += 2 {
			m[f[i+1]] = f[i]
		}
		found[name] = m
	}
	fmt.Printf("\n| measure | figures |\n| --- | --- |\n")
	for _, r := range rows {
		for name, m := range found {
			if !strings.HasPrefix(name, r.bench) {
				continue
			}
			var parts []string
			for _, u := range r.metrics {
				if v, ok := m[u]; ok {
					parts = append(parts, v+" "+u)
				}
			}
			if len(parts) == 0 {
				continue // a longer-named benchmark's, with a row of its own
			}
			fmt.Printf("| %s | %s |\n", r.label, strings.Join(parts, ", "))
		}
	}
	fmt.Printf("\nmeasured on %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel())
	if failed {
		fmt.Println("SOME BENCHMARKS FAILED: see the output above")
		os.Exit(1)
	}
}

// cpuModel reads the processor's name.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}
