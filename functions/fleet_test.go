package functions

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/firestoreemu"
)

// fleetStores numbers the fleet tests' stores (projects of the one
// Firestore emulator).
var fleetStores atomic.Int64

// fleetWorld is an Env with an incident store on an emulated project, and
// a way to record sandboxes as the provisioner does.
type fleetWorld struct {
	emu *emulator.Emulator
	cfg *config.Config
	env *Env
	st  *store.Store
}

func newFleetWorld(tb testing.TB) *fleetWorld {
	tb.Helper()
	emu, err := emulator.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { emu.Close() })
	cfg, err := config.FromBase(config.Demo(), func(string) (string, bool) { return "", false })
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	clients, err := emu.Clients(ctx, cfg.Cloud.GCP.Project)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { clients.Close() })
	if _, err := firestoreemu.Shared(); err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(ctx, "fleet-"+strconv.FormatInt(fleetStores.Add(1), 10), store.Options{Now: emu.Clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	env, err := NewEnv(cfg, clients, logger.New(io.Discard, slog.LevelError), WithStore(st), WithClock(emu.Clock.Now))
	if err != nil {
		tb.Fatal(err)
	}
	return &fleetWorld{emu: emu, cfg: cfg, env: env, st: st}
}

// record records the sandbox (project, name) with VM id as the
// provisioner's converge does (Env.recordSandbox), and returns its
// account.
func (w *fleetWorld) record(tb testing.TB, project, name string, id uint64) string {
	tb.Helper()
	sb, err := provisioner.SandboxIn(w.cfg, project, name, "")
	if err != nil {
		tb.Fatal(err)
	}
	r := store.Registered{Project: sb.Project, Zone: sb.Zone, Name: sb.Name, ServiceAccount: sb.ServiceAccount,
		Network: sb.Network(), Secrets: sb.Secrets, Canary: sb.Canary, InstanceID: strconv.FormatUint(id, 10)}
	if err := w.st.RegisterSandbox(context.Background(), r); err != nil {
		tb.Fatal(err)
	}
	return sb.ServiceAccount
}

// sample is a testdata sample log entry moved to project, with the
// replacements applied.
func sample(tb testing.TB, file, project string, replace ...string) []byte {
	tb.Helper()
	b, err := os.ReadFile("../testdata/samples/" + file)
	if err != nil {
		tb.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "coopguard-demo", project)
	return []byte(strings.NewReplacer(replace...).Replace(s))
}

// decideEntry is HandleLogEntry's decision on a sample entry: decode,
// the guarded project, genuineness, the rules of the sandbox it concerns.
func decideEntry(ctx context.Context, e *Env, data []byte) ([]string, string, error) {
	entry, err := events.DecodeLogEntry(data)
	if err != nil {
		return nil, "", err
	}
	project, err := guardedProject(ctx, e, entry)
	if err != nil {
		return nil, "", err
	}
	if err := detect.Genuine(entry, project); err != nil {
		return nil, "", err
	}
	m, _, id, err := match(ctx, e, entry)
	var rules []string
	for _, x := range m {
		rules = append(rules, x.Rule)
	}
	return rules, id, err
}

// TestDetectionLooksSandboxesUp: the sandbox an entry concerns is found in
// the registry by the principal's account, or among the sandboxes of the
// entry's project, without listing a VM: a sandbox's account is judged
// against its own sandbox in any project; another principal's read of a
// sandbox's key in project A contains A's sandbox, not B's of the same
// name nor the configured one; an entry of a project without a recorded
// sandbox is not genuine; a sandbox recorded after a principal was found
// to be none is found once this process records it.
func TestDetectionLooksSandboxesUp(t *testing.T) {
	w := newFleetWorld(t)
	ctx := context.Background()
	const projA, projB = "sandbox-proj-a", "sandbox-proj-b"
	acctA := w.record(t, projA, "box", 1001)
	w.record(t, projB, "box", 2002)

	// The sandbox's own account, calling in its project.
	call := sample(t, "logentry-setiampolicy-by-sandbox-sa.json", projA, w.cfg.Cloud.GCP.ServiceAccount, acctA)
	call = []byte(strings.ReplaceAll(string(call), "cc-sandbox@"+projA+".iam.gserviceaccount.com", acctA))
	rules, id, err := decideEntry(ctx, w.env, call)
	if err != nil || id != "1001" || len(rules) == 0 || rules[0] != "sandbox-sa-privileged-call" {
		t.Errorf("A's account's SetIamPolicy: rules %v on instance %q (%v); want sandbox-sa-privileged-call on 1001", rules, id, err)
	}
	// Another principal reads A's key in project A.
	secret := w.cfg.SandboxSecrets("box")[0]
	read := sample(t, "logentry-secret-access-unknown-principal.json", projA, "/secrets/anthropic-api-key/", "/secrets/"+secret+"/")
	rules, id, err = decideEntry(ctx, w.env, read)
	if err != nil || id != "1001" || len(rules) == 0 {
		t.Errorf("someone reads %s in %s: rules %v on instance %q (%v); want a match on A's VM 1001", secret, projA, rules, id, err)
	}
	// The same read in a project coopguard guards no sandbox in.
	stray := sample(t, "logentry-secret-access-unknown-principal.json", "stray-proj-c", "/secrets/anthropic-api-key/", "/secrets/"+secret+"/")
	if _, _, err := decideEntry(ctx, w.env, stray); err == nil {
		t.Error("an entry of a project without a recorded sandbox was taken as genuine")
	}
	// A principal found to be no sandbox's account, then recorded as one
	// by this process's converge: found at once.
	sb, err := provisioner.SandboxIn(w.cfg, projB, "late", "")
	if err != nil {
		t.Fatal(err)
	}
	late := sample(t, "logentry-setiampolicy-by-sandbox-sa.json", projB, "cc-sandbox@"+projB+".iam.gserviceaccount.com", sb.ServiceAccount)
	if rules, _, err := decideEntry(ctx, w.env, late); err != nil || len(rules) != 0 && rules[0] == "sandbox-sa-privileged-call" {
		t.Fatalf("before it is recorded: rules %v (%v); want no sandbox-sa rule", rules, err)
	}
	if err := w.env.recordSandbox(ctx, sb, nil); err != nil {
		t.Fatal(err)
	}
	if rules, id, err := decideEntry(ctx, w.env, late); err != nil || len(rules) != 0 || id != "" {
		t.Errorf("recorded before its VM exists: rules %v on %q (%v); want nothing to contain", rules, id, err)
	}
	// Concurrent decisions while converges refresh the index agree.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10 {
				if g == 0 && i%3 == 0 {
					w.env.fleet.invalidate()
				}
				if _, id, err := decideEntry(ctx, w.env, read); err != nil || id != "1001" {
					t.Errorf("concurrent decision %d/%d: instance %q (%v), want 1001", g, i, id, err)
				}
			}
		})
	}
	wg.Wait()
	if n := w.emu.Faults.Calls("compute.instances.list"); n != 0 {
		t.Errorf("deciding listed VMs %d times; want lookups only", n)
	}
}

