// Package trusted checks that coopguard's record of incidents is its own:
// kept in Firestore (the real emulator), shared by every responder, and
// unaffected by anything the sandbox can write.
package trusted

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"github.com/cloudcoop/coopguard/test/firestoreemu"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// helperEnv, when set, makes the test binary a responder process (see
// runHelper) instead of running tests.
const helperEnv = "COOPGUARD_TRUSTED_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runHelper())
	}
	if _, err := firestoreemu.Shared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	firestoreemu.StopShared()
	os.Exit(code)
}

// helperConfig is what a responder process needs to reach the test's
// emulated GCP and Firestore.
type helperConfig struct {
	ComputeURL, GRPCAddr, PubSubAddr string
	Identity                         string
	StoreProject                     string
	// Ahead moves the process's clock forward: a redelivery that Pub/Sub
	// makes after a dead instance's lease ran out.
	Ahead time.Duration
}

// helperResult is a responder process's answer to one delivery.
type helperResult struct {
	ID     string           `json:"id"`
	Report *incident.Report `json:"report,omitempty"`
	Error  string           `json:"error,omitempty"`
}

// helperConcurrency is how many deliveries one responder process handles
// at once, as a function instance with that concurrency would.
const helperConcurrency = 10

// runHelper is a responder process, as one instance of HandleAlert: its
// own GCP clients over gRPC/HTTP to the parent test's emulated GCP, its
// own Firestore client, report recorder and lease owner. It reads
// deliveries (one incident as JSON per line) from stdin, responds to each,
// and writes a helperResult per line to stdout; it exits when stdin ends
// and every response is done, or when it is killed.
func runHelper() int {
	var hc helperConfig
	if err := json.Unmarshal([]byte(os.Getenv(helperEnv)), &hc); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	ctx := fixture.Quiet
	cfg := fixtureConfig()
	opts := gcp.Emulated(hc.ComputeURL, hc.GRPCAddr, hc.PubSubAddr)
	opts.Limits = &gcp.Unlimited
	opts.Identity = hc.Identity
	clients, err := gcp.New(ctx, cfg.Cloud.GCP.Project, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	defer clients.Close()
	now := func() time.Time { return time.Now().Add(hc.Ahead) }
	st, err := store.Open(ctx, hc.StoreProject, store.Options{Now: now})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	defer st.Close()
	rec := report.New(clients, cfg.Coopguard.Topics.Incidents)
	defer rec.Stop()
	r := respond.New(&cfg, clients, rec, st, now)

	var mu sync.Mutex
	out := json.NewEncoder(os.Stdout)
	slots := make(chan struct{}, helperConcurrency)
	var wg sync.WaitGroup
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 1<<20)
	for in.Scan() {
		var inc incident.Incident
		if err := json.Unmarshal(in.Bytes(), &inc); err != nil {
			fmt.Fprintln(os.Stderr, "helper: bad delivery:", err)
			return 2
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			rep, err := r.Respond(ctx, inc, now())
			res := helperResult{ID: inc.ID, Report: rep}
			if err != nil {
				res.Error = err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			_ = out.Encode(res)
		})
	}
	wg.Wait()
	return 0
}

// responder is a responder process (runHelper) started by a test.
type responder struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	stderr  *fixture.Buffer
	results chan helperResult
	exited  chan error
}

// startResponder starts a responder process on e's emulated GCP and store,
// its clock ahead by ahead; it is killed if still running when the test
// ends.
func startResponder(t *testing.T, e *fixture.Env, ahead time.Duration) *responder {
	t.Helper()
	hc, err := json.Marshal(helperConfig{ComputeURL: e.Emu.ComputeURL, GRPCAddr: e.Emu.GRPCAddr, PubSubAddr: e.Emu.PubSubAddr,
		Identity: emulator.Responder(e.Cfg.Cloud.GCP.Project), StoreProject: e.Store.Project(), Ahead: ahead})
	if err != nil {
		t.Fatal(err)
	}
	p := &responder{cmd: exec.Command(os.Args[0], "-test.run=^$"), stderr: &fixture.Buffer{},
		results: make(chan helperResult, 1024), exited: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), helperEnv+"="+string(hc))
	p.cmd.Stderr = p.stderr
	if p.in, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var res helperResult
			if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
				res.Error = "bad result line: " + err.Error()
			}
			p.results <- res
		}
		close(p.results)
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(p.kill)
	return p
}

