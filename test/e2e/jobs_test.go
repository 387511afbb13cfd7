package e2e

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/report"
)

// denied reports whether err is IAM's refusal (gRPC PERMISSION_DENIED or
// HTTP 403) naming permission.
func denied(err error, permission string) bool {
	if err == nil || !strings.Contains(err.Error(), permission) {
		return false
	}
	if status.Code(err) == codes.PermissionDenied {
		return true
	}
	var ae *apierror.APIError
	return errors.As(err, &ae) && ae.HTTPCode() == http.StatusForbidden
}

// TestEachJobActsAsItsOwnAccount: every function runs as its job's account
// (the fixture gives each its deployed identity), and each job succeeds
// with exactly its role. The flow is the one an operator lives through —
// containment (responder), Status and Posture (reader), resolve --restore
// (restorer) — and at each step the emulated IAM refuses what is one step
// outside the job: the responder cannot start the VM, re-enable the key or
// destroy it, even through coopguard's own restore code; the restorer
// cannot stop or snapshot; the reader changes nothing; the rotator neither
// starts nor stops a VM.
func TestEachJobActsAsItsOwnAccount(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	ctx := context.Background()
	project, zone, vm := s.cfg.Cloud.GCP.Project, s.cfg.Cloud.GCP.Zone, s.cfg.VM.Name
	secret := "projects/" + project + "/secrets/anthropic-api-key"
	version := secret + "/versions/1"

	// The responder contains.
	if code := s.postEvent(t, "HandleAlert", binary, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatalf("HandleAlert = %d", code)
	}
	const id = "alert-0.n1m3x8a2b7kq"
	if rep := s.incidents(t)[id]; rep.Outcome != incident.OutcomeContained {
		t.Fatalf("incident %s outcome %q (%s), want contained by the responder", id, rep.Outcome, failures(rep))
	}
	s.finishFollowUps(t)
	if st := s.instance(t).GetStatus(); st != "TERMINATED" {
		t.Fatalf("VM %s after containment and its follow-up, want TERMINATED", st)
	}

	env := s.env
	type call struct {
		name, permission string
		do               func(c *gcp.Clients) error
	}
	start := call{"start the VM", "compute.instances.start", func(c *gcp.Clients) error {
		_, err := c.Instances.Start(ctx, &computepb.StartInstanceRequest{Project: project, Zone: zone, Instance: vm})
		return err
	}}
	stop := call{"stop the VM", "compute.instances.stop", func(c *gcp.Clients) error {
		_, err := c.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: project, Zone: zone, Instance: vm})
		return err
	}}
	tag := call{"tag the VM", "compute.instances.setTags", func(c *gcp.Clients) error {
		_, err := c.Instances.SetTags(ctx, &computepb.SetTagsInstanceRequest{Project: project, Zone: zone, Instance: vm, TagsResource: &computepb.Tags{}})
		return err
	}}
	snapshot := call{"snapshot the disk", "compute.disks.createSnapshot", func(c *gcp.Clients) error {
		_, err := c.Disks.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: project, Zone: zone, Disk: vm, SnapshotResource: &computepb.Snapshot{Name: proto.String("outside-the-job")}})
		return err
	}}
	enable := call{"re-enable the key", "secretmanager.versions.enable", func(c *gcp.Clients) error {
		_, err := c.Secrets.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: version})
		return err
	}}
	disable := call{"disable the key", "secretmanager.versions.disable", func(c *gcp.Clients) error {
		_, err := c.Secrets.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: version})
		return err
	}}
	destroy := call{"destroy the key", "secretmanager.versions.destroy", func(c *gcp.Clients) error {
		_, err := c.Secrets.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: version})
		return err
	}}
	add := call{"add a key", "secretmanager.versions.add", func(c *gcp.Clients) error {
		_, err := c.Secrets.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: secret, Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-outside-the-job")}})
		return err
	}}
	write := call{"write a log entry", "logging.logEntries.create", func(c *gcp.Clients) error {
		_, err := c.Logging.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{LogName: "projects/" + project + "/logs/coopguard",
			Entries: []*loggingpb.LogEntry{{Payload: &loggingpb.LogEntry_TextPayload{TextPayload: "outside the job"}}}})
		return err
	}}
	outside := map[string][]call{
		config.AccountResponder: {start, enable, destroy, add},
		config.AccountRestorer:  {stop, snapshot, disable, destroy, add},
		config.AccountReader:    {start, stop, tag, enable, disable, write},
		config.AccountRotator:   {start, stop, enable},
	}
	for _, account := range []string{config.AccountResponder, config.AccountRestorer, config.AccountReader, config.AccountRotator} {
		for _, c := range outside[account] {
			t.Run(account+" may not "+c.name, func(t *testing.T) {
				if err := c.do(env.ClientsOf(account)); !denied(err, c.permission) {
					t.Errorf("as %s: %v, want refused for lack of %s", account, err, c.permission)
				}
			})
		}
	}

	// A VM that is no sandbox: no job may change it, though the same calls
	// succeed on the sandbox (the sandbox roles' condition names only the
	// sandboxes' instances and disks).
	prod := s.emu.Compute.SeedInstance(project, zone, &computepb.Instance{Name: proto.String("prod-api"), Labels: map[string]string{"env": "prod"}})
	for _, tc := range []struct {
		account, permission string
		do                  func(c *gcp.Clients) error
	}{
		{config.AccountResponder, "compute.instances.stop", func(c *gcp.Clients) error {
			_, err := c.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: project, Zone: zone, Instance: prod.GetName()})
			return err
		}},
		{config.AccountResponder, "compute.instances.setTags", func(c *gcp.Clients) error {
			_, err := c.Instances.SetTags(ctx, &computepb.SetTagsInstanceRequest{Project: project, Zone: zone, Instance: prod.GetName(), TagsResource: &computepb.Tags{Items: []string{"coopguard-quarantine"}}})
			return err
		}},
		{config.AccountRestorer, "compute.instances.setLabels", func(c *gcp.Clients) error {
			_, err := c.Instances.SetLabels(ctx, &computepb.SetLabelsInstanceRequest{Project: project, Zone: zone, Instance: prod.GetName(), InstancesSetLabelsRequestResource: &computepb.InstancesSetLabelsRequest{}})
			return err
		}},
	} {
		t.Run(tc.account+" may not change a VM that is no sandbox", func(t *testing.T) {
			if err := tc.do(env.ClientsOf(tc.account)); !denied(err, tc.permission) {
				t.Errorf("as %s on %s: %v, want refused for lack of %s", tc.account, prod.GetName(), err, tc.permission)
			}
		})
	}

	// coopguard's own restore code, run as the responder, is refused at
	// the first step that needs the restorer's role.
	clients := env.ClientsOf(config.AccountResponder)
	asResponder := respond.New(s.cfg, clients, report.New(clients, s.cfg.Coopguard.Topics.Incidents), env.Store, nil)
	if rep, err := asResponder.Resolve(ctx, id, respond.ResolveOptions{Restore: true, By: oncall}); err == nil && rep.Outcome == incident.OutcomeResolved {
		t.Fatalf("resolve --restore as the responder: resolved (%+v), want refused", rep)
	}
	if st := s.instance(t).GetStatus(); st != "TERMINATED" {
		t.Errorf("VM %s after a restore as the responder, want still TERMINATED", st)
	}
	if got := s.versionStates(t); !slices.Equal(got, []string{"DISABLED"}) {
		t.Errorf("versions %v after a restore as the responder, want still DISABLED", got)
	}

	// The reader reads: Status lists the incident, Posture runs.
	if rep, ok := s.incidents(t)[id]; !ok || rep.Outcome == "" {
		t.Errorf("Status (as the reader) does not list incident %s", id)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/Posture", nil)
	if code, body := send(t, req); code != http.StatusOK {
		t.Errorf("Posture (as the reader) = %d %s", code, body)
	}

	// The restorer restores.
	code, rep, body := s.resolve(t, `{"id":"`+id+`","restore":true}`)
	if code != http.StatusOK || rep.Outcome != incident.OutcomeResolved {
		t.Fatalf("Resolve (as the restorer) = %d %s", code, body)
	}
	if st := s.instance(t).GetStatus(); st != "RUNNING" {
		t.Errorf("VM %s after resolve --restore, want RUNNING", st)
	}
	if got := s.versionStates(t); !slices.Equal(got, []string{"ENABLED"}) {
		t.Errorf("versions %v after resolve --restore, want ENABLED", got)
	}
}

// failures names an incident report's failed actions.
func failures(rep incident.Report) string {
	var out []string
	for _, a := range rep.Actions {
		if a.Result == incident.ResultFailed {
			out = append(out, a.Action+": "+a.Reason)
		}
	}
	return strings.Join(out, "; ")
}
