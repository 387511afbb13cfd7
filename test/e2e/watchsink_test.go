package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// TestSandboxProjectSinkChangeReachesTheOperator: in a sandbox's own
// project, where home's deaf policy does not read the Admin Activity
// log, the project's owner (not coopguard, not the sandbox) narrows and
// then deletes the detection sink; the watch sink routes each change to
// coopguard and an incident (defence-changed) names the sink. Deleting
// the watch sink is carried by the detection sink the same way. Another
// sink of the team's, made, changed and deleted, raises nothing. Posture
// fails the log-sink check while a sink is gone and converge puts both
// back. Entries are written by the emulated Logging on GCP's clock and
// delivered as Eventarc delivers the logs topic.
func TestSandboxProjectSinkChangeReachesTheOperator(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	const other, name = "sandbox-watch-proj", "watched-sandbox"
	sandboxElsewhere(t, s, other, name, "sk-watched-key")
	ctx := context.Background()
	// The project's owner: a person of the team, not coopguard's.
	const owner = "owner@example.com"
	pol, err := s.operator.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/" + other, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/owner", Members: []string{"user:" + owner}})
	if _, err := s.operator.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + other, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	body := `{"project":"` + other + `","name":"` + name + `"}`
	if code, rep := s.provision(t, body); code != http.StatusOK {
		t.Fatalf("provision %s/%s = %d: %+v\n%s", other, name, code, rep.Failed(), s.logs)
	}
	sb, err := provisioner.SandboxIn(s.cfg, other, name, "")
	if err != nil {
		t.Fatal(err)
	}
	sinkOf := func(n string) string { return "projects/" + other + "/sinks/" + n }
	watch, err := s.operator.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: sinkOf(sb.WatchSink())})
	if err != nil {
		t.Fatalf("no watch sink after provision: %v", err)
	}
	if watch.GetFilter() != sb.WatchFilter() || watch.GetDestination() != "pubsub.googleapis.com/"+sb.TopicPath(s.cfg.Coopguard.Topics.Logs) {
		t.Errorf("watch sink = %q to %q, want coopguard's filter to the logs topic", watch.GetFilter(), watch.GetDestination())
	}
	ownerC, err := s.emu.ClientsAs(ctx, other, owner)
	if err != nil {
		t.Fatal(err)
	}
	sink := &sinkDeliverer{w: s.world, seen: map[string]bool{}}
	sink.deliver(t)
	// defenceIncidents lists the defence-changed incidents on the sandbox
	// whose summary names resource.
	defenceIncidents := func(resource string) []incident.Report {
		t.Helper()
		var out []incident.Report
		for _, r := range s.incidents(t) {
			if r.Incident.Project == other && r.Incident.Trigger == detect.RuleDefenceChanged && strings.Contains(r.Incident.Summary, resource) {
				out = append(out, r)
			}
		}
		return out
	}
	logSinkCheck := func() posture.Result {
		t.Helper()
		code, b := s.do(t, http.MethodGet, "/Posture?project="+url.QueryEscape(other)+"&sandbox="+url.QueryEscape(name), "", nil)
		if code != http.StatusOK {
			t.Fatalf("Posture = %d %s", code, b)
		}
		var pr posture.Report
		if err := json.Unmarshal(b, &pr); err != nil {
			t.Fatal(err)
		}
		for _, r := range pr.Results {
			if r.Check == "log-sink" {
				return r
			}
		}
		t.Fatalf("no log-sink check in %+v", pr.Results)
		return posture.Result{}
	}
	if r := logSinkCheck(); r.Status != posture.Pass {
		t.Errorf("log-sink after provision = %s %s, want pass", r.Status, r.Evidence)
	}

	// Benign: the team's own sink, made, changed and deleted by the owner.
	before := len(s.incidents(t))
	if _, err := ownerC.LogConfig.CreateSink(ctx, &loggingpb.CreateSinkRequest{Parent: "projects/" + other, Sink: &loggingpb.LogSink{
		Name: "team-archive", Destination: "storage.googleapis.com/team-archive-bucket", Filter: "severity>=ERROR"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ownerC.LogConfig.UpdateSink(ctx, &loggingpb.UpdateSinkRequest{SinkName: sinkOf("team-archive"),
		Sink: &loggingpb.LogSink{Name: "team-archive", Disabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"disabled"}}}); err != nil {
		t.Fatal(err)
	}
	if err := ownerC.LogConfig.DeleteSink(ctx, &loggingpb.DeleteSinkRequest{SinkName: sinkOf("team-archive")}); err != nil {
		t.Fatal(err)
	}
	sink.deliver(t)
	if got := s.incidents(t); len(got) != before {
		t.Fatalf("the team's own sink opened incidents: %v\n%s", got, s.logs)
	}

	// The owner narrows the detection sink, then deletes it: the watch
	// sink carries both.
	if _, err := ownerC.LogConfig.UpdateSink(ctx, &loggingpb.UpdateSinkRequest{SinkName: sinkOf(sb.Sink()), UniqueWriterIdentity: true,
		Sink: &loggingpb.LogSink{Name: sb.Sink(), Filter: `severity>=EMERGENCY`}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"filter"}}}); err != nil {
		t.Fatal(err)
	}
	if err := ownerC.LogConfig.DeleteSink(ctx, &loggingpb.DeleteSinkRequest{SinkName: sinkOf(sb.Sink())}); err != nil {
		t.Fatal(err)
	}
	if n := sink.deliver(t); n == 0 {
		t.Fatal("nothing reached the logs topic of the detection sink's change")
	}
	if got := defenceIncidents(sb.Sink()); len(got) == 0 {
		t.Fatalf("no %s incident names %s: %v\n%s", detect.RuleDefenceChanged, sb.Sink(), s.incidents(t), s.logs)
	} else if got[0].Outcome != "notified" || got[0].Instance != name {
		t.Errorf("incident on the deleted sink: outcome %q on %q, want notified on %s", got[0].Outcome, got[0].Instance, name)
	}
	if r := logSinkCheck(); r.Status != posture.Fail || r.Fix == "" {
		t.Errorf("log-sink with the sink deleted = %s %q, want a failure with its fix", r.Status, r.Fix)
	}

	// Converge puts it back, telling nobody.
	if code, rep := s.provision(t, body); code != http.StatusOK {
		t.Fatalf("provision %s/%s = %d: %+v\n%s", other, name, code, rep.Failed(), s.logs)
	}
	if got, err := s.operator.LogConfig.GetSink(ctx, &loggingpb.GetSinkRequest{SinkName: sinkOf(sb.Sink())}); err != nil {
		t.Fatalf("detection sink not back after converge: %v", err)
	} else if strings.Contains(got.GetFilter(), "EMERGENCY") || got.GetDisabled() {
		t.Errorf("detection sink after converge: filter %q disabled %v", got.GetFilter(), got.GetDisabled())
	}
	before = len(s.incidents(t))
	sink.deliver(t)
	if got := s.incidents(t); len(got) != before {
		t.Errorf("converge opened incidents: %v", got)
	}
	if r := logSinkCheck(); r.Status != posture.Pass {
		t.Errorf("log-sink after converge = %s %s, want pass", r.Status, r.Evidence)
	}

	// The watch sink deleted first: the detection sink carries it.
	if err := ownerC.LogConfig.DeleteSink(ctx, &loggingpb.DeleteSinkRequest{SinkName: sinkOf(sb.WatchSink())}); err != nil {
		t.Fatal(err)
	}
	sink.deliver(t)
	if got := defenceIncidents(sb.WatchSink()); len(got) == 0 {
		t.Fatalf("no %s incident names %s: %v\n%s", detect.RuleDefenceChanged, sb.WatchSink(), s.incidents(t), s.logs)
	}
	if r := logSinkCheck(); r.Status != posture.Fail || !strings.Contains(r.Evidence, sb.WatchSink()) {
		t.Errorf("log-sink with the watch sink deleted = %s %q, want a failure naming it", r.Status, r.Evidence)
	}
	if code, rep := s.provision(t, body); code != http.StatusOK {
		t.Fatalf("provision %s/%s = %d: %+v\n%s", other, name, code, rep.Failed(), s.logs)
	}
	if r := logSinkCheck(); r.Status != posture.Pass {
		t.Errorf("log-sink after the second converge = %s %s, want pass", r.Status, r.Evidence)
	}
}
