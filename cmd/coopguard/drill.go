package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
)

// runDrill publishes a synthetic Monitoring incident for the sandbox and
// prints what the responder did: a fire drill of the whole path. It
// returns once the containment holds (or failed), with what the follow-up
// is still doing; --wait follows the follow-up to its end.
func runDrill(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	var t target
	t.flags(fs)
	dryRun := fs.Bool("dry-run", false, "the responder reports what it would do and changes nothing")
	playbook := fs.String("playbook", "contain", "playbook to drill: contain, quarantine or notify")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for the containment's report")
	wait := fs.Bool("wait", false, "then follow the follow-up (VM stopped, disk snapshot, evidence) to its end, showing its progress (at most "+(store.FollowUpLimit+followMargin).String()+" more)")
	asJSON := fs.Bool("json", false, "print the report as JSON (with --wait, only the final one)")
	var f fleetFilter
	fs.StringVar(&f.project, "project", "", "the drilled sandbox's project (default: coopguard's own; another is drilled through the sandbox registry)")
	fs.StringVar(&f.sandbox, "sandbox", "", "the drilled sandbox (default: the first sandbox Status lists)")
	attackName := fs.String("attack", "", "play a compromised agent's real API calls on an emulated project and show what coopguard did: a drill name, or list")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *attackName != "" {
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		return runAttackDrill(ctx, *attackName, stdout)
	}
	// --timeout bounds the wait for the containment only: the follow-up
	// that --wait follows takes minutes by design.
	contained, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var rep *incident.Report
	var read reportReader
	var err error
	if t.direct() {
		// The env outlives the containment's --timeout: --wait reads the
		// store after it.
		e, envErr := t.env(ctx)
		if envErr != nil {
			return envErr
		}
		defer e.Close()
		rep, err = drillDirect(contained, e, f, *playbook, *dryRun)
		if err != nil {
			return err
		}
		read = storeReport(e.Store, rep.Incident.ID)
	} else {
		rep, err = drillServer(contained, &t, f, *playbook, *dryRun)
		if err != nil {
			return err
		}
		read = serverReport(&t, rep.Incident.ID)
	}
	if !*asJSON {
		printIncident(stdout, rep)
	}
	if *wait {
		rep, err = followTo(ctx, stdout, rep, read, *asJSON)
	}
	if *asJSON {
		// As before the follow-up: --json reports, the exit status says
		// only whether the drill could be followed.
		return errors.Join(printJSON(stdout, rep), err)
	}
	if err != nil {
		fmt.Fprintf(stdout, "\nnext: coopguard incidents show %s --wait   (the follow-up goes on without you)\n", escape(rep.Incident.ID))
		return err
	}
	fmt.Fprintf(stdout, "\nnext: %s\n", drillNext(rep))
	return drillErr(rep)
}

// drillErr is the drill's error by the report's outcome: the containment
// failed or was refused, or the follow-up could not finish.
func drillErr(rep *incident.Report) error {
	if rep.Outcome == incident.OutcomeIncomplete || rep.Outcome == incident.OutcomeRefused {
		return fmt.Errorf("drill %s: %s %s", rep.Incident.ID, rep.Outcome, rep.Reason)
	}
	return nil
}

// drillNext is the command to run after a drill, by its outcome and its
// follow-up: follow what still runs, read the report and undo the drill's
// containment, or see what is left.
func drillNext(rep *incident.Report) string {
	id := escape(rep.Incident.ID)
	running := rep.FollowUp == incident.FollowUpRunning
	undo := "then undo the drill: coopguard resolve " + id + " --restore"
	switch {
	case acting(rep.Outcome):
		return "coopguard incidents show " + id + " --wait   (the containment is still under way)"
	case rep.Outcome == incident.OutcomeContained && running:
		return "coopguard incidents show " + id + " --wait   (follow the follow-up to its end), " + undo
	case rep.Outcome == incident.OutcomeContained, rep.Outcome == incident.OutcomeComplete:
		return "coopguard incidents show " + id + "   " + undo
	case rep.Outcome == incident.OutcomeNotified && running:
		return "coopguard incidents show " + id + " --wait   (the evidence is still being collected)"
	case rep.Outcome == incident.OutcomeDryRun:
		return "coopguard drill   (without --dry-run: contain the sandbox for real, then resolve " + id + " --restore)"
	case rep.Outcome == incident.OutcomeIncomplete && rep.FollowUp == incident.FollowUpDone:
		// Only a contained incident has a follow-up: the drill's
		// containment held and still needs undoing.
		return "coopguard incidents show " + id + "   (what the follow-up could not do), " + undo
	case rep.Outcome == incident.OutcomeIncomplete, rep.Outcome == incident.OutcomeRefused:
		return "coopguard incidents show " + id + "   (what failed), then coopguard status"
	default:
		return "coopguard incidents show " + id
	}
}

