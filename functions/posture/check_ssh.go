package posture

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// iapPrefix is IAP's TCP forwarding range, the only source SSH may come from.
var iapPrefix = netip.MustParsePrefix(provisioner.IAPRange)

// sshIAPOnly: on the VM's network, no enabled ingress rule allows anything
// from the whole internet (0.0.0.0/0, ::/0), every rule allowing tcp:22
// admits only IAP's range, and the IAP SSH rule exists. Deny rules do not
// count: the sandbox's own deny-all-ingress rule has source 0.0.0.0/0.
type sshIAPOnly struct{}

func (sshIAPOnly) Name() string { return "ssh-iap-only" }

func (sshIAPOnly) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	inst, err := in.instance(ctx, c)
	if err != nil {
		return readError(err, "compute.instances.get")
	}
	networks := []string{in.Sandbox.Network()}
	for _, ni := range inst.GetNetworkInterfaces() {
		if n := lastSegment(ni.GetNetwork()); n != "" && !slices.Contains(networks, n) {
			networks = append(networks, n)
		}
	}
	it := c.Firewalls.List(ctx, &computepb.ListFirewallsRequest{Project: in.Project()})
	var bad, fixes []string
	iapRule := ""
	for {
		fw, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return readError(fmt.Errorf("list firewall rules of project %s: %w", in.Project(), err), "compute.firewalls.list")
		}
		if fw.GetDisabled() || fw.GetDirection() != "INGRESS" || len(fw.GetAllowed()) == 0 ||
			!slices.Contains(networks, lastSegment(fw.GetNetwork())) || !appliesTo(fw, inst) {
			continue
		}
		del := fmt.Sprintf("gcloud compute firewall-rules delete %s --project %s", fw.GetName(), in.Project())
		if open := openRanges(fw.GetSourceRanges()); len(open) > 0 {
			bad = append(bad, fmt.Sprintf("rule %s allows %s from %s", fw.GetName(), allowedSummary(fw), strings.Join(open, ",")))
			fixes = append(fixes, del)
			continue
		}
		if !allowsSSH(fw) {
			continue
		}
		if others := nonIAPSources(fw); len(others) > 0 {
			bad = append(bad, fmt.Sprintf("rule %s allows SSH from %s", fw.GetName(), strings.Join(others, ",")))
			fixes = append(fixes, fmt.Sprintf("gcloud compute firewall-rules update %s --project %s --source-ranges %s --source-tags= --source-service-accounts=", fw.GetName(), in.Project(), provisioner.IAPRange))
			continue
		}
		if fw.GetName() == in.Sandbox.FirewallIAPSSH() {
			iapRule = fw.GetName()
		}
	}
	nets := strings.Join(networks, ",")
	if len(bad) > 0 {
		return fail(fmt.Sprintf("network %s: %s", nets, strings.Join(bad, "; ")), strings.Join(fixes, " && "))
	}
	if iapRule == "" {
		return fail(fmt.Sprintf("network %s: no enabled IAP SSH rule %s (SSH through IAP is how people reach the VM)", nets, in.Sandbox.FirewallIAPSSH()),
			"restore it: coopguard provision --config FILE")
	}
	return pass("network %s: SSH only from %s (rule %s); no allow rule from 0.0.0.0/0 or ::/0", nets, provisioner.IAPRange, iapRule)
}

// appliesTo reports whether fw reaches inst: a rule with target tags or
// target service accounts reaches only VMs with one of them. With no VM
// every rule counts, so a sandbox provisioned later is judged too.
func appliesTo(fw *computepb.Firewall, inst *computepb.Instance) bool {
	if inst == nil {
		return true
	}
	if tags := fw.GetTargetTags(); len(tags) > 0 {
		return slices.ContainsFunc(inst.GetTags().GetItems(), func(t string) bool { return slices.Contains(tags, t) })
	}
	if sas := fw.GetTargetServiceAccounts(); len(sas) > 0 {
		return slices.ContainsFunc(inst.GetServiceAccounts(), func(sa *computepb.ServiceAccount) bool { return slices.Contains(sas, sa.GetEmail()) })
	}
	return true
}

// openRanges returns the source ranges that mean "the whole internet".
func openRanges(ranges []string) []string {
	var out []string
	for _, r := range ranges {
		p, err := netip.ParsePrefix(r)
		if err == nil && p.Bits() == 0 {
			out = append(out, r)
		}
	}
	return out
}

// nonIAPSources returns the sources of fw outside IAP's range, including
// source tags and service accounts (other VMs are not IAP).
func nonIAPSources(fw *computepb.Firewall) []string {
	var out []string
	for _, r := range fw.GetSourceRanges() {
		p, err := netip.ParsePrefix(r)
		if err != nil {
			if a, aerr := netip.ParseAddr(r); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
				err = nil
			}
		}
		if err != nil || p.Bits() < iapPrefix.Bits() || !iapPrefix.Contains(p.Addr()) {
			out = append(out, r)
		}
	}
	for _, t := range fw.GetSourceTags() {
		out = append(out, "tag "+t)
	}
	for _, sa := range fw.GetSourceServiceAccounts() {
		out = append(out, "service account "+sa)
	}
	return out
}

// allowsSSH reports whether fw allows TCP port 22.
func allowsSSH(fw *computepb.Firewall) bool {
	for _, a := range fw.GetAllowed() {
		switch strings.ToLower(a.GetIPProtocol()) {
		case "all":
			return true
		case "tcp", "6":
		default:
			continue
		}
		if len(a.GetPorts()) == 0 {
			return true
		}
		for _, p := range a.GetPorts() {
			lo, hi, ok := strings.Cut(p, "-")
			if !ok {
				hi = lo
			}
			l, err1 := strconv.Atoi(lo)
			h, err2 := strconv.Atoi(hi)
			if err1 == nil && err2 == nil && l <= 22 && 22 <= h {
				return true
			}
		}
	}
	return false
}

// allowedSummary is "tcp:22,80 udp" for the evidence.
func allowedSummary(fw *computepb.Firewall) string {
	var out []string
	for _, a := range fw.GetAllowed() {
		s := a.GetIPProtocol()
		if len(a.GetPorts()) > 0 {
			s += ":" + strings.Join(a.GetPorts(), ",")
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// lastSegment is the name at the end of a resource URL or path.
func lastSegment(s string) string { return s[strings.LastIndex(s, "/")+1:] }