// deliver hands the process one delivery of inc.
func (p *responder) deliver(t *testing.T, inc incident.Incident) {
	t.Helper()
	b, err := json.Marshal(inc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		t.Fatalf("deliver %s: %v\n%s", inc.ID, err, p.stderr.String())
	}
}

// finish ends the process's input and returns its results once it exited.
func (p *responder) finish(t *testing.T) []helperResult {
	t.Helper()
	p.in.Close()
	var out []helperResult
	for res := range p.results {
		out = append(out, res)
	}
	if err := <-p.exited; err != nil {
		t.Fatalf("responder process: %v\n%s", err, p.stderr.String())
	}
	return out
}

// kill kills the process (SIGKILL: nothing of it runs on).
func (p *responder) kill() { _ = p.cmd.Process.Kill() }

// fixtureConfig is fixture.New's config.
func fixtureConfig() config.Config {
	cfg := config.Demo()
	cfg.Coopguard.AgentStopTimeout = config.Duration{Duration: 2 * time.Second}
	return cfg
}

// forge writes a report into the incidents log as the sandbox's own
// account, which holds roles/logging.logWriter.
func forge(t *testing.T, e *fixture.Env, sandbox *gcp.Clients, rep incident.Report) {
	t.Helper()
	raw, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var payload structpb.Struct
	if err := protojson.Unmarshal(raw, &payload); err != nil {
		t.Fatal(err)
	}
	project := e.Cfg.Cloud.GCP.Project
	if _, err := sandbox.Logging.WriteLogEntries(context.Background(), &loggingpb.WriteLogEntriesRequest{
		LogName:  "projects/" + project + "/logs/" + report.LogID,
		Resource: &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": project}},
		Labels:   map[string]string{"incident": rep.Incident.ID, "outcome": rep.Outcome, "playbook": rep.Incident.Playbook},
		Entries: []*loggingpb.LogEntry{{
			Timestamp: timestamppb.New(rep.FinishedAt),
			Payload:   &loggingpb.LogEntry_JsonPayload{JsonPayload: &payload},
		}},
	}); err != nil {
		t.Fatal(err)
	}
}