// drillIncident is a Monitoring incident for the sandbox VM as the CPU
// policy Provision made for it would send it (HandleAlert acts on no
// other policy's incidents).
func drillIncident(project, zone, vmName, instanceID, playbook string) (id string, payload []byte, err error) {
	id = "drill-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	payload, err = events.EncodeIncident(events.MonitoringIncident{
		Version:          "1.2",
		IncidentID:       id,
		State:            events.IncidentOpen,
		PolicyName:       provisioner.AlertPolicyName(vmName),
		PolicyUserLabels: map[string]string{functions.PlaybookLabel: playbook},
		ConditionName:    "fire drill",
		Resource:         events.MonitoredResource{Type: "gce_instance", Labels: map[string]string{"instance_id": instanceID, "zone": zone, "project_id": project}},
		StartedAt:        time.Now(),
		Summary:          "coopguard fire drill",
		Severity:         "Critical",
	})
	return "alert-" + id, payload, err
}

// drillAttrs are the message attributes of a drill.
func drillAttrs(dryRun bool) map[string]string {
	a := map[string]string{functions.AttrDrill: "true"}
	if dryRun {
		a[functions.AttrDryRun] = "true"
	}
	return a
}

// drillServer publishes the drill to the alerts topic of a coopguard
// server's emulated Pub/Sub (through its EmulatorPublish function), so it
// reaches HandleAlert the way a deployed alert does, and polls Status until
// the incident's containment is over. A server without EmulatorPublish
// (404) gets the event posted straight to HandleAlert, as Eventarc would.
func drillServer(ctx context.Context, t *target, f fleetFilter, playbook string, dryRun bool) (*incident.Report, error) {
	st, err := serverStatus(ctx, t)
	if err != nil {
		return nil, err
	}
	project, vm, err := f.drilled(st)
	if err != nil {
		return nil, err
	}
	id, payload, err := drillIncident(project, vm.Zone, vm.Name, vm.ID, playbook)
	if err != nil {
		return nil, err
	}
	published, err := publishDrill(ctx, t, payload, drillAttrs(dryRun))
	if err != nil {
		return nil, err
	}
	if !published {
		if err := postDrill(ctx, t, st.Project, id, payload, dryRun); err != nil {
			return nil, err
		}
	}
	rep, err := awaitReport(ctx, serverReport(t, id), 50*time.Millisecond, time.Second)
	if rep == nil && err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("no report for %s from %s within --timeout: check the server's log for failed deliveries (%w)", id, t.server, err)
	}
	return rep, err
}

// serverStatus reads the server's Status.
func serverStatus(ctx context.Context, t *target) (*functions.StatusReport, error) {
	return getJSON[*functions.StatusReport](ctx, t, "/Status")
}

// publishDrill publishes the drill to the topic that triggers HandleAlert
// through EmulatorPublish. It reports false when the server does not offer
// EmulatorPublish.
func publishDrill(ctx context.Context, t *target, payload []byte, attrs map[string]string) (bool, error) {
	resp, err := t.call(ctx, http.MethodGet, "/EmulatorPublish", nil, "")
	if resp != nil && resp.StatusCode == http.StatusNotFound {
		resp.Body.Close()
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var info struct {
		Triggers []struct{ Topic, Function string } `json:"triggers"`
	}
	err = json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if err != nil {
		return false, fmt.Errorf("bad EmulatorPublish answer from %s: %w", t.server, err)
	}
	topic := ""
	for _, tr := range info.Triggers {
		if tr.Function == "HandleAlert" {
			topic = tr.Topic
		}
	}
	if topic == "" {
		return false, fmt.Errorf("%s has no topic triggering HandleAlert: is it a coopguard serve?", t.server)
	}
	resp, err = t.call(ctx, http.MethodPost, "/EmulatorPublish", map[string]any{
		"topic": topic, "data": base64.StdEncoding.EncodeToString(payload), "attributes": attrs,
	}, "")
	if err != nil {
		return false, fmt.Errorf("publish the drill to %s: %w", topic, err)
	}
	resp.Body.Close()
	return true, nil
}

// postDrill sends the drill to the server's HandleAlert as an Eventarc
// CloudEvent.
func postDrill(ctx context.Context, t *target, project, id string, payload []byte, dryRun bool) error {
	data, err := events.EncodePubSub(events.PubSubMessage{Data: payload, Attributes: drillAttrs(dryRun), MessageID: id, PublishTime: time.Now()})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(t.server, "/")+"/HandleAlert", bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-id", id)
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-type", events.PubSubMessagePublished)
	req.Header.Set("ce-source", "//pubsub.googleapis.com/projects/"+project+"/topics/coopguard-alerts")
	t.authorize(req)
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("deliver the drill to %s: %w", t.server, err)
	}
	hr.Body.Close()
	return nil
}

