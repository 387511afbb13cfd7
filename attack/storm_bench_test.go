package attack

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
)

// stormCalls is the storm a stolen token makes: denied calls by the
// contained sandbox's account.
const stormCalls = 1000

// BenchmarkStormSecondSandbox measures issue 20's storm: another
// sandbox's time from its own offending call to coopguard's first
// containment action on it (its VM tagged for quarantine or leaving
// RUNNING; the median of three sandboxes, one after another), quiet and
// while the contained first sandbox's account makes 1,000 denied calls, each through the whole chain (audit entry, sink,
// Pub/Sub, Eventarc, HandleLogEntry), under the GCP-like profile. The
// second sandbox's own entry is delivered beside the storm's as soon as
// the sink publishes it (Pub/Sub keeps no order; the emulated Eventarc's
// queue would put it behind the storm's). The target: under the storm
// within 2× the quiet figure; the benchmark fails past it. It also
// reports how many of the storm's deliveries were still to come when the
// last sandbox's first action happened (the storm was on). One
// untimed quiet run first warms the Firestore emulator; in every run the
// first sandbox is contained first, so the quiet and storm runs differ
// only by the storm.
func BenchmarkStormSecondSandbox(b *testing.B) {
	profile := compute.GCPLike()
	var pending int64
	// others are the sandboxes whose calls are timed, one after another,
	// in each world: their median is the world's figure (the machine is
	// shared; one sample is noise).
	others := []string{"sbx2", "sbx3", "sbx4"}
	measure := func(storm bool) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		w, err := Start(ctx, Options{Profile: &profile})
		if err != nil {
			b.Fatal(err)
		}
		defer w.Close()
		project := w.Cfg.Cloud.GCP.Project
		accounts := map[string]string{}
		for _, name := range others {
			if _, err := w.Env.Provisioner.Converge(ctx, provisioner.Options{Name: name}); err != nil {
				b.Fatalf("provision %s: %v", name, err)
			}
			id, err := provisioner.ServiceAccountID(name)
			if err != nil {
				b.Fatal(err)
			}
			accounts[name] = config.AccountEmail(id, project)
		}
		// The first sandbox is contained in both runs: the quiet one
		// differs only by the storm. Once contained, its account is
		// disabled and a stolen token's calls are refused unheard (no
		// audit entry), so the storm is the burst made before the
		// containment took hold, whose entries arrive after it (a sink
		// delivers within seconds to minutes): the calls are made with
		// deliveries paused, and the first of them contains it.
		var start int64 // deliveries answered before the storm
		if storm {
			if err := w.bridge.Stop(ctx); err != nil {
				b.Fatal(err)
			}
			var wg sync.WaitGroup
			calls := make(chan struct{})
			for range 16 {
				wg.Go(func() {
					for range calls {
						if err := escalate(ctx, w); err != nil {
							b.Error(err)
						}
					}
				})
			}
			// The calls are made first (in GCP they cost coopguard
			// nothing; here they share its CPU); their entries are then
			// being delivered while the other sandboxes call.
			for range stormCalls {
				calls <- struct{}{}
			}
			close(calls)
			wg.Wait()
			start = w.logDeliveries.Load()
			if err := w.bridge.Start(ctx); err != nil {
				b.Fatal(err)
			}
			for w.logDeliveries.Load()-start < stormCalls/10 {
				select {
				case <-ctx.Done():
					b.Fatalf("%d storm deliveries answered, want %d before the other sandboxes' calls", w.logDeliveries.Load()-start, stormCalls/10)
				case <-time.After(poll):
				}
			}
		} else {
			s, err := Find("privilege-escalation")
			if err != nil {
				b.Fatal(err)
			}
			if r, err := Run(ctx, w, s, RunOptions{Advance: 5 * time.Second}); err != nil || !r.Passed() {
				b.Fatalf("the first sandbox was not contained (%v): %s, %d incidents", err, r.After, len(r.Incidents))
			}
		}
		var times []time.Duration
		for _, name := range others {
			times = append(times, w.timeToFirstAction(ctx, b, name, accounts[name]))
		}
		if storm {
			pending += stormCalls - (w.logDeliveries.Load() - start)
		}
		slices.Sort(times)
		return times[len(times)/2]
	}
	b.StopTimer()
	measure(false)
	b.ResetTimer()
	var quiet, stormy time.Duration
	for i := 0; i < b.N; i++ {
		quiet += measure(false)
		stormy += measure(true)
	}
	ratio := stormy.Seconds() / quiet.Seconds()
	b.ReportMetric(quiet.Seconds()*1000/float64(b.N), "quiet-ms-to-first-action")
	b.ReportMetric(stormy.Seconds()*1000/float64(b.N), "storm-ms-to-first-action")
	b.ReportMetric(ratio, "storm/quiet")
	b.ReportMetric(float64(pending)/float64(b.N), "storm-deliveries-to-come")
	if ratio > 2 {
		b.Errorf("under a storm of %d denied calls by a contained sandbox, another sandbox's time to containment is %.2f× its quiet figure, want within 2×", stormCalls, ratio)
	}
}

