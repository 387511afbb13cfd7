// Package trusted checks that coopguard's record of incidents is its own:
// kept in Firestore (the real emulator), shared by every responder, and
// unaffected by anything the sandbox can write.
package trusted

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"github.com/cloudcoop/coopguard/test/emulator/firestoreemu"
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
	// Ahead moves the store's clock forward: a redelivery that Pub/Sub
	// makes after a dead instance's lease ran out.
	Ahead time.Duration
}

// runHelper is a responder process: one instance of coopguard's functions
// as deployed (the Functions Framework serving every registered function),
// with its own GCP clients over gRPC/HTTP to the parent test's emulated
// GCP and its own Firestore client, report recorder and lease owner. It
// serves until it is killed.
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
	st, err := store.Open(ctx, hc.StoreProject, store.Options{Now: func() time.Time { return time.Now().Add(hc.Ahead) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	env, err := functions.NewEnv(&cfg, clients, logger.New(os.Stderr, slog.LevelWarn), functions.WithStore(st))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	url, _, err := fixture.Serve(env, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: serve:", err)
		return 2
	}
	fmt.Println(servingLine + url)
	select {}
}

// servingLine starts the line a responder process prints once it serves,
// followed by its functions' base URL.
const servingLine = "responder serving at "

// responder is a responder process (runHelper) started by a test.
type responder struct {
	cmd    *exec.Cmd
	url    string
	stderr *fixture.Buffer
	exited chan error
	cfg    *config.Config
}

// startResponder starts a responder process on e's emulated GCP and store,
// its store's clock ahead by ahead, and waits until it serves. It is
// killed when the test ends.
func startResponder(t *testing.T, e *fixture.Env, ahead time.Duration) *responder {
	t.Helper()
	hc, err := json.Marshal(helperConfig{ComputeURL: e.Emu.ComputeURL, GRPCAddr: e.Emu.GRPCAddr, PubSubAddr: e.Emu.PubSubAddr,
		Identity: emulator.Responder(e.Cfg.Cloud.GCP.Project), StoreProject: e.Store.Project(), Ahead: ahead})
	if err != nil {
		t.Fatal(err)
	}
	p := &responder{cmd: exec.Command(os.Args[0], "-test.run=^$"), stderr: &fixture.Buffer{}, exited: make(chan error, 1), cfg: e.Cfg}
	p.cmd.Env = append(os.Environ(), helperEnv+"="+string(hc))
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(p.kill)
	for deadline := time.Now().Add(time.Minute); ; {
		if _, rest, ok := strings.Cut(p.stderr.String(), servingLine); ok {
			if url, _, ok := strings.Cut(rest, "\n"); ok {
				p.url = url
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("responder process not serving after a minute:\n%s", p.stderr.String())
		}
		select {
		case err := <-p.exited:
			t.Fatalf("responder process ended (%v) before serving:\n%s", err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// alert is Cloud Monitoring's notification that incident id opened on the
// sandbox VM name (numeric id vmID), under the CPU policy Provision makes
// for it, labelled for the contain playbook; coopguard names the incident
// "alert-" + id.
func alert(t *testing.T, e *fixture.Env, id, name, vmID string) []byte {
	t.Helper()
	payload, err := events.EncodeIncident(events.MonitoringIncident{
		Version: "1.2", IncidentID: id, State: events.IncidentOpen, PolicyName: provisioner.AlertPolicyName(name),
		PolicyUserLabels: map[string]string{functions.PlaybookLabel: incident.PlaybookContain},
		Resource: events.MonitoredResource{Type: "gce_instance", Labels: map[string]string{
			"instance_id": vmID, "zone": e.Cfg.Cloud.GCP.Zone, "project_id": e.Cfg.Cloud.GCP.Project}},
		StartedAt: time.Now(), Summary: "test", Severity: "Critical",
	})
	if err != nil {
		t.Fatal(err)
	}
	return payload
}

// deliver posts one delivery of payload (Pub/Sub message messageID) to the
// process's HandleAlert as Eventarc does (a binary-mode CloudEvent) and
// returns the HTTP status; a 5xx makes Pub/Sub redeliver.
func (p *responder) deliver(ctx context.Context, payload []byte, messageID string) (int, error) {
	body, err := events.EncodePubSub(events.PubSubMessage{Data: payload, MessageID: messageID, PublishTime: time.Now()})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/HandleAlert", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-id", messageID)
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-type", events.PubSubMessagePublished)
	req.Header.Set("ce-source", "//pubsub.googleapis.com/projects/"+p.cfg.Cloud.GCP.Project+"/topics/"+p.cfg.Coopguard.Topics.Alerts)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
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
	if err := writeReport(t, e, sandbox, rep); err != nil {
		t.Fatal(err)
	}
}

// writeReport writes rep into the incidents log with sandbox's clients and
// returns Cloud Logging's answer.
func writeReport(t *testing.T, e *fixture.Env, sandbox *gcp.Clients, rep incident.Report) error {
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
	_, err = sandbox.Logging.WriteLogEntries(context.Background(), &loggingpb.WriteLogEntriesRequest{
		LogName:  "projects/" + project + "/logs/" + report.LogID,
		Resource: &monitoredres.MonitoredResource{Type: "global", Labels: map[string]string{"project_id": project}},
		Labels:   map[string]string{"incident": rep.Incident.ID, "outcome": rep.Outcome, "playbook": rep.Incident.Playbook},
		Entries: []*loggingpb.LogEntry{{
			Timestamp: timestamppb.New(rep.FinishedAt),
			Payload:   &loggingpb.LogEntry_JsonPayload{JsonPayload: &payload},
		}},
	})
	return err
}

// TestForgedReportsChangeNothing: a leaked key version was disabled before
// the incident; the incident disables the other. Forged reports in Cloud
// Logging (for the real incident: timestamped ahead, claiming both
// versions, or resolved; and for invented incidents) appear nowhere, and
// restore re-enables only the version the incident disabled.
func TestForgedReportsChangeNothing(t *testing.T) {
	t.Parallel()
	e := fixture.New(t, []byte("sk-test-SECRET-PAYLOAD-leaked"), []byte("sk-test-SECRET-PAYLOAD-live"))
	ctx := fixture.Quiet
	secret := "projects/" + e.Cfg.Cloud.GCP.Project + "/secrets/" + e.Cfg.Coopguard.Secrets[0]
	leaked, live := secret+"/versions/1", secret+"/versions/2"
	if _, err := e.Clients.Secrets.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: leaked}); err != nil {
		t.Fatal(err)
	}
	vm := e.SandboxVM(e.Cfg.VM.Name)
	// Resolve acts as the restorer, as deployed.
	project := e.Cfg.Cloud.GCP.Project
	restorer := fixture.DialAs(t, e.Emu, project, config.AccountEmail(config.AccountRestorer, project))
	env, err := functions.NewEnv(e.Cfg, e.Clients, logger.FromContext(ctx), functions.WithStore(e.Store), functions.WithClock(e.Emu.Clock.Now),
		functions.WithAccounts(map[string]*gcp.Clients{config.AccountRestorer: restorer}))
	if err != nil {
		t.Fatal(err)
	}
	real := e.Incident("alert-real", vm, incident.PlaybookContain)

	// The sandbox forges while its account still works: containment
	// disables it (below).
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

	rep, err := env.Responder.Respond(ctx, real, time.Now())
	if err != nil || rep.Outcome != incident.OutcomeContained {
		t.Fatalf("containment: %v %+v", err, rep)
	}
	// Contained, the sandbox's token writes nothing more.
	if err := writeReport(t, e, sandbox, resolved); status.Code(err) != codes.Unauthenticated {
		t.Errorf("the contained sandbox's forged report: %v, want Unauthenticated", err)
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
	if _, err := env.Restorer.Resolve(ctx, "alert-forged-0", respond.ResolveOptions{Restore: true, By: "local:test"}); !errors.Is(err, respond.ErrRefused) {
		t.Errorf("resolve of a forged incident: %v, want refused", err)
	}
	got, err := env.Restorer.Resolve(ctx, "alert-real", respond.ResolveOptions{Restore: true, By: "local:test"})
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

// TestFourRespondersOneResponsePerIncident: four responder processes, each
// an instance of the functions as deployed (its own GCP clients over
// gRPC/HTTP, Firestore client, report recorder and lease owner), share one
// emulated GCP and one Firestore emulator and receive 500 shuffled
// deliveries of 25 incidents on 25 sandboxes as Eventarc CloudEvents:
// every incident is claimed once, and the emulated GCP's fakes and its
// audit log see each action's mutation once per incident.
func TestFourRespondersOneResponsePerIncident(t *testing.T) {
	t.Parallel()
	e := fixture.New(t, []byte("sk-test-SECRET-PAYLOAD-1"), []byte("sk-test-SECRET-PAYLOAD-2"))
	ctx := fixture.Quiet
	const incidents, deliveries, responders = 25, 500, 4
	names := make([]string, incidents)
	sandboxes := make([]string, incidents)
	payloads := make([][]byte, incidents)
	for i := range incidents {
		sandboxes[i] = fmt.Sprintf("sandbox-%02d", i)
		vm := e.SandboxVM(sandboxes[i])
		names[i] = fmt.Sprintf("alert-%02d", i)
		payloads[i] = alert(t, e, fmt.Sprintf("%02d", i), sandboxes[i], vm)
	}
	e.OwnSurroundings(t, sandboxes, []byte("sk-test-SECRET-PAYLOAD-1"), []byte("sk-test-SECRET-PAYLOAD-2"))
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
	// Pub/Sub pushes each delivery to any instance, many at once.
	work := make(chan int)
	errs := make(chan error, deliveries)
	var wg sync.WaitGroup
	for w := range 40 {
		wg.Go(func() {
			for n := range work {
				code, err := procs[(n+w)%responders].deliver(context.Background(), payloads[order[n]], "msg-"+strconv.Itoa(n))
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("HTTP %d", code)
				}
				if err != nil {
					errs <- fmt.Errorf("delivery %d of %s: %w", n, names[order[n]], err)
				}
			}
		})
	}
	for n := range order {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		for k, p := range procs {
			t.Logf("responder %d:\n%s", k, p.stderr.String())
		}
		t.FailNow()
	}
	for _, name := range names {
		rec, err := e.Store.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Claims != 1 || len(rec.History) != 1 || rec.State != incident.OutcomeContained {
			t.Errorf("%s: %d claims, %d reports, state %s; want 1, 1, contained", name, rec.Claims, len(rec.History), rec.State)
		}
	}
	// The Scheduler's passes finish every follow-up, each once.
	e.FinishFollowUps(t, e.Responder)
	for _, name := range names {
		if rec, err := e.Store.Get(ctx, name); err != nil || rec.State != incident.OutcomeComplete || len(rec.History) != 2 {
			t.Errorf("%s after the follow-up: %v %s; want complete with 2 reports", name, err, rec.State)
		}
	}
	m := e.Emu.Faults.MutationSnapshot()
	want := map[string]int{
		"compute.instances.setLabels": incidents, "compute.instances.setMetadata": incidents,
		"compute.instances.stop": incidents, "compute.disks.createSnapshot": incidents,
		// Each sandbox has a secret of its own with two versions, and an
		// account of its own.
		"google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion": 2 * incidents,
		"google.iam.admin.v1.IAM/DisableServiceAccount":                           incidents,
		"google.logging.v2.LoggingServiceV2/WriteLogEntries":                      2 * incidents, // two report copies each: contained, complete
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
	t.Parallel()
	e := fixture.New(t, []byte("sk-test-SECRET-PAYLOAD-1"), []byte("sk-test-SECRET-PAYLOAD-2"))
	ctx := fixture.Quiet
	vm := e.SandboxVM(e.Cfg.VM.Name)
	inc := e.Incident("alert-killed", vm, incident.PlaybookContain)
	payload := alert(t, e, "killed", e.Cfg.VM.Name, vm)

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
	// The delivery hangs with the stop call until the process dies.
	go func() { _, _ = helper.deliver(context.Background(), payload, "msg-killed") }()
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
	// A redelivery carries the same message.
	if code, err := next.deliver(context.Background(), payload, "msg-killed"); err != nil || code != http.StatusOK {
		t.Fatalf("redelivery: HTTP %d %v\n%s", code, err, next.stderr.String())
	}
	rec, err = e.Store.Get(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	view := rec.View()
	rep := &view
	if d := e.Emu.Faults.Mutations("google.cloud.secretmanager.v1.SecretManagerService/DisableSecretVersion") - disables; d != 0 {
		t.Errorf("the redelivery disabled %d versions again; disable-secrets was done", d)
	}
	if st := e.Instance(e.Cfg.VM.Name).GetStatus(); st != "STOPPING" {
		t.Errorf("VM %s after the redelivery, want STOPPING (its stop requested, not waited for)", st)
	}
	seen := map[string]bool{}
	changes := map[string]int{}
	for _, a := range rep.Actions {
		if seen[a.Action] {
			t.Errorf("report lists %s twice", a.Action)
		}
		seen[a.Action] = true
		for _, c := range a.Changed {
			// A change is an action's on a resource: the agents flag and
			// the stop both change the instance.
			changes[a.Action+" "+c]++
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
	if plan, _ := playbook.For(incident.PlaybookContain); len(seen) != len(plan.All()) {
		t.Errorf("report has actions %v, want the %d of contain", seen, len(plan.All()))
	}
	rec, err = e.Store.Get(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Claims != 2 || rec.State != incident.OutcomeContained || len(rec.History) != 1 {
		t.Errorf("record: %d claims, state %s, %d reports; want 2, contained, 1", rec.Claims, rec.State, len(rec.History))
	}
}
