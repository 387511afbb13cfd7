// Package reliability proves coopguard on the worst day: every GCP call
// failing in every way, storms of deliveries, hostile input.
package reliability

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// fastPolicy keeps the matrix quick: short pauses, and a hung call is
// abandoned after 800 ms (a try of disable-identity is four to five calls
// in a row; under -race on a loaded machine 300 ms cut healthy tries).
var fastPolicy = retry.Policy{Attempts: 3, Initial: time.Millisecond, Max: 4 * time.Millisecond, PerTry: 800 * time.Millisecond}

// faultKind is one way a call can fail.
type faultKind struct {
	name  string
	fault faults.Fault
	// computeMutationOnly: only Compute's long-running mutations have
	// operations that can end in error.
	computeMutationOnly bool
}

// retryableCodes answer "try again" alike (retry.IsRetryable, pinned in
// shared/retry); each method of a matrix meets one of them, taken in turn,
// so every code still meets every kind of call across the matrix.
var retryableCodes = []faultKind{
	{name: "429", fault: faults.Fault{Code: codes.ResourceExhausted}},
	{name: "500", fault: faults.Fault{Code: codes.Internal}},
	{name: "503", fault: faults.Fault{Code: codes.Unavailable}},
}

// otherKinds fail a call in ways that each take their own path: a
// deadline the server answers, a call that never answers (cut off by the
// caller), an operation accepted and then failed.
var otherKinds = []faultKind{
	{name: "deadline", fault: faults.Fault{Code: codes.DeadlineExceeded}},
	{name: "hang", fault: faults.Fault{Hang: true}},
	{name: "operation-error", fault: faults.Fault{OperationError: true}, computeMutationOnly: true},
}

// faultKinds are the faults the i-th method of a matrix meets: one
// retryable code in turn, and every other kind that applies to it.
func faultKinds(i int, method string) []faultKind {
	out := []faultKind{retryableCodes[i%len(retryableCodes)]}
	for _, fk := range otherKinds {
		if !fk.computeMutationOnly || isComputeMutation(method) {
			out = append(out, fk)
		}
	}
	return out
}

// bestEffort are calls whose failure must not fail a response: the
// incident metric.
// The report's copy in Cloud Logging is best effort too: the record is the
// incident store (Firestore).
var bestEffort = map[string]bool{
	"google.monitoring.v3.MetricService/CreateTimeSeries": true,
	"google.logging.v2.LoggingServiceV2/WriteLogEntries":  true,
	// disable-identity names the other VMs that run as the account; a
	// failed listing is said in the report, the identity is disabled
	// either way.
	"compute.instances.aggregatedList": true,
}

// courtesy are the agents flag's calls: the VM stop runs beside them, so
// a retry often finds the VM stopping and has nothing left to do (no
// agent runs); they are retried only while the VM still runs.
var courtesy = map[string]bool{"compute.instances.setMetadata": true, "compute.instances.getGuestAttributes": true}

func isComputeMutation(method string) bool {
	return strings.HasPrefix(method, "compute.") && !strings.HasSuffix(method, ".get") && !strings.HasSuffix(method, ".list") &&
		!strings.HasSuffix(method, ".getGuestAttributes") && !strings.HasSuffix(method, ".wait")
}

// containmentMethods runs one clean containment and its follow-up and
// returns every method they called: the matrix covers exactly what the
// responder really does.
func containmentMethods(t *testing.T) []string {
	t.Helper()
	e := fixture.New(t)
	vm := e.SandboxVM("claude-sandbox")
	if _, err := e.Responder.Respond(fixture.Quiet, e.Incident("discover", vm, incident.PlaybookContain), time.Now()); err != nil {
		t.Fatal(err)
	}
	e.FinishFollowUps(t, e.Responder)
	return e.Emu.Faults.Methods()
}

// TestContainmentFaultMatrix injects each fault into each call of a
// containment and its follow-up, on GCP's operation times. A single
// failure is retried in place (or, in the follow-up, at its next pass):
// contained, then complete. A failure that outlasts the retries leaves the
// response incomplete with a 5xx-worthy error and a report naming what
// failed; the redelivery finishes only what is left, and the follow-up's
// passes the rest.
func TestContainmentFaultMatrix(t *testing.T) {
	methods := containmentMethods(t)
	if len(methods) < 10 {
		t.Fatalf("discovered only %v", methods)
	}
	for i, method := range methods {
		for _, fk := range faultKinds(i, method) {
			t.Run(method+"/"+fk.name, func(t *testing.T) {
				t.Parallel()
				t.Run("transient", func(t *testing.T) { transientFault(t, method, fk) })
				t.Run("persistent", func(t *testing.T) { persistentFault(t, method, fk) })
			})
		}
	}
}

func newResponder(t *testing.T) (*fixture.Env, string) {
	t.Helper()
	e := fixture.New(t)
	e.Responder.SetRetryPolicy(fastPolicy)
	return e, e.SandboxVM("claude-sandbox")
}

// assertContained checks what the answer holds (the key disabled; the
// stop is requested, and a stop whose operation failed is requested again
// by the follow-up), runs the follow-up to its end and checks it is
// complete with the VM TERMINATED.
func assertContained(t *testing.T, e *fixture.Env, id string) {
	t.Helper()
	if got := e.VersionStates(); !slices.Equal(got, []string{"DISABLED"}) {
		t.Errorf("versions %v, want DISABLED", got)
	}
	e.FinishFollowUps(t, e.Responder)
	if st := e.Instance("claude-sandbox").GetStatus(); st != "TERMINATED" {
		t.Errorf("VM %s after the follow-up, want TERMINATED", st)
	}
	if rec, err := e.Store.Get(fixture.Quiet, id); err != nil || rec.State != incident.OutcomeComplete {
		t.Errorf("after the follow-up: %v %+v, want complete", err, rec.Report)
	}
}