// BenchmarkDecideFleet is HandleLogEntry's decision (decode, guarded
// project, genuineness, the rules of the sandbox the entry concerns) with
// 1, 50 and 500 sandboxes in the registry, each in a project of its own:
// an entry by a sandbox's account (found by its account), and a read of
// a sandbox's key by another principal (judged against its project's
// sandboxes). It reports the median per-decision time at each size and
// fails when the figure at 500 is over 2× the figure at 1: finding the
// sandbox is a lookup, not a scan.
func BenchmarkDecideFleet(b *testing.B) {
	w := newFleetWorld(b)
	ctx := context.Background()
	recorded := 0
	const decisions = 200
	figures := map[string]float64{}
	for _, n := range []int{1, 50, 500} {
		for ; recorded < n; recorded++ {
			w.record(b, fmt.Sprintf("fleet-proj-%03d", recorded), fmt.Sprintf("box-%03d", recorded), uint64(1000+recorded))
		}
		last := recorded - 1
		project, name := fmt.Sprintf("fleet-proj-%03d", last), fmt.Sprintf("box-%03d", last)
		sb, err := provisioner.SandboxIn(w.cfg, project, name, "")
		if err != nil {
			b.Fatal(err)
		}
		own := sample(b, "logentry-setiampolicy-by-sandbox-sa.json", project, "cc-sandbox@"+project+".iam.gserviceaccount.com", sb.ServiceAccount)
		other := sample(b, "logentry-secret-access-unknown-principal.json", project, "/secrets/anthropic-api-key/", "/secrets/"+sb.Secrets[0]+"/")
		for _, c := range []struct {
			kind string
			data []byte
		}{{"own-account", own}, {"other-principal", other}} {
			// The first decision fills the index (the process is warm).
			if rules, id, err := decideEntry(ctx, w.env, c.data); err != nil || len(rules) == 0 || id != strconv.Itoa(1000+last) {
				b.Fatalf("%s with %d sandboxes: rules %v on %q (%v); want a match on %d", c.kind, n, rules, id, err, 1000+last)
			}
			var ns []float64
			for range b.N {
				for range decisions {
					start := time.Now()
					if _, _, err := decideEntry(ctx, w.env, c.data); err != nil {
						b.Fatal(err)
					}
					ns = append(ns, float64(time.Since(start).Nanoseconds()))
				}
			}
			figures[fmt.Sprintf("%s-ns@%d", c.kind, n)] = median(ns)
		}
	}
	for _, kind := range []string{"own-account", "other-principal"} {
		for _, n := range []int{1, 50, 500} {
			k := fmt.Sprintf("%s-ns@%d", kind, n)
			b.ReportMetric(figures[k], k)
		}
		ratio := figures[kind+"-ns@500"] / figures[kind+"-ns@1"]
		b.ReportMetric(ratio, kind+"-500/1")
		if ratio > 2 {
			b.Errorf("%s: deciding with 500 sandboxes takes %.2f× the time with 1; want within 2× (a lookup, not a scan)", kind, ratio)
		}
	}
	if n := w.emu.Faults.Calls("compute.instances.list"); n != 0 {
		b.Errorf("deciding listed VMs %d times; want lookups only", n)
	}
}

// median is the middle of xs (sorted in place).
func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}
