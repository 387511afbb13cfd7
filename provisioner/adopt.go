package provisioner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// AdoptedLabel marks a VM coopguard adopted instead of building: its value
// is the name of the VM's network, where the quarantine rule went. It is
// set only by an explicit adopt (`coopguard adopt`, Provision with
// "adopt"), next to coopguard-sandbox, by coopguard's provisioner account;
// the setLabels call's Admin Activity entry records who adopted it and
// when. A VM without coopguard-sandbox=<its name> is never touched.
const AdoptedLabel = "coopguard-adopted"

// CloudcoopMarker is the metadata key cloudcoop sets on the VMs it creates
// (with cloudcoop-created and cloudcoop-config-hash): `adopt --all` adopts
// every VM of the zone that carries it.
const CloudcoopMarker = "cloudcoop-version"

// ErrNothingToAdopt is returned when adopt names a VM that does not exist.
var ErrNothingToAdopt = errors.New("no such VM to adopt")

// ErrDisruptive is returned when a --disruptive change cannot be made
// safely now (the VM is on its way between states, or suspended):
// nothing of it was changed.
var ErrDisruptive = errors.New("the changes that need a stop were not made")

// Adoption is what adopting an existing VM learnt of it: the network its
// first interface is on (the quarantine rule goes there).
type Adoption struct {
	// Network is the network's name, e.g. "default"; NetworkURL its URL
	// as the instance names it.
	Network, NetworkURL string
}

// Gap is one way an adopted VM falls short of the checklist that only a
// stop or a rebuild can close, with the exact fix.
type Gap struct {
	// Kind names the gap: GapNetwork, GapExternalIP, GapShielded or
	// GapAccount.
	Kind string `json:"kind"`
	What string `json:"what"`
	Fix  string `json:"fix"`
	// Disruptive is true when `provision --disruptive` closes it itself
	// (everything but the network, which needs a rebuild).
	Disruptive bool `json:"disruptive,omitempty"`
}

// The kinds of Gap.
const (
	GapNetwork    = "network"
	GapExternalIP = "external-ip"
	GapShielded   = "shielded-vm"
	GapAccount    = "service-account"
)

// Gaps lists what inst lacks of the checklist that needs a stop or a
// rebuild: its own VPC, no external IP, Shielded VM, the sandbox's own
// account. Each Fix is the command that closes it.
func (s *Sandbox) Gaps(inst *computepb.Instance) []Gap {
	vm := s.Name + " --zone " + s.Zone + " --project " + s.Project
	stop := "gcloud compute instances stop " + vm + " && "
	start := " && gcloud compute instances start " + vm
	var out []Gap
	external := false
	for _, ni := range inst.GetNetworkInterfaces() {
		external = external || len(ni.GetAccessConfigs()) > 0
	}
	if len(inst.GetNetworkInterfaces()) > 0 && lastSegment(inst.GetNetworkInterfaces()[0].GetNetwork()) != s.Network() {
		out = append(out, Gap{Kind: GapNetwork,
			What: "on network " + lastSegment(inst.GetNetworkInterfaces()[0].GetNetwork()) + ", not a VPC of its own",
			// Moving the interface by hand would leave the quarantine
			// rule, the NAT and the IAP rule behind in the old network:
			// the exact fix is a sandbox built on its own VPC.
			Fix: "rebuild: coopguard provision --project " + s.Project + " --name NEW-NAME builds a sandbox on a VPC of its own (" +
				"coopguard-NEW-NAME-net, with its NAT, IAP-only SSH and quarantine rule); move the work there, then gcloud compute instances delete " + vm,
		})
	}
	if external {
		name := "External NAT"
		for _, ni := range inst.GetNetworkInterfaces() {
			for _, ac := range ni.GetAccessConfigs() {
				if ac.GetName() != "" {
					name = ac.GetName()
				}
			}
		}
		out = append(out, Gap{Kind: GapExternalIP, Disruptive: true,
			What: "has an external IP",
			Fix: "give its network a Cloud NAT (gcloud compute routers create / routers nats create in " + s.Region +
				"), then gcloud compute instances delete-access-config " + vm + " --access-config-name \"" + name + "\"",
		})
	}
	sh := inst.GetShieldedInstanceConfig()
	if !sh.GetEnableSecureBoot() || !sh.GetEnableVtpm() || !sh.GetEnableIntegrityMonitoring() {
		out = append(out, Gap{Kind: GapShielded, Disruptive: true,
			What: "Shielded VM not fully on",
			Fix:  stop + "gcloud compute instances update " + vm + " --shielded-secure-boot --shielded-vtpm --shielded-integrity-monitoring" + start,
		})
	}
	if sas := inst.GetServiceAccounts(); len(sas) != 1 || sas[0].GetEmail() != s.ServiceAccount {
		out = append(out, Gap{Kind: GapAccount, Disruptive: true,
			What: "runs as " + accountsOf(inst) + ", not the sandbox's own account " + s.ServiceAccount,
			Fix:  stop + "gcloud compute instances set-service-account " + vm + " --service-account " + s.ServiceAccount + " --scopes cloud-platform" + start,
		})
	}
	return out
}