func transientFault(t *testing.T, method string, fk faultKind) {
	e, vm := newResponder(t)
	e.Emu.Faults.FailNext(method, 1, fk.fault)
	rep, err := e.Responder.Respond(fixture.Quiet, e.Incident("inc", vm, incident.PlaybookContain), time.Now())
	if err != nil {
		t.Fatalf("one %s on %s was not absorbed: %v", fk.name, method, err)
	}
	if rep.Outcome != incident.OutcomeContained {
		t.Fatalf("outcome %s", rep.Outcome)
	}
	assertContained(t, e, "inc")
	if e.Emu.Faults.Calls(method) < 2 && !bestEffort[method] && !courtesy[method] {
		t.Errorf("%s called %d times: the failure was not retried", method, e.Emu.Faults.Calls(method))
	}
}

func persistentFault(t *testing.T, method string, fk faultKind) {
	e, vm := newResponder(t)
	// Fail every attempt of the first delivery (the recorder retries its
	// write with the same policy).
	e.Emu.Faults.FailNext(method, fastPolicy.Attempts, fk.fault)
	inc := e.Incident("inc", vm, incident.PlaybookContain)
	rep, err := e.Responder.Respond(fixture.Quiet, inc, time.Now())
	switch {
	case bestEffort[method]:
		if err != nil {
			t.Fatalf("best-effort %s failing failed the response: %v", method, err)
		}
	case err == nil:
		// The client library's own retries (on idempotent reads) may
		// outlast the injected failures, or a retried action may find its
		// work done; either way every injected failure was met. A method
		// the response never called is the follow-up's: its passes meet
		// the failures below.
		// An operation that fails after its request was accepted is met
		// by the follow-up, which requests the change again.
		if n := e.Emu.Faults.Calls(method); n > 0 && n < fastPolicy.Attempts && !courtesy[method] && !fk.fault.OperationError {
			t.Fatalf("%s failing %d times: response succeeded after only %d calls (report %+v)", method, fastPolicy.Attempts, n, rep)
		}
	case rep != nil && rep.Outcome == incident.OutcomeIncomplete && errors.Is(err, respond.ErrIncomplete):
		// The report names exactly what failed, or why the instance
		// could not be read.
		if failures(rep) == "" && rep.Reason == "" {
			t.Errorf("incomplete report names no failure: %+v", rep)
		}
	}
	// The redelivery (Pub/Sub retries after a 5xx) completes it.
	rep, err = e.Responder.Respond(fixture.Quiet, inc, time.Now())
	if err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if rep.Outcome != incident.OutcomeContained {
		t.Fatalf("after redelivery: %s %+v", rep.Outcome, rep.Actions)
	}
	assertContained(t, e, "inc")
	// Mutations already done are not repeated.
	for _, m := range []string{"compute.instances.stop", "compute.instances.setLabels", "compute.disks.createSnapshot"} {
		if n := e.Emu.Faults.Mutations(m); n > 1 && m != method {
			t.Errorf("%s applied %d times", m, n)
		}
	}
}

func failures(rep *incident.Report) string {
	var s []string
	for _, a := range rep.Actions {
		if a.Result == incident.ResultFailed {
			s = append(s, a.Action+": "+a.Reason)
		}
	}
	return strings.Join(s, "; ")
}

// TestProvisionFaultMatrix injects each fault into each call of a
// provisioning: one failure is absorbed; a failure that outlasts the
// retries is reported on its resource (and the ones after it as skipped),
// and the next converge completes the sandbox.
func TestProvisionFaultMatrix(t *testing.T) {
	clean := fixture.New(t)
	p := provisioner.New(clean.Cfg, clean.Provisioner, nil)
	if _, err := p.Converge(context.Background(), provisioner.Options{}); err != nil {
		t.Fatal(err)
	}
	for i, method := range clean.Emu.Faults.Methods() {
		for _, fk := range faultKinds(i, method) {
			t.Run(method+"/"+fk.name, func(t *testing.T) {
				t.Parallel()
				e := fixture.New(t)
				p := provisioner.New(e.Cfg, e.Provisioner, nil)
				p.SetRetryPolicy(fastPolicy)
				e.Emu.Faults.FailNext(method, fastPolicy.Attempts+1, fk.fault)
				rep, err := p.Converge(context.Background(), provisioner.Options{})
				if err == nil {
					// Only possible when the method is not on this run's path.
					t.Logf("converge absorbed %d failures of %s", fastPolicy.Attempts+1, method)
				} else if len(rep.Failed()) == 0 {
					t.Errorf("converge failed (%v) but its report names no failed resource", err)
				}
				if _, err := p.Converge(context.Background(), provisioner.Options{}); err != nil {
					t.Fatalf("second converge: %v", err)
				}
				before := e.Emu.Faults.TotalMutations()
				rep, err = p.Converge(context.Background(), provisioner.Options{})
				if err != nil || e.Emu.Faults.TotalMutations() != before {
					t.Errorf("third converge: err %v, %d mutations: the sandbox was not complete", err, e.Emu.Faults.TotalMutations()-before)
				}
				for _, r := range rep.Resources {
					if r.Action != provisioner.None {
						t.Errorf("after recovery %s/%s still %s", r.Kind, r.Name, r.Action)
					}
				}
			})
		}
	}
}
