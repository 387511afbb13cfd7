package posture

import (
	"context"
	"fmt"
	"strings"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// noExternalIP: the VM has no external address (IPv4 access config or
// external IPv6); egress goes through Cloud NAT.
type noExternalIP struct{}

func (noExternalIP) Name() string { return "no-external-ip" }

func (noExternalIP) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	inst, err := in.instance(ctx, c)
	if err != nil {
		return readError(err, "compute.instances.get")
	}
	if inst == nil {
		return noVM(in)
	}
	var found, fixes []string
	for _, ni := range inst.GetNetworkInterfaces() {
		for _, ac := range ni.GetAccessConfigs() {
			found = append(found, fmt.Sprintf("%s has access config %q (%s)", ni.GetName(), ac.GetName(), orUnknown(ac.GetNatIP())))
			fixes = append(fixes, fmt.Sprintf("gcloud compute instances delete-access-config %s --zone %s --project %s --network-interface %s --access-config-name %q",
				inst.GetName(), in.Sandbox.Zone, in.Project(), ni.GetName(), ac.GetName()))
		}
		for _, ac := range ni.GetIpv6AccessConfigs() {
			found = append(found, fmt.Sprintf("%s has external IPv6 %q (%s)", ni.GetName(), ac.GetName(), orUnknown(ac.GetExternalIpv6())))
			fixes = append(fixes, fmt.Sprintf("gcloud compute instances delete-access-config %s --zone %s --project %s --network-interface %s --access-config-name %q",
				inst.GetName(), in.Sandbox.Zone, in.Project(), ni.GetName(), ac.GetName()))
		}
	}
	if len(found) > 0 {
		return fail("VM "+inst.GetName()+": "+strings.Join(found, "; "), strings.Join(fixes, " && "))
	}
	return pass("VM %s: %d network interface(s), no access config, no external IPv6", inst.GetName(), len(inst.GetNetworkInterfaces()))
}

func orUnknown(s string) string {
	if s == "" {
		return "address not assigned yet"
	}
	return s
}
