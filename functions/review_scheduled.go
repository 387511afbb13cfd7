package functions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/uuid"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/shared/review"
	"github.com/cloudcoop/coopguard/shared/store"
)

// ReviewJob is the coopguard-job attribute of the weekly Cloud Scheduler
// job that triggers Review.
const ReviewJob = config.SchedulerReview

// SourceReview is the Source of a review's record in the incident store:
// the reviews do not list them among the incidents.
const SourceReview = "review"

// ReviewWindow is the scheduled review's window.
const ReviewWindow = 7 * 24 * time.Hour

// Review is the scheduled weekly review (Cloud Scheduler job
// weekly-review): it reviews every sandbox (BuildReview, recording what
// it saw), records one notified record per sandbox in the incident store
// (whose Summary is the review's short summary and the command that reads
// it) with its copy in coopguard's incidents log, and tells the
// operator's channels through the "coopguard weekly review" alert policy
// (tellReview). Other messages are acknowledged and ignored; a failure to
// record, copy or tell returns an error, so Pub/Sub redelivers (the
// records' ids are per sandbox and day: a redelivery finds them recorded,
// and the policy already telling that day's review is left alone).
func (e *Env) Review(ctx context.Context, ev event.Event) error {
	ctx, msg, done, err := e.beginEvent(ctx, ev)
	if done {
		return err
	}
	log := logger.FromContext(ctx)
	if events.Classify(msg) != events.KindScheduler {
		log.Warn("message is not the weekly-review Scheduler job: acknowledged, nothing done")
		return nil
	}
	sm, err := events.DecodeSchedulerMessage(msg)
	if err != nil {
		return acknowledge(ctx, "undecodable Scheduler message", err)
	}
	if sm.Job != ReviewJob {
		log.Warn("Scheduler job is not "+ReviewJob+": acknowledged, nothing done; point that job at its own function", "job", sm.Job)
		return nil
	}
	_, err = RunScheduledReview(ctx, e)
	return err
}

// tellReview writes the review's notification (review.Notification:
// coopguard's counts and the commands, nothing the sandbox wrote) into the
// documentation of the "coopguard weekly review" alert policy, as the
// reviewer. The Admin Activity entry of that update is what the policy
// matches (provisioner.ReviewFilter), so the update itself sends the
// text to the operator's channels.
func tellReview(ctx context.Context, e *Env, rv *review.Review) error {
	c := e.ClientsOf(config.AccountReviewer)
	it := c.AlertPolicies.ListAlertPolicies(ctx, &monitoringpb.ListAlertPoliciesRequest{
		Name:   "projects/" + rv.Project,
		Filter: fmt.Sprintf("display_name = %q", provisioner.ReviewPolicyName),
	})
	var pol *monitoringpb.AlertPolicy
	for {
		p, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return fmt.Errorf("find the alert policy %q in project %s: %w (the reviewer needs monitoring.alertPolicies.list)", provisioner.ReviewPolicyName, rv.Project, err)
		}
		if p.GetDisplayName() == provisioner.ReviewPolicyName && p.GetUserLabels()[provisioner.NotifyLabel] == "review" {
			pol = p
			break
		}
	}
	if pol == nil {
		return fmt.Errorf("the weekly review is not told to any channel: project %s has no alert policy %q labelled %s=review; run coopguard provision to make it", rv.Project, provisioner.ReviewPolicyName, provisioner.NotifyLabel)
	}
	if strings.HasPrefix(pol.GetDocumentation().GetContent(), rv.NotificationHeading()+"\n") {
		// A redelivery: this day's review was told already.
		return nil
	}
	subject, content := rv.Notification()
	_, err := c.AlertPolicies.UpdateAlertPolicy(ctx, &monitoringpb.UpdateAlertPolicyRequest{
		AlertPolicy: &monitoringpb.AlertPolicy{Name: pol.GetName(), Documentation: &monitoringpb.AlertPolicy_Documentation{
			Subject: subject, Content: content, MimeType: "text/markdown",
		}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"documentation"}},
	})
	if err != nil {
		return fmt.Errorf("write the weekly review into the alert policy %s: %w (the reviewer needs monitoring.alertPolicies.update)", pol.GetName(), err)
	}
	return nil
}

// RunScheduledReview builds the week's review as the reviewer, records
// it, and notifies (see Review).
func RunScheduledReview(ctx context.Context, e *Env) (*review.Review, error) {
	rv, err := BuildReview(ctx, e, ReviewOptions{Since: ReviewWindow, Record: true, Account: config.AccountReviewer})
	if err != nil {
		return nil, err
	}
	if e.Store == nil {
		return rv, errors.New("the weekly review is not delivered: no incident store")
	}
	rec := report.New(e.ClientsOf(config.AccountReviewer), e.Config.Coopguard.Topics.Incidents)
	summary := rv.Summary()
	var errs []error
	for _, s := range rv.Sandboxes {
		if err := notifyReview(ctx, e, rec, rv, s.Name, summary); err != nil {
			errs = append(errs, err)
		}
	}
	if err := tellReview(ctx, e, rv); err != nil {
		errs = append(errs, err)
	}
	logger.FromContext(ctx).Info("weekly review delivered", "sandboxes", len(rv.Sandboxes), "newMethods", rv.Counts().NewMethods, "notes", len(rv.Notes), "error", errors.Join(errs...))
	return rv, errors.Join(errs...)
}

// notifyReview records the review of sandbox as a notified record and
// copies it to coopguard's incidents log.
func notifyReview(ctx context.Context, e *Env, rec *report.Recorder, rv *review.Review, sandbox, summary string) error {
	inc := incident.Incident{
		ID:       "review-" + sandbox + "-" + rv.To.UTC().Format("20060102"),
		Source:   SourceReview,
		Trigger:  "weekly review",
		Playbook: incident.PlaybookNotify,
		// INFO: the copy in the incidents log is no incident report, and
		// the incident policy (severity>=NOTICE) must not say it is one;
		// the review policy tells the channels (tellReview).
		Severity: "INFO",
		Project:  rv.Project, Zone: e.Config.Cloud.GCP.Zone,
		Summary:   summary,
		StartedAt: rv.To,
	}
	owner := "review-" + uuid.NewString()
	cl, err := e.Store.Claim(ctx, inc, owner, rv.To)
	if err != nil {
		return fmt.Errorf("record the review of %s: %w", sandbox, err)
	}
	rep := cl.Record.View()
	if cl.Taken {
		rep = incident.Report{Incident: inc, Instance: sandbox, Outcome: incident.OutcomeNotified, Actions: []incident.ActionResult{},
			Reason: summary, ReceivedAt: rv.To, FinishedAt: e.Now()}
		if err := e.Store.Finish(ctx, inc.ID, owner, &rep); err != nil {
			return fmt.Errorf("record the review of %s: %w", sandbox, err)
		}
	} else if cl.Record.State != incident.OutcomeNotified {
		return fmt.Errorf("record the review of %s: %w", sandbox, store.ErrBusy)
	}
	if err := rec.Record(ctx, &rep); err != nil {
		return fmt.Errorf("notify the review of %s: %w (the reviewer needs logging.logEntries.create)", sandbox, err)
	}
	return nil
}