// timeToFirstAction makes sandbox name's account (account) call
// SetIamPolicy on the project, delivers the sink's entry about it, and
// returns the time from the call to coopguard's first containment action
// on the sandbox (its VM tagged for quarantine or leaving RUNNING),
// timed by b.
func (w *World) timeToFirstAction(ctx context.Context, b *testing.B, name, account string) time.Duration {
	agent, err := w.Emu.ClientsAs(ctx, w.Cfg.Cloud.GCP.Project, account)
	if err != nil {
		b.Fatal(err)
	}
	defer agent.Close()
	project := w.Cfg.Cloud.GCP.Project
	b.StartTimer()
	defer b.StopTimer()
	called := time.Now()
	_, err = agent.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + project, Policy: &iampb.Policy{
		Bindings: []*iampb.Binding{{Role: "roles/owner", Members: []string{"serviceAccount:" + account}}}}})
	if err := refused(err, "SetIamPolicy by "+account); err != nil {
		b.Fatal(err)
	}
	// Pub/Sub keeps no order: the entry is delivered beside the storm's,
	// not in line behind it (the emulated Eventarc's queue delivers it
	// too, later: a duplicate, answered with the incident's record).
	answered := make(chan error, 1)
	go func() { answered <- deliverNow(ctx, w, account) }()
	defer func() {
		if err := <-answered; err != nil {
			b.Fatalf("the delivery of %s's call: %v", name, err)
		}
	}()
	for {
		inst, ok := w.Emu.Compute.Instance(project, w.Cfg.Cloud.GCP.Zone, name)
		if ok && (inst.GetStatus() != "RUNNING" || slices.Contains(inst.GetTags().GetItems(), config.QuarantineTag)) {
			return time.Since(called)
		}
		select {
		case <-ctx.Done():
			b.Fatalf("%s not contained: %v", name, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// deliverNow finds the sink's message about principal's call on the logs
// topic and delivers it to HandleLogEntry at once, as Eventarc would.
func deliverNow(ctx context.Context, w *World, principal string) error {
	for {
		for _, m := range w.Emu.PubSub.Messages() {
			if !strings.HasSuffix(m.Topic, "/"+w.Cfg.Coopguard.Topics.Logs) || !strings.Contains(string(m.Data), principal) {
				continue
			}
			env, err := json.Marshal(map[string]any{
				"message":      map[string]any{"data": base64.StdEncoding.EncodeToString(m.Data), "attributes": m.Attributes, "messageId": m.ID, "publishTime": m.PublishTime},
				"subscription": "projects/" + w.Cfg.Cloud.GCP.Project + "/subscriptions/storm-bench",
			})
			if err != nil {
				return err
			}
			ev := event.New()
			ev.SetID(m.ID)
			ev.SetSource("//pubsub.googleapis.com/" + m.Topic)
			ev.SetType("google.cloud.pubsub.topic.v1.messagePublished")
			if err := ev.SetData(event.ApplicationJSON, json.RawMessage(env)); err != nil {
				return err
			}
			return w.Env.HandleLogEntry(ctx, ev)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no sink message about %s's call: %w", principal, ctx.Err())
		case <-time.After(poll):
		}
	}
}
