package attack

import (
	"context"
	"fmt"

	compute "cloud.google.com/go/compute/apiv1"
	"cloud.google.com/go/compute/apiv1/computepb"
	fnapi "cloud.google.com/go/functions/apiv2"
	"cloud.google.com/go/functions/apiv2/functionspb"
	adminpb "cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
)

// lastScenarios are the catalogue's techniques by another principal that
// had rule cases but no drill: a packet mirroring patched to take in the
// sandbox's VM (Sigma's gcp_full_network_traffic_packet_capture, rule
// sandbox-traffic-mirrored), coopguard's own service accounts disabled or
// deleted (Falco's "GCP IAM serviceAccount deleted/modified", Sigma's
// gcp_service_account_disabled_or_deleted, Elastic's
// impact_gcp_service_account_deleted/disabled) and one of coopguard's
// functions deleted, through the Cloud Functions API or as the Cloud Run
// service it is (Falco's "GCP cloud function created/updated or
// deleted"), all notified by sandbox-surroundings-changed or
// sandbox-traffic-mirrored; each with a benign counterpart on the team's
// own mirroring, account, function or Cloud Run service.
//
// The accounts and the function are ones the notification path does not
// run through: coopguard-reviewer and coopguard-costs (the weekly review
// and the cost watch), and RotateKeys' function. Disabling the
// responder's account or deleting HandleLogEntry makes coopguard deaf
// to the very entry that tells of it, as a deleted sink does.
func lastScenarios() []Scenario {
	return []Scenario{
		{Name: "sandbox-mirroring-patched", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-mirroring-patch",
			Summary: "adds the sandbox's VM to a packet mirroring of the sandbox's network that mirrored only a tag no VM has: packetMirrorings.patch mirroredResources (allowed)",
			Setup: func(ctx context.Context, w *World) error {
				// The mirroring exists before the drill: its insert on the
				// sandbox's network is itself notified, and settled here
				// so the patch's own incident is the drill's.
				return w.settle(ctx, "a mirroring of the sandbox's network", Notify, func(ctx context.Context, w *World) error {
					collector, err := w.teamCollector(ctx)
					if err != nil {
						return err
					}
					return w.mirror(ctx, "probe", "global/networks/"+w.Sandbox.Network(), collector, &computepb.PacketMirroringMirroredResourceInfo{Tags: []string{"team-probe"}})
				})
			},
			Act: func(ctx context.Context, w *World) error {
				p, z := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone
				return w.patchMirror(ctx, "probe", &computepb.PacketMirroringMirroredResourceInfo{
					Instances: []*computepb.PacketMirroringMirroredResourceInfoInstanceInfo{{Url: proto.String("projects/" + p + "/zones/" + z + "/instances/" + w.Sandbox.Name)}}})
			}},
		{Name: "operator-team-mirroring-patch", Kind: Benign, Actor: actorOperator, Counterpart: "sandbox-mirroring-patched",
			Summary: "adds a tag to the mirrored resources of the team's own packet mirroring (the team's subnetwork, not the sandbox's): packetMirrorings.patch",
			Setup: func(ctx context.Context, w *World) error {
				return w.settle(ctx, "the team's mirroring", Benign, func(ctx context.Context, w *World) error {
					collector, err := w.teamCollector(ctx)
					if err != nil {
						return err
					}
					return w.mirror(ctx, "team-tap", "global/networks/team-net", collector, w.teamMirrored())
				})
			},
			Act: func(ctx context.Context, w *World) error {
				mr := w.teamMirrored()
				mr.Tags = []string{"team-web"}
				return w.patchMirror(ctx, "team-tap", mr)
			}},

		{Name: "coopguard-account-disabled", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-account",
			Summary: "disables coopguard's reviewer account, so the weekly review stops: IAM DisableServiceAccount (allowed)",
			Act: func(ctx context.Context, w *World) error {
				name := audit.ServiceAccountResource(w.Emu.IAMAdmin.SeedServiceAccount(w.Cfg.Cloud.GCP.Project, config.AccountReviewer))
				return allowed(w.Operator.IAMAdmin.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: name}), "DisableServiceAccount "+name)
			}},
		{Name: "coopguard-account-deleted", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-account",
			Summary: "deletes coopguard's cost-watch account: IAM DeleteServiceAccount (allowed)",
			Act: func(ctx context.Context, w *World) error {
				name := audit.ServiceAccountResource(w.Emu.IAMAdmin.SeedServiceAccount(w.Cfg.Cloud.GCP.Project, config.AccountCosts))
				if err := w.Operator.IAMAdmin.DeleteServiceAccount(ctx, &adminpb.DeleteServiceAccountRequest{Name: name}); err != nil {
					return allowed(err, "DeleteServiceAccount "+name)
				}
				// The account is gone: IAM answers NOT_FOUND for it.
				if _, err := w.Operator.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: name}); status.Code(err) != codes.NotFound {
					return fmt.Errorf("GetServiceAccount %s after its deletion = %v, want NOT_FOUND", name, err)
				}
				return nil
			}},
		{Name: "operator-team-account", Kind: Benign, Actor: actorOperator, Counterpart: "coopguard-account-disabled",
			Summary: "disables, then deletes, the team's own CI account (not coopguard's): IAM DisableServiceAccount, DeleteServiceAccount",
			Setup: func(_ context.Context, w *World) error {
				w.Emu.IAMAdmin.SeedServiceAccount(w.Cfg.Cloud.GCP.Project, "team-ci")
				return nil
			},
			Act: func(ctx context.Context, w *World) error {
				name := audit.ServiceAccountResource("team-ci@" + w.Cfg.Cloud.GCP.Project + ".iam.gserviceaccount.com")
				if err := w.Operator.IAMAdmin.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: name}); err != nil {
					return allowed(err, "DisableServiceAccount "+name)
				}
				return allowed(w.Operator.IAMAdmin.DeleteServiceAccount(ctx, &adminpb.DeleteServiceAccountRequest{Name: name}), "DeleteServiceAccount "+name)
			}},

		{Name: "coopguard-function-deleted", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-function-deleted",
			Summary: "deletes coopguard's RotateKeys function, so keys are no longer rotated: FunctionService.DeleteFunction (allowed)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.functionsAs(ctx, gcp.EmulatedIdentity(w.principal(actorOther)))
				if err != nil {
					return err
				}
				return allowed(w.deleteFunction(ctx, c, "coopguard-rotate-keys"), "DeleteFunction coopguard-rotate-keys")
			}},
		{Name: "operator-team-function-deleted", Kind: Benign, Actor: actorOperator, Counterpart: "coopguard-function-deleted",
			Summary: "deletes the team's own function (not coopguard's): FunctionService.DeleteFunction",
			Setup: func(_ context.Context, w *World) error {
				p := w.Cfg.Cloud.GCP.Project
				w.Emu.Functions.SeedFunction(p, w.Cfg.Region(), "team-api", "Serve", "team-api@"+p+".iam.gserviceaccount.com")
				return nil
			},
			Act: func(ctx context.Context, w *World) error {
				c, err := w.functionsAs(ctx, gcp.EmulatedIdentity(w.principal(actorOperator)))
				if err != nil {
					return err
				}
				return allowed(w.deleteFunction(ctx, c, "team-api"), "DeleteFunction team-api")
			}},

		{Name: "coopguard-service-deleted", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-service-deleted",
			Summary: "deletes the Cloud Run service coopguard's RotateKeys function is, so keys are no longer rotated: Services.DeleteService (allowed)",
			Setup: func(_ context.Context, w *World) error {
				w.Emu.Run.SeedService(w.Cfg.Cloud.GCP.Project, w.Cfg.Region(), "coopguard-rotate-keys", nil)
				return nil
			},
			Act: func(ctx context.Context, w *World) error {
				return w.deleteService(ctx, "coopguard-rotate-keys")
			}},
		{Name: "operator-team-service-deleted", Kind: Benign, Actor: actorOperator, Counterpart: "coopguard-service-deleted",
			Summary: "deletes the team's own Cloud Run service (not coopguard's): Services.DeleteService",
			Setup: func(_ context.Context, w *World) error {
				w.Emu.Run.SeedService(w.Cfg.Cloud.GCP.Project, w.Cfg.Region(), "team-api", nil)
				return nil
			},
			Act: func(ctx context.Context, w *World) error {
				return w.deleteService(ctx, "team-api")
			}},
	}
}