// awaitReport reads the incident's report, pausing from first to most
// between reads, until its containment is over (see acting): contained,
// notified, dry-run, incomplete or refused, with the follow-up maybe still
// running. When ctx (--timeout) ends first it returns the last report
// read, still acting, or nil and the context's error when there was none.
func awaitReport(ctx context.Context, read reportReader, first, most time.Duration) (*incident.Report, error) {
	var last *incident.Report
	for pause := first; ; pause = min(pause*2, most) {
		rep, err := read(ctx)
		switch {
		case err == nil:
			if rep != nil {
				last = rep
			}
			if last != nil && !acting(last.Outcome) {
				return last, nil
			}
		case ctx.Err() == nil:
			return nil, err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return last, nil
			}
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
}

// drillDirect publishes the drill to the project's alerts topic, as
// Monitoring would, and waits for the deployed responder's containment in
// the incident store.
func drillDirect(ctx context.Context, e *functions.Env, f fleetFilter, playbook string, dryRun bool) (*incident.Report, error) {
	st, err := functions.CollectStatus(ctx, e)
	if err != nil {
		return nil, err
	}
	project, vm, err := f.drilled(st)
	if err != nil {
		return nil, err
	}
	if e.Store == nil {
		return nil, respond.ErrNoStore
	}
	id, payload, err := drillIncident(project, vm.Zone, vm.Name, vm.ID, playbook)
	if err != nil {
		return nil, err
	}
	pub := e.Clients.PubSub.Publisher(e.Config.Coopguard.Topics.Alerts)
	defer pub.Stop()
	if _, err := pub.Publish(ctx, &pubsub.Message{Data: payload, Attributes: drillAttrs(dryRun)}).Get(ctx); err != nil {
		return nil, fmt.Errorf("publish the drill to %s: %w", e.Config.Coopguard.Topics.Alerts, err)
	}
	rep, err := awaitReport(ctx, storeReport(e.Store, id), 500*time.Millisecond, 5*time.Second)
	if rep == nil && err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("no report for %s yet: is coopguard deployed and subscribed to %s? (%w)", id, e.Config.Coopguard.Topics.Alerts, err)
	}
	return rep, err
}

// printIncident renders a report as a readable timeline: the follow-up's
// state, its steps still pending as pending, and the time to containment
// (egress, key and stop request held), not to the end of the follow-up.
func printIncident(w io.Writer, raw *incident.Report) {
	safe := printable(*raw)
	rep := &safe
	inc := rep.Incident
	fmt.Fprintf(w, "incident %s  (%s, %s via %s)\n", inc.ID, rep.Outcome, inc.Playbook, inc.Source)
	fmt.Fprintf(w, "  trigger   %s\n", inc.Trigger)
	if rep.Instance != "" {
		fmt.Fprintf(w, "  instance  %s\n", rep.Instance)
	}
	if rep.Reason != "" {
		fmt.Fprintf(w, "  reason    %s\n", rep.Reason)
	}
	fmt.Fprintf(w, "  received  %s\n", rep.ReceivedAt.Format(time.RFC3339Nano))
	if s := followUpState(raw); s != "" {
		fmt.Fprintf(w, "  follow-up %s\n", s)
	}
	if rep.ResolvedBy != "" {
		fmt.Fprintf(w, "  resolved  by %s at %s\n", rep.ResolvedBy, rep.ResolvedAt.Format(time.RFC3339))
	}
	if rep.Explanation != "" {
		fmt.Fprintf(w, "  cause     %s\n", rep.Explanation)
	}
	if rep.ResumedBy != "" {
		fmt.Fprintf(w, "  resumed   by %s at %s\n", rep.ResumedBy, rep.ResumedAt.Format(time.RFC3339))
	}
	if rep.ResumeForced != "" {
		fmt.Fprintf(w, "  forced    cause unexplained; reason given: %s\n", rep.ResumeForced)
	}
	if s := raw.Appended.String(); s != "" {
		fmt.Fprintf(w, "  later     %s\n", escape(s))
	}
	if len(rep.Actions) > 0 {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ACTION\tSTART\tSECONDS\tRESULT\tDETAIL")
		for _, a := range rep.Actions {
			// A step not looked at yet has no start; a pending one's
			// seconds are its last look's, not how long it takes.
			start, secs := "-", "-"
			if !a.Start.IsZero() {
				start = "+" + strconv.FormatFloat(a.Start.Sub(rep.ReceivedAt).Seconds(), 'f', 3, 64) + "s"
			}
			if a.Result != incident.ResultPending {
				secs = strconv.FormatFloat(a.Seconds, 'f', 3, 64)
			}
			detail := a.Detail
			if a.Reason != "" {
				detail = a.Reason
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", a.Action, start, secs, a.Result, detail)
		}
		tw.Flush()
	}
	printEvidence(w, raw.Evidence)
	if acting(raw.Outcome) {
		fmt.Fprintf(w, "\n  time to containment: not yet, the containment is under way\n")
	} else {
		fmt.Fprintf(w, "\n  time to containment: %.3fs (critical path %.3fs)\n", rep.ContainmentSeconds, rep.CriticalPathSeconds)
	}
	if raw.FollowUp == incident.FollowUpRunning {
		if s := stillRunning(raw); s != "" {
			fmt.Fprintf(w, "  still running: %s\n", s)
		}
	}
}
