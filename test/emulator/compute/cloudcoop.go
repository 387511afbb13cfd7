package compute

import (
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// CloudcoopInstance is the instance request `gcloud compute instances
// create` sends for cloudcoop's VM as its docs (docs/VM-PROVISIONING.md)
// create it: Spot with the STOP termination action, the boot disk kept on
// delete, Arm c4a-highcpu-16 on the ubuntu-2404-lts-arm64 image family,
// the default network with an ephemeral external address (gcloud's
// default), the claude-sandbox tag, OS Login, cloudcoop's own metadata
// marks, running as serviceAccount with the cloud-platform scope. Tests
// insert it through the official client, as gcloud would.
func CloudcoopInstance(zone, name, serviceAccount string) *computepb.Instance {
	item := func(k, v string) *computepb.Items {
		return &computepb.Items{Key: proto.String(k), Value: proto.String(v)}
	}
	return &computepb.Instance{
		Name:        proto.String(name),
		MachineType: proto.String("zones/" + zone + "/machineTypes/c4a-highcpu-16"),
		Tags:        &computepb.Tags{Items: []string{"claude-sandbox"}},
		Scheduling: &computepb.Scheduling{
			ProvisioningModel: proto.String("SPOT"), InstanceTerminationAction: proto.String("STOP"),
		},
		Disks: []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(false),
			InitializeParams: &computepb.AttachedDiskInitializeParams{
				SourceImage: proto.String("projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-arm64"),
				DiskSizeGb:  proto.Int64(100),
			}}},
		NetworkInterfaces: []*computepb.NetworkInterface{{Network: proto.String("global/networks/default"),
			AccessConfigs: []*computepb.AccessConfig{{Name: proto.String("External NAT"), Type: proto.String("ONE_TO_ONE_NAT")}}}},
		ServiceAccounts: []*computepb.ServiceAccount{{Email: proto.String(serviceAccount), Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}}},
		Metadata: &computepb.Metadata{Items: []*computepb.Items{
			item("enable-oslogin", "TRUE"),
			item("cloudcoop-version", "1.4.0"),
			item("cloudcoop-created", "2026-12-01T09:00:00Z"),
			item("cloudcoop-config-hash", "3f2a9c"),
		}},
	}
}

// CloudcoopIAPRule is cloudcoop's allow-ssh-iap rule on the default
// network: SSH from IAP's range only, to the claude-sandbox tag.
func CloudcoopIAPRule() *computepb.Firewall {
	return &computepb.Firewall{
		Name:         proto.String("allow-ssh-iap"),
		Network:      proto.String("global/networks/default"),
		Direction:    proto.String("INGRESS"),
		SourceRanges: []string{"35.235.240.0/20"},
		TargetTags:   []string{"claude-sandbox"},
		Allowed:      []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}},
	}
}