// WatcherInstall is the one line that installs the agent watcher on a
// running adopted VM now, over IAP SSH; without it the watcher arrives at
// the VM's next boot (its startup-script).
func (s *Sandbox) WatcherInstall() string {
	return "gcloud compute ssh " + s.Name + " --zone " + s.Zone + " --project " + s.Project +
		" --tunnel-through-iap --command 'curl -sfH Metadata-Flavor:Google http://metadata.google.internal/computeMetadata/v1/instance/attributes/startup-script | sudo sh'"
}

// actAsHint adds the fix to a refused setMetadata of an adopted VM:
// setting the metadata of a VM that runs as an account acts as that
// account, so coopguard's provisioner needs iam.serviceAccounts.actAs on
// it (https://cloud.google.com/compute/docs/access/iam#the_serviceaccountuser_role).
func actAsHint(err error, s *Sandbox, inst *computepb.Instance) error {
	code, _ := retry.HTTPCode(err)
	if code != http.StatusForbidden || len(inst.GetServiceAccounts()) == 0 {
		return err
	}
	sa := inst.GetServiceAccounts()[0].GetEmail()
	return fmt.Errorf("%w: setting the metadata of VM %s acts as the account it runs as (%s): its owner grants coopguard's provisioner that: gcloud iam service-accounts add-iam-policy-binding %s --project %s --member serviceAccount:%s --role roles/iam.serviceAccountUser, then adopt again",
		err, s.Name, sa, sa, s.Project, s.provisionerAccount())
}

func accountsOf(inst *computepb.Instance) string {
	var emails []string
	for _, sa := range inst.GetServiceAccounts() {
		emails = append(emails, sa.GetEmail())
	}
	if len(emails) == 0 {
		return "no account"
	}
	return strings.Join(emails, ", ")
}

func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }

// adoptedResources are what an adopted VM gets around it: everything of
// Resources that needs no restart. Its network, subnet, router and
// ingress rules stay the user's; the quarantine rule goes in its network.
func (s *Sandbox) adoptedResources() []Resource {
	rs := append(s.ownAccountResources(), s.guardResources()...)
	return append(rs, &adoptedInstance{s})
}

// adoptedInstance is an existing VM coopguard guards as it is: labels and
// metadata are set on it while it runs; nothing stops it.
type adoptedInstance struct{ s *Sandbox }

func (r *adoptedInstance) Kind() string { return "instance" }
func (r *adoptedInstance) Name() string { return r.s.Name }

// Deps: the VM is marked as guarded once its quarantine rule exists.
func (r *adoptedInstance) Deps() []string {
	return []string{"firewall/" + r.s.FirewallQuarantine()}
}

// adoptedMetadata are the metadata items an adopted VM gets: OS Login, no
// project SSH keys, guest attributes (the watcher reports there) and the
// watcher's flag. The startup-script that installs the watcher is added
// only where the VM has none: a user's own script is never replaced.
func adoptedMetadata(items []*computepb.Items) ([]*computepb.Items, []string) {
	req := requiredMetadata()
	hasScript := false
	for _, it := range items {
		hasScript = hasScript || it.GetKey() == "startup-script"
	}
	if hasScript {
		delete(req, "startup-script")
	}
	return mergeMetadata(items, req)
}

