package provisioner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// firewallKind is one of the sandbox's three firewall rules.
type firewallKind int

const (
	denyIngress      firewallKind = iota // explicit deny of all ingress
	iapSSH                               // tcp:22 from IAP only
	quarantineEgress                     // priority 0 deny of all egress for the quarantine tag
)

// firewall is one firewall rule of the sandbox network.
type firewall struct {
	s    *Sandbox
	kind firewallKind
}

func (r *firewall) Kind() string { return "firewall" }
func (r *firewall) Deps() []string {
	if r.s.adoption != nil {
		return nil // an adopted VM's network is the user's, already there
	}
	return []string{"network/" + r.s.Network()}
}

func (r *firewall) Name() string {
	switch r.kind {
	case iapSSH:
		return r.s.FirewallIAPSSH()
	case quarantineEgress:
		return r.s.FirewallQuarantine()
	}
	return r.s.FirewallDenyIngress()
}

// desired is the rule as coopguard wants it.
func (r *firewall) desired() *computepb.Firewall {
	fw := &computepb.Firewall{
		Name:    proto.String(r.Name()),
		Network: proto.String(r.s.networkURL()),
	}
	all := []*computepb.Denied{{IPProtocol: proto.String("all")}}
	switch r.kind {
	case denyIngress:
		fw.Description = proto.String("coopguard: deny all ingress (explicit)")
		fw.Direction = proto.String("INGRESS")
		fw.Priority = proto.Int32(65534)
		fw.SourceRanges = []string{"0.0.0.0/0"}
		fw.Denied = all
	case iapSSH:
		fw.Description = proto.String("coopguard: SSH only through Identity-Aware Proxy")
		fw.Direction = proto.String("INGRESS")
		fw.Priority = proto.Int32(1000)
		fw.SourceRanges = []string{IAPRange}
		fw.Allowed = []*computepb.Allowed{{IPProtocol: proto.String("tcp"), Ports: []string{"22"}}}
	case quarantineEgress:
		fw.Description = proto.String("coopguard: quarantine cuts all egress of tagged instances")
		fw.Direction = proto.String("EGRESS")
		fw.Priority = proto.Int32(0)
		fw.DestinationRanges = []string{"0.0.0.0/0"}
		fw.TargetTags = []string{config.QuarantineTag}
		fw.Denied = all
	}
	return fw
}

// summary is a short, comparable description of a rule's effect.
func summary(fw *computepb.Firewall) string {
	var rules []string
	for _, a := range fw.GetAllowed() {
		rules = append(rules, "allow "+a.GetIPProtocol()+":"+strings.Join(a.GetPorts(), ","))
	}
	for _, d := range fw.GetDenied() {
		rules = append(rules, "deny "+d.GetIPProtocol()+":"+strings.Join(d.GetPorts(), ","))
	}
	src := slices.Clone(fw.GetSourceRanges())
	slices.Sort(src)
	dst := slices.Clone(fw.GetDestinationRanges())
	slices.Sort(dst)
	tags := slices.Clone(fw.GetTargetTags())
	slices.Sort(tags)
	return fmt.Sprintf("%s p%d %s from [%s] to [%s] tags [%s] disabled=%v",
		fw.GetDirection(), fw.GetPriority(), strings.Join(rules, " "),
		strings.Join(src, ","), strings.Join(dst, ","), strings.Join(tags, ","), fw.GetDisabled())
}

func (r *firewall) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	want := r.desired()
	got, err := c.Firewalls.Get(ctx, &computepb.GetFirewallRequest{Project: r.s.Project, Firewall: r.Name()})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: summary(want), Apply: func(ctx context.Context) error {
			return created(gcp.Wait(ctx)(c.Firewalls.Insert(ctx, &computepb.InsertFirewallRequest{
				Project: r.s.Project, FirewallResource: want,
				RequestId: r.s.requestID("firewall.insert", r.s.Project, summary(want)),
			})))
		}}, nil
	case err != nil:
		return Change{}, err
	}
	if summary(got) == summary(want) {
		return Change{Action: None, Detail: summary(got)}, nil
	}
	// Update replaces the whole rule, so drift in any field is undone.
	return Change{Action: Update, Detail: "was " + summary(got) + "; now " + summary(want), Apply: func(ctx context.Context) error {
		return gcp.Wait(ctx)(c.Firewalls.Update(ctx, &computepb.UpdateFirewallRequest{
			Project: r.s.Project, Firewall: r.Name(), FirewallResource: want,
			RequestId: r.s.requestID("firewall.update", r.s.Project, summary(got), summary(want)),
		}))
	}}, nil
}
