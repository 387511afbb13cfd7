package provisioner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// KindDisruptive is the report kind of the changes --disruptive makes
// to an adopted VM (one result per change).
const KindDisruptive = "disruptive"

// runningStates are the statuses of a VM that is up or coming up: one
// that --disruptive stops is started again afterwards.
var runningStates = []string{"PROVISIONING", "STAGING", "RUNNING"}

// harden applies to the adopted VM of sb the fixes of the checklist that
// a stop allows, through the Compute API as gcloud would: its network
// gets a Cloud NAT unless one serves it (so the VM keeps its egress),
// then the external IP goes (instances.deleteAccessConfig, while it
// runs); then, stopped, Shielded VM is turned fully on
// (updateShieldedInstanceConfig) and it is switched to the sandbox's own
// account (setServiceAccount). It is started again only if it was
// running before and is not contained (quarantine tag): a contained VM
// stays down until resolve. The network, which needs a rebuild, is left
// to the listed fix. A VM without coopguard's adoption labels is never
// touched.
func (p *Provisioner) harden(ctx context.Context, sb *Sandbox, progress Progress) ([]Result, error) {
	c := p.clients
	get := func() (*computepb.Instance, error) {
		var inst *computepb.Instance
		err := retry.Do(ctx, p.policy, func(ctx context.Context) error {
			var err error
			inst, err = c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: sb.Project, Zone: sb.Zone, Instance: sb.Name})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read instance %s in %s/%s: %w", sb.Name, sb.Project, sb.Zone, err)
		}
		return inst, nil
	}
	inst, err := get()
	if err != nil {
		return nil, err
	}
	labels := inst.GetLabels()
	if _, adopted := labels[AdoptedLabel]; !adopted || labels[config.SandboxLabel] != sb.Name {
		return nil, fmt.Errorf("instance %s in %s %w as adopted (labels %s=%s and %s): --disruptive changes only a VM coopguard adopted",
			sb.Name, sb.Zone, ErrNotOurs, config.SandboxLabel, sb.Name, AdoptedLabel)
	}
	need := map[string]bool{}
	for _, g := range sb.Gaps(inst) {
		need[g.Kind] = g.Disruptive
	}
	var results []Result
	step := func(what string, do func(ctx context.Context) error) error {
		t := time.Now()
		err := retry.Do(ctx, p.policy, do)
		res := Result{Kind: KindDisruptive, Name: sb.Name, Action: Update, Status: StatusDone, Detail: what, Seconds: time.Since(t).Seconds()}
		if err != nil {
			res.Status, res.Error = StatusFailed, fmt.Sprintf("%s: %v", what, err)
		}
		results = append(results, res)
		if progress != nil {
			progress(res)
		}
		return err
	}
	wait := gcp.Wait

	if need[GapExternalIP] {
		nat, err := p.adoptedNAT(ctx, sb)
		if err != nil {
			return results, err
		}
		if nat != nil {
			if _, err := Run(ctx, c, p.policy, []Resource{nat}, false, func(r Result) {
				results = append(results, r)
				if progress != nil {
					progress(r)
				}
			}); err != nil {
				return results, fmt.Errorf("the external IP of %s stays until its network has a Cloud NAT: %w", sb.Name, err)
			}
		}
		for _, ni := range inst.GetNetworkInterfaces() {
			for _, ac := range ni.GetAccessConfigs() {
				what := fmt.Sprintf("remove the external IP (access config %q of %s), without a stop", ac.GetName(), ni.GetName())
				if err := step(what, func(ctx context.Context) error {
					return wait(ctx)(c.Instances.DeleteAccessConfig(ctx, &computepb.DeleteAccessConfigInstanceRequest{
						Project: sb.Project, Zone: sb.Zone, Instance: sb.Name,
						NetworkInterface: ni.GetName(), AccessConfig: ac.GetName(),
						RequestId: sb.requestID("instance.deleteAccessConfig", sb.Project, sb.Zone, sb.Name, ni.GetName(), ac.GetName()),
					}))
				}); err != nil {
					return results, err
				}
			}
		}
	}
	if !need[GapShielded] && !need[GapAccount] {
		return results, nil
	}

	// What remains needs the VM stopped.
	if inst, err = get(); err != nil {
		return results, err
	}
	status := inst.GetStatus()
	wasRunning := slices.Contains(runningStates, status)
	if !wasRunning && status != "TERMINATED" {
		return results, fmt.Errorf("instance %s is %s: %w; run again once it is RUNNING or stopped (TERMINATED)", sb.Name, status, ErrDisruptive)
	}
	if wasRunning {
		if err := step("stop the VM (it was "+status+")", func(ctx context.Context) error {
			return wait(ctx)(c.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: sb.Project, Zone: sb.Zone, Instance: sb.Name,
				RequestId: sb.requestID("instance.stop", sb.Project, sb.Zone, sb.Name)}))
		}); err != nil {
			return results, err
		}
	}
	var errs []error
	if need[GapShielded] {
		errs = append(errs, step("turn on Shielded VM: Secure Boot, vTPM, integrity monitoring", func(ctx context.Context) error {
			return wait(ctx)(c.Instances.UpdateShieldedInstanceConfig(ctx, &computepb.UpdateShieldedInstanceConfigInstanceRequest{
				Project: sb.Project, Zone: sb.Zone, Instance: sb.Name,
				RequestId: sb.requestID("instance.updateShieldedInstanceConfig", sb.Project, sb.Zone, sb.Name),
				ShieldedInstanceConfigResource: &computepb.ShieldedInstanceConfig{
					EnableSecureBoot: proto.Bool(true), EnableVtpm: proto.Bool(true), EnableIntegrityMonitoring: proto.Bool(true),
				},
			}))
		}))
	}
	if need[GapAccount] {
		errs = append(errs, step("run as the sandbox's own account "+sb.ServiceAccount+" (was "+accountsOf(inst)+")", func(ctx context.Context) error {
			return wait(ctx)(c.Instances.SetServiceAccount(ctx, &computepb.SetServiceAccountInstanceRequest{
				Project: sb.Project, Zone: sb.Zone, Instance: sb.Name,
				RequestId: sb.requestID("instance.setServiceAccount", sb.Project, sb.Zone, sb.Name, sb.ServiceAccount),
				InstancesSetServiceAccountRequestResource: &computepb.InstancesSetServiceAccountRequest{
					Email: proto.String(sb.ServiceAccount), Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"},
				},
			}))
		}))
	}
	if !wasRunning {
		return results, errors.Join(errs...)
	}
	// Started again even when a change failed: the user's VM is left as
	// it was found, unless containment took it meanwhile.
	now, err := get()
	if err != nil {
		return results, errors.Join(append(errs, err)...)
	}
	if slices.Contains(now.GetTags().GetItems(), config.QuarantineTag) {
		res := Result{Kind: KindDisruptive, Name: sb.Name, Action: None, Status: StatusDone,
			Detail: "left stopped: the VM is contained (tag " + config.QuarantineTag + "); it starts again with coopguard resolve"}
		results = append(results, res)
		if progress != nil {
			progress(res)
		}
		return results, errors.Join(errs...)
	}
	errs = append(errs, step("start the VM again (it was running)", func(ctx context.Context) error {
		return wait(ctx)(c.Instances.Start(ctx, &computepb.StartInstanceRequest{Project: sb.Project, Zone: sb.Zone, Instance: sb.Name,
			RequestId: sb.requestID("instance.start", sb.Project, sb.Zone, sb.Name)}))
	}))
	return results, errors.Join(errs...)
}