// TestForgedReportsChangeNothing: a leaked key version was disabled before
// the incident; the incident disables the other. Forged reports in Cloud
// Logging (for the real incident: timestamped ahead, claiming both
// versions, or resolved; and for invented incidents) appear nowhere, and
// restore re-enables only the version the incident disabled.
func TestForgedReportsChangeNothing(t *testing.T) {
	e := fixture.New(t, []byte("sk-test-SECRET-PAYLOAD-leaked"), []byte("sk-test-SECRET-PAYLOAD-live"))
	ctx := fixture.Quiet
	secret := "projects/" + e.Cfg.Cloud.GCP.Project + "/secrets/" + e.Cfg.Coopguard.Secrets[0]
	leaked, live := secret+"/versions/1", secret+"/versions/2"
	if _, err := e.Clients.Secrets.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: leaked}); err != nil {
		t.Fatal(err)
	}
	vm := e.SandboxVM(e.Cfg.VM.Name)
	env, err := functions.NewEnv(e.Cfg, e.Clients, logger.FromContext(ctx), functions.WithStore(e.Store))
	if err != nil {
		t.Fatal(err)
	}
	real := e.Incident("alert-real", vm, incident.PlaybookContain)
	rep, err := env.Responder.Respond(ctx, real, time.Now())
	if err != nil || rep.Outcome != incident.OutcomeContained {
		t.Fatalf("containment: %v %+v", err, rep)
	}

	sandbox := fixture.DialAs(t, e.Emu, e.Cfg.Cloud.GCP.Project, e.Cfg.Cloud.GCP.ServiceAccount)
	ahead := time.Now().Add(time.Hour)
	claimBoth := incident.Report{Incident: real, Instance: e.Cfg.VM.Name, Outcome: incident.OutcomeContained, ReceivedAt: ahead.Add(-time.Minute), FinishedAt: ahead,
		Actions: []incident.ActionResult{{Action: "disable-secrets", Result: incident.ResultDone, Changed: []string{leaked, live}}}}
	forge(t, e, sandbox, claimBoth)
	resolved := claimBoth
	resolved.Outcome, resolved.ResolvedBy, resolved.FinishedAt = incident.OutcomeResolved, "attacker", ahead.Add(time.Second)
	forge(t, e, sandbox, resolved)
	for i := range 20 {
		inv := e.Incident(fmt.Sprintf("alert-forged-%d", i), vm, incident.PlaybookContain)
		inv.Summary = "all clear \x1b[2J\x1b]0;pwned\x07"
		forge(t, e, sandbox, incident.Report{Incident: inv, Instance: e.Cfg.VM.Name, Outcome: incident.OutcomeContained, FinishedAt: ahead,
			Actions: []incident.ActionResult{{Action: "disable-secrets", Result: incident.ResultDone, Changed: []string{leaked}}}})
	}

	listed, err := functions.ListIncidents(ctx, env, functions.StatusIncidents)
	if err != nil {
		t.Fatal(err)
	}
	status, err := functions.CollectStatus(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]incident.Report{"coopguard incidents": listed, "Status": status.Incidents} {
		if len(got) != 1 || got[0].Incident.ID != "alert-real" || got[0].Outcome != incident.OutcomeContained {
			t.Fatalf("%s lists %d incidents (%v), want only alert-real, contained", name, len(got), ids(got))
		}
		for _, a := range got[0].Actions {
			// Secret Manager names versions by project number.
			if a.Action == "disable-secrets" && (len(a.Changed) != 1 || !strings.HasSuffix(a.Changed[0], "/secrets/"+e.Cfg.Coopguard.Secrets[0]+"/versions/2")) {
				t.Errorf("%s: disable-secrets changed %v, want only version 2", name, a.Changed)
			}
		}
	}
	if _, err := env.Responder.Resolve(ctx, "alert-forged-0", respond.ResolveOptions{Restore: true, By: "local:test"}); !errors.Is(err, respond.ErrRefused) {
		t.Errorf("resolve of a forged incident: %v, want refused", err)
	}
	got, err := env.Responder.Resolve(ctx, "alert-real", respond.ResolveOptions{Restore: true, By: "local:test"})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if got.ResolvedBy != "local:test" {
		t.Errorf("resolved by %q", got.ResolvedBy)
	}
	if states := e.VersionStates(); !slices.Equal(states, []string{"DISABLED", "ENABLED"}) {
		t.Errorf("versions after restore = %v, want the leaked one still DISABLED and the live one ENABLED", states)
	}
}

func ids(reps []incident.Report) []string {
	var out []string
	for _, r := range reps {
		out = append(out, r.Incident.ID)
	}
	return out
}

