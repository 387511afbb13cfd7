package attack

import (
	"context"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	fnapi "cloud.google.com/go/functions/apiv2"
	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// functionsScenarios are the catalogue's last techniques: Stratus's
// backdoor-cloud-function and overwrite-cloud-function through the Cloud
// Functions v2 API (the Cloud Run service each function is has its own
// drills), by another principal (notified) and by the sandbox's account
// from its VM (contained), and a peering of the sandbox's network changed
// to exchange custom routes (notified); each with a benign counterpart on
// the team's own function or network.
func functionsScenarios() []Scenario {
	return []Scenario{
		{Name: "coopguard-function-overwritten", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-function",
			Summary: "points coopguard's HandleLogEntry function at code of its own: FunctionService.UpdateFunction build_config (allowed)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.functionsAs(ctx, gcp.EmulatedIdentity(w.principal(actorOther)))
				if err != nil {
					return err
				}
				return allowed(w.overwriteFunction(ctx, c, "coopguard-handle-log-entry"), "UpdateFunction coopguard-handle-log-entry")
			}},
		{Name: "coopguard-function-backdoored", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-function",
			Summary: "lets anyone invoke coopguard's HandleLogEntry function: the Functions API's SetIamPolicy, cloudfunctions.invoker for allUsers (allowed)",
			Act: func(ctx context.Context, w *World) error {
				c, err := w.functionsAs(ctx, gcp.EmulatedIdentity(w.principal(actorOther)))
				if err != nil {
					return err
				}
				return allowed(w.openFunction(ctx, c, "coopguard-handle-log-entry"), "SetIamPolicy on coopguard-handle-log-entry")
			}},
		{Name: "sandbox-function-overwrite", Kind: Attack, Actor: actorSandbox, Counterpart: "operator-team-function",
			Summary: "tries, from its VM, to point coopguard's HandleLogEntry function at code of its own: FunctionService.UpdateFunction (refused)",
			Act: func(ctx context.Context, w *World) error {
				tok, err := w.Emu.OpenVM(w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name).Token(ctx)
				if err != nil {
					return err
				}
				c, err := w.functionsAs(ctx, gcp.EmulatedAccessToken(tok))
				if err != nil {
					return err
				}
				return refused(w.overwriteFunction(ctx, c, "coopguard-handle-log-entry"), "UpdateFunction coopguard-handle-log-entry")
			}},
		{Name: "operator-team-function", Kind: Benign, Actor: actorOperator, Counterpart: "coopguard-function-overwritten",
			Summary: "redeploys the team's own function (not coopguard's) and opens it to everyone: FunctionService.UpdateFunction, SetIamPolicy",
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
				if err := w.overwriteFunction(ctx, c, "team-api"); err != nil {
					return allowed(err, "UpdateFunction team-api")
				}
				return allowed(w.openFunction(ctx, c, "team-api"), "SetIamPolicy on team-api")
			}},

		{Name: "sandbox-peering-routes-exported", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-peering-update",
			Summary: "makes a peering of the sandbox's network exchange custom routes with the peer: networks.updatePeering (allowed)",
			Setup: func(ctx context.Context, w *World) error {
				return w.peer(ctx, w.Sandbox.Network(), "stratus-peer")
			},
			Act: func(ctx context.Context, w *World) error {
				return w.exportRoutes(ctx, w.Sandbox.Network(), "stratus-peer")
			}},
		{Name: "operator-team-peering-update", Kind: Benign, Actor: actorOperator, Counterpart: "sandbox-peering-routes-exported",
			Summary: "makes a peering of the team's own network (not the sandbox's) exchange custom routes: networks.updatePeering",
			Setup: func(ctx context.Context, w *World) error {
				if err := w.insertNetwork(ctx, "team-net"); err != nil {
					return err
				}
				return w.peer(ctx, "team-net", "team-peer")
			},
			Act: func(ctx context.Context, w *World) error {
				return w.exportRoutes(ctx, "team-net", "team-peer")
			}},
	}
}

// functionsAs dials the official Cloud Functions v2 client with the
// identity option id.
func (w *World) functionsAs(ctx context.Context, id option.ClientOption) (*fnapi.FunctionClient, error) {
	c, err := fnapi.NewFunctionClient(ctx, append(gcp.EmulatedGRPC(w.Emu.GRPCAddr), id)...)
	if err != nil {
		return nil, fmt.Errorf("dial the emulated Cloud Functions API: %w", err)
	}
	w.closers = append(w.closers, func() { c.Close() })
	return c, nil
}

// functionName is the full name of function fn in the sandbox's region.
func (w *World) functionName(fn string) string {
	return "projects/" + w.Cfg.Cloud.GCP.Project + "/locations/" + w.Cfg.Region() + "/functions/" + fn
}

// overwriteFunction gives function fn Stratus's code (a source of its own
// and an entry point that dumps the environment), through c, and waits
// for the operation. It returns the API's answer unjudged.
func (w *World) overwriteFunction(ctx context.Context, c *fnapi.FunctionClient, fn string) error {
	op, err := c.UpdateFunction(ctx, &functionspb.UpdateFunctionRequest{
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"build_config.entry_point", "build_config.source"}},
		Function: &functionspb.Function{Name: w.functionName(fn), BuildConfig: &functionspb.BuildConfig{EntryPoint: "DumpEnv",
			Source: &functionspb.Source{Source: &functionspb.Source_StorageSource{StorageSource: &functionspb.StorageSource{
				Bucket: "stratus-red-team-functions", Object: "backdoor.zip"}}}}}})
	if err == nil {
		_, err = op.Wait(ctx)
	}
	return err
}

// openFunction lets allUsers invoke function fn: read-modify-write of its
// IAM policy through c.
func (w *World) openFunction(ctx context.Context, c *fnapi.FunctionClient, fn string) error {
	res := w.functionName(fn)
	pol, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: res})
	if err != nil {
		return err
	}
	pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/cloudfunctions.invoker", Members: []string{"allUsers"}})
	_, err = c.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: res, Policy: pol})
	return err
}

// exportRoutes is the operator making the peering peer made on network
// export and import custom routes, and waiting for it.
func (w *World) exportRoutes(ctx context.Context, network, peer string) error {
	name := network + "-to-" + peer
	op, err := w.Operator.Networks.UpdatePeering(ctx, &computepb.UpdatePeeringNetworkRequest{Project: w.Cfg.Cloud.GCP.Project, Network: network,
		NetworksUpdatePeeringRequestResource: &computepb.NetworksUpdatePeeringRequest{NetworkPeering: &computepb.NetworkPeering{
			Name: proto.String(name), ExportCustomRoutes: proto.Bool(true), ImportCustomRoutes: proto.Bool(true)}}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "networks.updatePeering "+name)
}