// adoptedNAT returns the Cloud Router with the Cloud NAT that gives the
// adopted VM egress once its external IP is gone, or nil when a NAT of
// a router on the VM's network in its region already serves every
// subnetwork (the user's own is kept; a second NAT for the same ranges
// would not be accepted).
func (p *Provisioner) adoptedNAT(ctx context.Context, sb *Sandbox) (Resource, error) {
	it := p.clients.Routers.List(ctx, &computepb.ListRoutersRequest{Project: sb.Project, Region: sb.Region})
	for rt, err := range it.All() {
		if err != nil {
			return nil, fmt.Errorf("list the Cloud Routers of %s/%s: %w", sb.Project, sb.Region, err)
		}
		if lastSegment(rt.GetNetwork()) != sb.adoption.Network || rt.GetName() == sb.Router() {
			continue
		}
		for _, n := range rt.GetNats() {
			if n.GetSourceSubnetworkIpRangesToNat() == "ALL_SUBNETWORKS_ALL_IP_RANGES" {
				return nil, nil
			}
		}
	}
	return &adoptedRouter{router{sb}}, nil
}

// adoptedRouter is coopguard's Cloud Router with its NAT in an adopted
// VM's network, which coopguard did not build: it depends on nothing.
type adoptedRouter struct{ router }

func (r *adoptedRouter) Deps() []string { return nil }

// anyDisruptive reports whether --disruptive would close any of gaps.
func anyDisruptive(gaps []Gap) bool {
	return slices.ContainsFunc(gaps, func(g Gap) bool { return g.Disruptive })
}

// plannedHardening is what harden would do to close gaps, as a dry run
// reports it: one planned result per gap --disruptive closes.
func plannedHardening(sb *Sandbox, gaps []Gap) []Result {
	var out []Result
	restart := "; started again if it was running, unless it is contained"
	for _, g := range gaps {
		var what string
		switch g.Kind {
		case GapExternalIP:
			what = "would remove the external IP without a stop (a Cloud NAT for its network first, unless one serves it)"
		case GapShielded:
			what = "would stop the VM and turn on Shielded VM (Secure Boot, vTPM, integrity monitoring)" + restart
		case GapAccount:
			what = "would stop the VM and run it as the sandbox's own account " + sb.ServiceAccount + restart
		default:
			continue
		}
		out = append(out, Result{Kind: KindDisruptive, Name: sb.Name, Action: Update, Status: StatusPlanned, Detail: what})
	}
	return out
}