func (r *adoptedInstance) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	s := r.s
	got, err := c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: s.Project, Zone: s.Zone, Instance: s.Name})
	switch {
	case retry.IsNotFound(err):
		return Change{}, fmt.Errorf("instance %s in %s: %w: name a VM that exists (gcloud compute instances list --project %s)", s.Name, s.Zone, ErrNothingToAdopt, s.Project)
	case err != nil:
		return Change{}, err
	}
	if v, ok := got.GetLabels()[config.SandboxLabel]; ok && v != s.Name {
		return Change{}, fmt.Errorf("instance %s in %s %w (label %s=%s names another sandbox): adopt it under its own name only", s.Name, s.Zone, ErrNotOurs, config.SandboxLabel, v)
	}
	var gaps []string
	for _, g := range s.Gaps(got) {
		gaps = append(gaps, g.What)
	}
	gapNote := ""
	if len(gaps) > 0 {
		gapNote = "; needs a stop (coopguard adopt --disruptive lists the fixes): " + strings.Join(gaps, ", ")
	}
	labels := maps.Clone(got.GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	var changed []string
	if labels[config.SandboxLabel] != s.Name {
		labels[config.SandboxLabel] = s.Name
		changed = append(changed, "label "+config.SandboxLabel)
	}
	if labels[AdoptedLabel] != s.adoption.Network {
		labels[AdoptedLabel] = s.adoption.Network
		changed = append(changed, "label "+AdoptedLabel)
	}
	items, mdChanged := adoptedMetadata(got.GetMetadata().GetItems())
	if len(mdChanged) > 0 {
		changed = append(changed, "metadata "+strings.Join(mdChanged, ", "))
	}
	if len(changed) == 0 {
		return Change{Action: None, Detail: got.GetStatus() + ", adopted on network " + s.adoption.Network + gapNote}, nil
	}
	lfp, mfp := got.GetLabelFingerprint(), got.GetMetadata().GetFingerprint()
	setLabels := labels[config.SandboxLabel] != got.GetLabels()[config.SandboxLabel] || labels[AdoptedLabel] != got.GetLabels()[AdoptedLabel]
	return Change{Action: Update, Detail: "adopt without a restart: " + strings.Join(changed, "; ") + gapNote, Apply: func(ctx context.Context) error {
		if len(mdChanged) > 0 {
			if err := gcp.Wait(ctx)(c.Instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{
				Project: s.Project, Zone: s.Zone, Instance: s.Name,
				RequestId:        s.requestID("instance.setMetadata", s.Project, s.Zone, s.Name, mfp),
				MetadataResource: &computepb.Metadata{Fingerprint: proto.String(mfp), Items: items},
			})); err != nil {
				return actAsHint(err, s, got)
			}
		}
		if !setLabels {
			return nil
		}
		// The label goes last: the VM counts as guarded only once all
		// the rest is in place.
		return gcp.Wait(ctx)(c.Instances.SetLabels(ctx, &computepb.SetLabelsInstanceRequest{
			Project: s.Project, Zone: s.Zone, Instance: s.Name,
			RequestId: s.requestID("instance.setLabels", s.Project, s.Zone, s.Name, lfp),
			InstancesSetLabelsRequestResource: &computepb.InstancesSetLabelsRequest{
				Labels: labels, LabelFingerprint: proto.String(lfp),
			},
		}))
	}}, nil
}

