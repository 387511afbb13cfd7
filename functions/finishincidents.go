package functions

import (
	"context"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// FinishIncidentsJob is the coopguard-job attribute value of the Cloud
// Scheduler job that triggers FinishIncidents (config.Jobs).
const FinishIncidentsJob = config.SchedulerFinishIncidents

// FinishIncidents carries every contained incident's follow-up one look
// further — the VM reaching TERMINATED, the snapshot, the evidence — so
// that no event function holds a request while GCP works. It is triggered
// every minute by the Cloud Scheduler job (attribute
// coopguard-job=finish-incidents); each run is a few quick reads per open
// incident (respond.FollowUpBatch at most), and the follow-up's state lives
// in the incident store, so a run that fails is simply the next run's work:
// it is logged and acknowledged, never redelivered (the next tick comes in
// a minute anyway). Other messages are logged and acknowledged.
func (e *Env) FinishIncidents(ctx context.Context, ev event.Event) error {
	ctx, msg, done, err := e.beginEvent(ctx, ev)
	if done {
		return err
	}
	log := logger.FromContext(ctx)
	if events.Classify(msg) != events.KindScheduler {
		log.Warn("FinishIncidents takes only its Cloud Scheduler job's messages: acknowledged, nothing done", "attributes", len(msg.Attributes))
		return nil
	}
	sm, err := events.DecodeSchedulerMessage(msg)
	if err != nil {
		return acknowledge(ctx, "undecodable Scheduler message", err)
	}
	if sm.Job != FinishIncidentsJob {
		log.Warn("Scheduler job is not "+FinishIncidentsJob+": acknowledged, nothing done; point that job at its own function", "job", sm.Job)
		return nil
	}
	st, err := e.Responder.FollowUp(ctx)
	if err != nil {
		log.Warn("some follow-ups could not be looked at; the next run looks again", "error", err, "looked", st.Looked)
	}
	if st.Looked > 0 || st.Busy > 0 {
		log.Info("follow-ups looked at", "looked", st.Looked, "finished", st.Finished, "busy", st.Busy)
	}
	return nil
}