// deleteService is the operator deleting Cloud Run service name through
// the official Services client, and waiting for it.
func (w *World) deleteService(ctx context.Context, name string) error {
	res := "projects/" + w.Cfg.Cloud.GCP.Project + "/locations/" + w.Cfg.Region() + "/services/" + name
	op, err := w.Operator.Services.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: res})
	if err == nil {
		_, err = op.Wait(ctx)
	}
	return allowed(err, "DeleteService "+res)
}

// settle plays act as a drill of its own, of kind, and fails unless
// coopguard did what that kind demands: a Setup whose calls coopguard
// answers is done with before the drill's own call.
func (w *World) settle(ctx context.Context, what string, kind Kind, act func(context.Context, *World) error) error {
	r, err := Run(ctx, w, Scenario{Name: "setup: " + what, Kind: kind, Actor: actorOperator, Act: act}, RunOptions{})
	if err != nil {
		return err
	}
	if !r.Passed() {
		return fmt.Errorf("setup: %s: coopguard did not answer as a %s drill (%s, %d incidents)", what, kind, r.After, len(r.Incidents))
	}
	return nil
}

// teamMirrored is what the team's mirroring takes in: its own
// subnetwork.
func (w *World) teamMirrored() *computepb.PacketMirroringMirroredResourceInfo {
	return &computepb.PacketMirroringMirroredResourceInfo{
		Subnetworks: []*computepb.PacketMirroringMirroredResourceInfoSubnetInfo{{Url: proto.String("regions/" + w.Cfg.Region() + "/subnetworks/team-subnet")}}}
}

// patchMirror is the operator replacing the mirrored resources of packet
// mirroring name, through the official PacketMirrorings client.
func (w *World) patchMirror(ctx context.Context, name string, mr *computepb.PacketMirroringMirroredResourceInfo) error {
	c, err := compute.NewPacketMirroringsRESTClient(ctx, w.computeOpts(w.principal(actorOperator))...)
	if err != nil {
		return fmt.Errorf("dial the emulated Compute packet mirrorings API: %w", err)
	}
	w.closers = append(w.closers, func() { c.Close() })
	op, err := c.Patch(ctx, &computepb.PatchPacketMirroringRequest{Project: w.Cfg.Cloud.GCP.Project, Region: w.Cfg.Region(), PacketMirroring: name,
		PacketMirroringResource: &computepb.PacketMirroring{MirroredResources: mr}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "packetMirrorings.patch "+name)
}

// deleteFunction deletes function fn through c and waits for the
// operation. It returns the API's answer unjudged.
func (w *World) deleteFunction(ctx context.Context, c *fnapi.FunctionClient, fn string) error {
	op, err := c.DeleteFunction(ctx, &functionspb.DeleteFunctionRequest{Name: w.functionName(fn)})
	if err == nil {
		err = op.Wait(ctx)
	}
	return err
}
