package posture

import (
	"context"
	"fmt"
	"strings"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// ownVPC: every network interface of the VM is on the sandbox's own VPC
// (coopguard's, named for it), not on `default` or a network it shares
// with other workloads: a shared network lets its other VMs reach the
// sandbox, and its routes and rules are not coopguard's to keep. Moving
// a VM to another network needs it stopped and a new subnet, so the fix
// is the one adopt lists (provisioner.Gap); --disruptive does not make it.
type ownVPC struct{}

func (ownVPC) Name() string { return "own-vpc" }

func (ownVPC) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	inst, err := in.instance(ctx, c)
	if err != nil {
		return readError(err, "compute.instances.get")
	}
	if inst == nil {
		return noVM(in)
	}
	want := in.Sandbox.Network()
	var other []string
	for _, ni := range inst.GetNetworkInterfaces() {
		if net := lastSegment(ni.GetNetwork()); net != want {
			other = append(other, fmt.Sprintf("%s on network %s", ni.GetName(), net))
		}
	}
	if len(other) == 0 {
		return pass("VM %s: %d network interface(s), all on its own VPC %s", inst.GetName(), len(inst.GetNetworkInterfaces()), want)
	}
	fix := "rebuild the VM on network " + want + " (coopguard provision builds it)"
	for _, g := range in.Sandbox.Gaps(inst) {
		if g.Kind == provisioner.GapNetwork {
			fix = g.Fix
		}
	}
	return fail("VM "+inst.GetName()+": "+strings.Join(other, "; ")+", not its own VPC "+want, fix)
}
