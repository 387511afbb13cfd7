package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/pstest"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/test/emulator/eventarc"
)

// TestSchedulerReachesFinishIncidents: a run of serve's emulated Cloud
// Scheduler publishes deploy's coopguard-finish-incidents message to the
// follow-up topic, and the emulated Eventarc delivers it to
// /FinishIncidents as a CloudEvent that FinishIncidents takes as its job's
// (Classify, DecodeSchedulerMessage) — the route eventTriggers gives serve.
func TestSchedulerReachesFinishIncidents(t *testing.T) {
	cfg := config.Defaults()
	cfg.Cloud.GCP.Project = "coopguard-local"
	job := finishIncidentsJob(&cfg)
	if job.Topic != "coopguard-followup" || job.Function != "FinishIncidents" {
		t.Fatalf("job %+v: want the follow-up topic and FinishIncidents", job)
	}
	routes := map[string]string{}
	for _, tr := range eventTriggers(&cfg) {
		routes[tr.Topic] = "/" + tr.Function
	}
	if routes[job.Topic] != "/FinishIncidents" {
		t.Fatalf("serve routes topic %s to %q, want /FinishIncidents", job.Topic, routes[job.Topic])
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	received := make(chan events.PubSubMessage, 4)
	p, err := cloudevents.NewHTTP()
	if err != nil {
		t.Fatal(err)
	}
	h, err := cloudevents.NewHTTPReceiveHandler(ctx, p, func(ctx context.Context, ev cloudevents.Event) error {
		msg, err := events.DecodePubSubEvent(ev)
		if err != nil {
			t.Errorf("the delivered event is no Pub/Sub CloudEvent: %v", err)
			return nil
		}
		received <- msg
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fn := httptest.NewServer(h)
	defer fn.Close()

	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	defer srv.Close()
	ps, err := pubsub.NewClient(ctx, cfg.Cloud.GCP.Project, option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	b, err := eventarc.New(ps, fn.URL, map[string]string{job.Topic: routes[job.Topic]}, eventarc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = b.Stop(sctx)
	}()

	// Two runs, ticked by hand: each is one message.
	ticks := make(chan time.Time)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runScheduler(ctx, ps, job, ticks)
	}()
	for run := 1; run <= 2; run++ {
		ticks <- time.Now()
		select {
		case msg := <-received:
			if k := events.Classify(msg); k != events.KindScheduler {
				t.Errorf("run %d: the message classifies as %v, want a Scheduler message", run, k)
			}
			sm, err := events.DecodeSchedulerMessage(msg)
			if err != nil {
				t.Fatalf("run %d: %v", run, err)
			}
			if sm.Job != functions.FinishIncidentsJob || sm.Reason != "scheduled" || len(msg.Attributes) != 1 {
				t.Errorf("run %d: job %q, reason %q, attributes %v; want exactly deploy's job message (coopguard-job=%s, {\"reason\":\"scheduled\"})",
					run, sm.Job, sm.Reason, msg.Attributes, functions.FinishIncidentsJob)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("run %d: FinishIncidents got nothing within 30s", run)
		}
	}
	close(ticks)
	<-done
}

// TestEveryMinuteTicksOnTheMinute: the emulated schedule "* * * * *" fires
// at the start of the next minute of the emulator's clock, and stops with
// its context.
func TestEveryMinuteTicksOnTheMinute(t *testing.T) {
	// The emulated clock stands 20 ms before 12:01.
	minute := time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)
	start := time.Now()
	now := func() time.Time { return minute.Add(-20 * time.Millisecond).Add(time.Since(start)) }
	ctx, cancel := context.WithCancel(context.Background())
	ticks := everyMinute(ctx, now)
	select {
	case tick := <-ticks:
		if d := tick.Sub(minute); d < 0 || d > 5*time.Second {
			t.Errorf("first run at %s, want the start of the minute %s", tick.Format(time.StampMilli), minute.Format(time.StampMilli))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no run within 30s of a minute that starts in 20ms")
	}
	cancel()
	for range ticks { // closes once stopped
	}
}

// TestServeBannerNamesTheScheduler: serve says the emulated Cloud
// Scheduler runs FinishIncidents, and stop ends it.
func TestServeBannerNamesTheScheduler(t *testing.T) {
	cfg := config.Defaults()
	srv := pstest.NewServerWithAddress("127.0.0.1:0")
	defer srv.Close()
	ps, err := pubsub.NewClient(context.Background(), "coopguard-local", option.WithEndpoint(srv.Addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	var out bytes.Buffer
	stop := startScheduler(context.Background(), ps, finishIncidentsJob(&cfg), time.Now, &out)
	stop()
	if want := "Cloud Scheduler (emulated): coopguard-finish-incidents every minute → coopguard-followup → FinishIncidents\n"; !bytes.Contains(out.Bytes(), []byte(want)) {
		t.Errorf("serve printed %q, want a line %q", out.String(), want)
	}
}