// TestFourRespondersOneResponsePerIncident: four responder processes
// (each its own GCP clients over gRPC/HTTP, Firestore client, report
// recorder and lease owner) share one emulated GCP and one Firestore
// emulator and receive 1,000 shuffled deliveries of 50 incidents on 50
// sandboxes: every incident is claimed once, and the emulated GCP's fakes
// and its audit log see each action's mutation once per incident.
func TestFourRespondersOneResponsePerIncident(t *testing.T) {
	e := fixture.New(t, []byte("sk-test-SECRET-PAYLOAD-1"), []byte("sk-test-SECRET-PAYLOAD-2"))
	ctx := fixture.Quiet
	const incidents, deliveries, responders = 50, 1000, 4
	incs := make([]incident.Incident, incidents)
	for i := range incs {
		vm := e.SandboxVM(fmt.Sprintf("sandbox-%02d", i))
		incs[i] = e.Incident(fmt.Sprintf("alert-%02d", i), vm, incident.PlaybookContain)
	}
	procs := make([]*responder, responders)
	for i := range procs {
		procs[i] = startResponder(t, e, 0)
	}
	order := make([]int, deliveries)
	for i := range order {
		order[i] = i % incidents
	}
	rng := rand.New(rand.NewPCG(12, 2026))
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	// Pub/Sub hands each delivery to any instance: here round robin over
	// the shuffled order, each process fed by a writer of its own.
	var wg sync.WaitGroup
	for k, p := range procs {
		wg.Go(func() {
			for n := k; n < deliveries; n += responders {
				p.deliver(t, incs[order[n]])
			}
		})
	}
	wg.Wait()
	got := 0
	for k, p := range procs {
		for _, res := range p.finish(t) {
			got++
			switch {
			case res.Error != "":
				t.Errorf("responder %d, delivery of %s: %s", k, res.ID, res.Error)
			case res.Report == nil || res.Report.Outcome != incident.OutcomeContained:
				t.Errorf("responder %d, delivery of %s: report %+v, want contained", k, res.ID, res.Report)
			}
		}
	}
	if got != deliveries {
		t.Fatalf("%d results from the responder processes, want %d", got, deliveries)
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, inc := range incs {
		rec, err := e.Store.Get(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Claims != 1 || len(rec.History) != 1 || rec.State != incident.OutcomeContained {
			t.Errorf("%s: %d claims, %d reports, state %s; want 1, 1, contained", inc.ID, rec.Claims, len(rec.History), rec.State)
		}
	}
	m := e.Emu.Faults.MutationSnapshot()
	want := map[string]int{
		"compute.instances.setLabels": incidents, "compute.instances.setMetadata": incidents,
		"compute.instances.stop": incidents, "compute.disks.createSnapshot": incidents,
		// The managed secret is shared: the first incident disables its two
		// versions, the others find them disabled.
		"google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion": 2,
		"google.logging.v2.LoggingServiceV2/WriteLogEntries":                      incidents, // one report copy each
	}
	for method, n := range want {
		if m[method] != n {
			t.Errorf("%s: %d mutating calls, want %d", method, m[method], n)
		}
	}
	// The audit log agrees, resource by resource: one entry per sandbox
	// for each Compute mutation of the playbook.
	for _, method := range []string{"v1.compute.instances.stop", "v1.compute.instances.setLabels", "v1.compute.instances.setMetadata", "v1.compute.disks.createSnapshot"} {
		perResource := auditedCalls(t, e, method)
		if len(perResource) != incidents {
			t.Errorf("audit log: %s on %d resources, want %d", method, len(perResource), incidents)
		}
		for res, n := range perResource {
			if n != 1 {
				t.Errorf("audit log: %s on %s %d times, want once", method, res, n)
			}
		}
	}
}

// auditedCalls counts the Admin Activity audit entries of method made by
// the responder, per resource, as the operator reads them with the Logging
// API.
func auditedCalls(t *testing.T, e *fixture.Env, method string) map[string]int {
	t.Helper()
	project := e.Cfg.Cloud.GCP.Project
	filter := fmt.Sprintf(`logName="projects/%s/logs/cloudaudit.googleapis.com%%2Factivity" AND protoPayload.methodName=%q AND protoPayload.authenticationInfo.principalEmail=%q`,
		project, method, emulator.Responder(project))
	out := map[string]int{}
	it := e.Operator.Logging.ListLogEntries(context.Background(), &loggingpb.ListLogEntriesRequest{ResourceNames: []string{"projects/" + project}, Filter: filter, PageSize: 1000})
	for {
		entry, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out
		}
		if err != nil {
			t.Fatalf("read the audit log (%s): %v", filter, err)
		}
		var al auditpb.AuditLog
		if err := entry.GetProtoPayload().UnmarshalTo(&al); err != nil {
			t.Fatalf("audit entry %s: %v", entry.GetInsertId(), err)
		}
		out[al.GetResourceName()]++
	}
}

// TestKilledResponderIsResumed: a responder process is killed in the
// middle of the contain playbook, after disable-secrets committed and
// while its stop-vm call is in flight (hung, so the VM is not stopped). Once its lease expires the
// redelivery completes the incident, running only what was not done, and
// the report lists each change once.
func TestKilledResponderIsResumed(t *testing.T) {
	e := fixture.New(t, []byte("sk-test-SECRET-PAYLOAD-1"), []byte("sk-test-SECRET-PAYLOAD-2"))
	ctx := fixture.Quiet
	inc := e.Incident("alert-killed", e.SandboxVM(e.Cfg.VM.Name), incident.PlaybookContain)

	// The helper's stop-vm call hangs until its connection dies.
	stopArrived := make(chan struct{})
	var once sync.Once
	e.Emu.Faults.OnCall(func(method string) {
		if method == "compute.instances.stop" {
			once.Do(func() { close(stopArrived) })
		}
	})
	e.Emu.Faults.FailNext("compute.instances.stop", 1, faults.Fault{Hang: true})
	helper := startResponder(t, e, 0)
	helper.deliver(t, inc)
	select {
	case <-stopArrived:
	case err := <-helper.exited:
		t.Fatalf("the responder process ended (%v) before stop-vm:\n%s", err, helper.stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("the responder process never reached stop-vm:\n%s", helper.stderr.String())
	}
	// stop-vm is requested beside disable-secrets: kill once the helper
	// has committed disable-secrets, while its stop hangs.
	for deadline := time.Now().Add(time.Minute); ; {
		rec, err := e.Store.Get(ctx, inc.ID)
		if err == nil && rec.Actions["disable-secrets"].Result == incident.ResultDone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the responder process never committed disable-secrets (%v):\n%s", err, helper.stderr.String())
		}
		select {
		case err := <-helper.exited:
			t.Fatalf("the responder process ended (%v) before committing disable-secrets:\n%s", err, helper.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	helper.kill()
	<-helper.exited

	rec, err := e.Store.Get(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ds := rec.Actions["disable-secrets"]; ds.Result != incident.ResultDone || len(ds.Changed) != 2 {
		t.Fatalf("before the kill, disable-secrets committed %+v; want done with both versions", ds)
	}
	if _, ok := rec.Actions["stop-vm"]; ok || rec.State != store.StateActing {
		t.Fatalf("killed responder left state %s, stop-vm %+v; want acting with stop-vm not committed", rec.State, rec.Actions["stop-vm"])
	}
	// A delivery while the dead responder's lease runs is not acted on.
	if _, err := e.Store.Claim(ctx, inc, "early", time.Now()); !errors.Is(err, store.ErrBusy) {
		t.Fatalf("claim during the dead responder's lease: %v, want busy", err)
	}
	// Pub/Sub redelivers, to another instance, once the lease ran out.
	e.Emu.Clock.Advance(store.DefaultLease + time.Second)
	disables := e.Emu.Faults.Mutations("google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion")
	next := startResponder(t, e, store.DefaultLease+time.Second)
	next.deliver(t, inc)
	results := next.finish(t)
	if len(results) != 1 || results[0].Error != "" || results[0].Report == nil || results[0].Report.Outcome != incident.OutcomeContained {
		t.Fatalf("redelivery: %+v\n%s", results, next.stderr.String())
	}
	rep := results[0].Report
	if d := e.Emu.Faults.Mutations("google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion") - disables; d != 0 {
		t.Errorf("the redelivery disabled %d versions again; disable-secrets was done", d)
	}
	if st := e.Instance(e.Cfg.VM.Name).GetStatus(); st != "TERMINATED" {
		t.Errorf("VM %s after the redelivery, want TERMINATED", st)
	}
	seen := map[string]bool{}
	changes := map[string]int{}
	for _, a := range rep.Actions {
		if seen[a.Action] {
			t.Errorf("report lists %s twice", a.Action)
		}
		seen[a.Action] = true
		for _, c := range a.Changed {
			changes[c]++
		}
		if a.Action == "stop-vm" && a.Result != incident.ResultDone {
			t.Errorf("stop-vm %s, want done by the redelivery", a)
		}
	}
	for c, n := range changes {
		if n != 1 {
			t.Errorf("report lists change %s %d times", c, n)
		}
	}
	if plan, _ := playbook.For(incident.PlaybookContain); len(seen) != len(plan.Steps) {
		t.Errorf("report has actions %v, want the %d of contain", seen, len(plan.Steps))
	}
	rec, err = e.Store.Get(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Claims != 2 || rec.State != incident.OutcomeContained || len(rec.History) != 1 {
		t.Errorf("record: %d claims, state %s, %d reports; want 2, contained, 1", rec.Claims, rec.State, len(rec.History))
	}
}
