package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// schedulerJob is a Cloud Scheduler job with a Pub/Sub target, as deploy
// creates it (deploy/deploy.sh, the scheduler section).
type schedulerJob struct {
	Name string
	// Topic is the topic id the job publishes to; Function the function
	// that topic triggers (for the banner).
	Topic, Function string
	// Body and Attributes are the message: Cloud Scheduler publishes
	// exactly the job's configured body and attributes.
	Body       []byte
	Attributes map[string]string
}

// finishIncidentsJob is deploy's Cloud Scheduler job of FinishIncidents
// (config.Jobs): {"reason":"scheduled"} with its coopguard-job attribute
// to the follow-up topic, every minute.
func finishIncidentsJob(cfg *config.Config) schedulerJob {
	var f config.Function
	for _, d := range config.Functions() {
		if d.Name == "FinishIncidents" {
			f = d
		}
	}
	job := schedulerJob{
		Name:     f.Service,
		Topic:    cfg.Coopguard.Topics.Topic(f.Topic),
		Function: f.Name,
		Body:     []byte(`{"reason":"scheduled"}`),
	}
	if f.Schedule != nil {
		job.Attributes = map[string]string{events.AttrSchedulerJob: f.Schedule.Attr}
	}
	return job
}

// startScheduler is the emulated Cloud Scheduler of `coopguard serve`: it
// runs job at the start of every minute of now's clock (the schedule
// "* * * * *") by publishing its message through ps, so the emulated
// Eventarc delivers it to the function as in GCP. Without it an incident
// contained on the emulated project would never finish. It prints one
// banner line; stop ends it, abandoning a publish under way, and returns
// once it has ended.
func startScheduler(ctx context.Context, ps *pubsub.Client, job schedulerJob, now func() time.Time, stdout io.Writer) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runScheduler(ctx, ps, job, everyMinute(ctx, now))
	}()
	fmt.Fprintf(stdout, "  Cloud Scheduler (emulated): %s every minute → %s → %s\n", job.Name, job.Topic, job.Function)
	return func() {
		cancel()
		<-done
	}
}

// runScheduler publishes job's message at each tick until ticks closes or
// ctx ends. A failed publish is logged and the next tick tries again, as
// Cloud Scheduler logs a failed run and keeps its schedule.
func runScheduler(ctx context.Context, ps *pubsub.Client, job schedulerJob, ticks <-chan time.Time) {
	log := logger.FromContext(ctx).With("job", job.Name, "topic", job.Topic)
	pub := ps.Publisher(job.Topic)
	defer pub.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ticks:
			if !ok {
				return
			}
			// Each run publishes a message of its own: the client
			// library owns a published message.
			msg := &pubsub.Message{Data: slices.Clone(job.Body), Attributes: maps.Clone(job.Attributes)}
			if _, err := pub.Publish(ctx, msg).Get(ctx); err != nil && ctx.Err() == nil {
				log.Warn("Cloud Scheduler (emulated): publish failed; the next run is in a minute", "error", err)
			}
		}
	}
}

// everyMinute ticks at the start of every minute of now's clock until ctx
// ends (then it closes), as the cron schedule "* * * * *" fires. Like
// time.Ticker's, its channel holds one tick: a slow receiver drops ticks
// rather than receiving a burst.
func everyMinute(ctx context.Context, now func() time.Time) <-chan time.Time {
	out := make(chan time.Time, 1)
	send := func() {
		select {
		case out <- now():
		default:
		}
	}
	go func() {
		defer close(out)
		t := now()
		first := time.NewTimer(t.Truncate(time.Minute).Add(time.Minute).Sub(t))
		defer first.Stop()
		select {
		case <-ctx.Done():
			return
		case <-first.C:
			send()
		}
		ticker := time.NewTicker(time.Minute)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
				send()
			}
		}
	}()
	return out
}