// adoptionOf reads the VM named by sb and returns what adopting it needs,
// or nil when sb's VM is not adopted and adopt is false. An explicit adopt
// of a VM that does not exist is an error; so is one labelled for
// another sandbox. A transient failure of the read is retried under policy.
func adoptionOf(ctx context.Context, c *gcp.Clients, policy retry.Policy, sb *Sandbox, adopt bool) (*Adoption, *computepb.Instance, error) {
	if sb.OwnProject() && sb.CreateProject {
		// A project this converge is to create holds no VM, and reading
		// one in it is refused (403) until it exists.
		_, err := c.Projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + sb.Project})
		switch {
		case (retry.IsNotFound(err) || retry.GRPCCode(err) == codes.PermissionDenied) && adopt:
			return nil, nil, fmt.Errorf("project %s: %w: it does not exist yet (or coopguard cannot read it), so it holds no VM to adopt: %s", sb.Project, ErrNothingToAdopt, sb.adoptHint())
		case retry.IsNotFound(err) || retry.GRPCCode(err) == codes.PermissionDenied:
			return nil, nil, nil
		}
	}
	var inst *computepb.Instance
	err := retry.Do(ctx, policy, func(ctx context.Context) error {
		var err error
		inst, err = c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: sb.Project, Zone: sb.Zone, Instance: sb.Name})
		return err
	})
	switch {
	case retry.IsNotFound(err) && adopt:
		return nil, nil, fmt.Errorf("instance %s in %s: %w: name a VM that exists (gcloud compute instances list --project %s)", sb.Name, sb.Zone, ErrNothingToAdopt, sb.Project)
	case retry.IsNotFound(err):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("read instance %s in %s: %w", sb.Name, sb.Zone, err)
	}
	labels := inst.GetLabels()
	_, adopted := labels[AdoptedLabel]
	if !adopt && labels[config.SandboxLabel] != sb.Name {
		return nil, nil, fmt.Errorf("instance %s in %s %w (no label %s=%s): choose another vm.name, or run coopguard adopt --name %s if coopguard should guard it as it is",
			sb.Name, sb.Zone, ErrNotOurs, config.SandboxLabel, sb.Name, sb.Name)
	}
	if !adopt && !adopted {
		return nil, nil, nil
	}
	if v, ok := labels[config.SandboxLabel]; ok && v != sb.Name {
		return nil, nil, fmt.Errorf("instance %s in %s %w (label %s=%s names another sandbox)", sb.Name, sb.Zone, ErrNotOurs, config.SandboxLabel, v)
	}
	if adopt && !adopted && labels[config.SandboxLabel] == sb.Name {
		// Provision built it: it is guarded as built, not adopted.
		return nil, nil, nil
	}
	nis := inst.GetNetworkInterfaces()
	if len(nis) == 0 || nis[0].GetNetwork() == "" {
		return nil, nil, fmt.Errorf("instance %s in %s has no network interface: nothing to quarantine, so coopguard cannot guard it", sb.Name, sb.Zone)
	}
	return &Adoption{Network: lastSegment(nis[0].GetNetwork()), NetworkURL: nis[0].GetNetwork()}, inst, nil
}

// AdoptCandidates lists the VMs of the zone cloudcoop created (metadata
// cloudcoop-version) that coopguard does not guard yet, or guards as
// adopted, by name.
func AdoptCandidates(ctx context.Context, c *gcp.Clients, project, zone string) ([]string, error) {
	var out []string
	it := c.Instances.List(ctx, &computepb.ListInstancesRequest{Project: project, Zone: zone})
	for inst, err := range it.All() {
		if err != nil {
			return nil, fmt.Errorf("list the VMs in %s/%s: %w", project, zone, err)
		}
		marked := false
		for _, item := range inst.GetMetadata().GetItems() {
			marked = marked || item.GetKey() == CloudcoopMarker
		}
		if !marked {
			continue
		}
		if v, ok := inst.GetLabels()[config.SandboxLabel]; ok && v != inst.GetName() {
			continue
		}
		out = append(out, inst.GetName())
	}
	slices.Sort(out)
	return out, nil
}

// AdoptAll adopts every VM of the configured zone that cloudcoop created
// (AdoptCandidates), one converge each, and returns their reports in name
// order; the error joins the failures.
func (p *Provisioner) AdoptAll(ctx context.Context, o Options) ([]*Report, error) {
	g := p.cfg.Cloud.GCP
	project := cmp.Or(o.Project, g.Project)
	names, err := AdoptCandidates(ctx, p.clients, project, g.Zone)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no VM in %s/%s carries metadata %s: %w; name one with --name", project, g.Zone, CloudcoopMarker, ErrNothingToAdopt)
	}
	var reps []*Report
	var errs []error
	for _, name := range names {
		o := o
		o.Name, o.Adopt = name, true
		rep, err := p.Converge(ctx, o)
		if rep != nil {
			reps = append(reps, rep)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("adopt %s: %w", name, err))
		}
	}
	return reps, errors.Join(errs...)
}
