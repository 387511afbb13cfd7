package provisioner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner/watcher"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// ErrNotOurs is returned when a resource with the sandbox's name exists but
// coopguard did not provision it: coopguard never adopts or changes it.
var ErrNotOurs = errors.New("exists but was not provisioned by coopguard")

// instance is the sandbox VM: Shielded VM, no external IP, the dedicated
// service account, OS Login, no project SSH keys, and the watcher.
type instance struct{ s *Sandbox }

func (r *instance) Kind() string { return "instance" }
func (r *instance) Name() string { return r.s.Name }

// Deps makes the VM wait for its subnet and all three firewall rules, so it
// never runs unprotected, and for its own account and that account's grants.
func (r *instance) Deps() []string {
	deps := []string{
		"subnetwork/" + r.s.Subnet(),
		"firewall/" + r.s.FirewallDenyIngress(),
		"firewall/" + r.s.FirewallIAPSSH(),
		"firewall/" + r.s.FirewallQuarantine(),
		"router/" + r.s.Router(),
	}
	if r.s.OwnAccount {
		// Creating a VM that runs as the account needs actAs on it.
		deps = append(deps, "account-users/"+r.s.ServiceAccount, "project-roles/"+r.s.ServiceAccount)
	}
	return deps
}

// requiredMetadata are the metadata items coopguard enforces.
func requiredMetadata() map[string]string {
	return map[string]string{
		"enable-oslogin":         "TRUE",
		"block-project-ssh-keys": "TRUE",
		// The watcher reports through guest attributes, which GCE
		// refuses unless metadata enables them.
		"enable-guest-attributes": "TRUE",
		"startup-script":          watcher.StartupScript(),
	}
}

func (r *instance) desired() *computepb.Instance {
	var items []*computepb.Items
	req := requiredMetadata()
	req[watcher.MetadataKey] = "run"
	keys := make([]string, 0, len(req))
	for k := range req {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		items = append(items, &computepb.Items{Key: proto.String(k), Value: proto.String(req[k])})
	}
	return &computepb.Instance{
		Name:        proto.String(r.s.Name),
		Description: proto.String("cloudcoop sandbox, provisioned and guarded by coopguard"),
		MachineType: proto.String("zones/" + r.s.Zone + "/machineTypes/" + r.s.MachineType),
		Labels:      map[string]string{config.SandboxLabel: r.s.Name},
		Tags:        &computepb.Tags{Items: r.s.Tags},
		Disks: []*computepb.AttachedDisk{{
			Boot:       proto.Bool(true),
			AutoDelete: proto.Bool(true),
			InitializeParams: &computepb.AttachedDiskInitializeParams{
				DiskName:    proto.String(r.s.Name),
				SourceImage: proto.String(r.s.Image),
				DiskSizeGb:  proto.Int64(r.s.DiskSizeGB),
				Labels:      map[string]string{config.SandboxLabel: r.s.Name},
			},
		}},
		// No AccessConfigs: the VM gets no external IP; egress goes through NAT.
		NetworkInterfaces: []*computepb.NetworkInterface{{Subnetwork: proto.String(r.s.subnetURL())}},
		ServiceAccounts: []*computepb.ServiceAccount{{
			Email:  proto.String(r.s.ServiceAccount),
			Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"},
		}},
		ShieldedInstanceConfig: &computepb.ShieldedInstanceConfig{
			EnableSecureBoot:          proto.Bool(true),
			EnableVtpm:                proto.Bool(true),
			EnableIntegrityMonitoring: proto.Bool(true),
		},
		Metadata: &computepb.Metadata{Items: items},
	}
}

func (r *instance) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	got, err := c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: r.s.Project, Zone: r.s.Zone, Instance: r.s.Name})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: fmt.Sprintf("%s, Shielded VM, no external IP, SA %s, OS Login", r.s.MachineType, r.s.ServiceAccount), Apply: func(ctx context.Context) error {
			return created(gcp.Wait(ctx)(c.Instances.Insert(ctx, &computepb.InsertInstanceRequest{
				Project: r.s.Project, Zone: r.s.Zone, InstanceResource: r.desired(),
				RequestId: r.s.requestID("instance.insert", r.s.Project, r.s.Zone, r.s.Name),
			})))
		}}, nil
	case err != nil:
		return Change{}, err
	}
	if got.GetLabels()[config.SandboxLabel] != r.s.Name {
		return Change{}, fmt.Errorf("instance %s in %s %w (no label %s=%s): choose another vm.name, or run coopguard adopt --name %s if coopguard should guard it as it is",
			r.s.Name, r.s.Zone, ErrNotOurs, config.SandboxLabel, r.s.Name, r.s.Name)
	}
	drift := Drift(got, r.s.ServiceAccount)
	items, changed := mergeMetadata(got.GetMetadata().GetItems(), requiredMetadata())
	if len(changed) == 0 {
		detail := got.GetStatus()
		if len(drift) > 0 {
			detail += "; drift that needs a new VM: " + strings.Join(drift, ", ")
		}
		return Change{Action: None, Detail: detail}, nil
	}
	fp := got.GetMetadata().GetFingerprint()
	return Change{Action: Update, Detail: "metadata: " + strings.Join(changed, ", "), Apply: func(ctx context.Context) error {
		return gcp.Wait(ctx)(c.Instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{
			Project: r.s.Project, Zone: r.s.Zone, Instance: r.s.Name,
			RequestId:        r.s.requestID("instance.setMetadata", r.s.Project, r.s.Zone, r.s.Name, fp),
			MetadataResource: &computepb.Metadata{Fingerprint: proto.String(fp), Items: items},
		}))
	}}, nil
}

// mergeMetadata returns items with req's values enforced (others kept)
// and the keys it changed. An existing coopguard-agents value is kept: it
// may be "stop" during an incident.
func mergeMetadata(items []*computepb.Items, req map[string]string) ([]*computepb.Items, []string) {
	var out []*computepb.Items
	var changed []string
	seen := map[string]bool{}
	for _, it := range items {
		k := it.GetKey()
		seen[k] = true
		if want, ok := req[k]; ok && it.GetValue() != want {
			out = append(out, &computepb.Items{Key: proto.String(k), Value: proto.String(want)})
			changed = append(changed, k)
			continue
		}
		out = append(out, it)
	}
	for _, k := range slices.Sorted(maps.Keys(req)) {
		if !seen[k] {
			out = append(out, &computepb.Items{Key: proto.String(k), Value: proto.String(req[k])})
			changed = append(changed, k)
		}
	}
	if !seen[watcher.MetadataKey] {
		out = append(out, &computepb.Items{Key: proto.String(watcher.MetadataKey), Value: proto.String("run")})
		changed = append(changed, watcher.MetadataKey)
	}
	return out, changed
}

// Drift lists the ways an existing sandbox VM breaks the checklist in a way
// only a new VM can fix: external IP, Shielded VM off, another service account.
func Drift(inst *computepb.Instance, serviceAccount string) []string {
	var out []string
	for _, ni := range inst.GetNetworkInterfaces() {
		if len(ni.GetAccessConfigs()) > 0 {
			out = append(out, "has an external IP")
		}
	}
	sh := inst.GetShieldedInstanceConfig()
	if !sh.GetEnableSecureBoot() || !sh.GetEnableVtpm() || !sh.GetEnableIntegrityMonitoring() {
		out = append(out, "Shielded VM not fully on")
	}
	sas := inst.GetServiceAccounts()
	if len(sas) != 1 || sas[0].GetEmail() != serviceAccount {
		out = append(out, "service account is not "+serviceAccount)
	}
	return out
}
