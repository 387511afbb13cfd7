package functions

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
)

// otherSandbox is a sandbox Provision built under a name other than the
// configured one, as the detection rules see it.
type otherSandbox struct {
	// id is its instance's numeric id.
	id    string
	rules detect.Sandbox
}

// otherSandboxes lists the sandboxes Provision built in the configured
// zone besides the configured one: the instances labelled
// coopguard-sandbox=<their own name>. The label is trusted: it is set by
// Provision, and no sandbox account holds a Compute role (posture fails
// one). What the rules know of each (its account, network, canary) is
// derived from its name, as Provision derived it, never read from the VM.
func otherSandboxes(ctx context.Context, e *Env) ([]otherSandbox, error) {
	g := e.Config.Cloud.GCP
	it := e.Clients.Instances.List(ctx, &computepb.ListInstancesRequest{
		Project: g.Project, Zone: g.Zone, Filter: ptr("labels." + config.SandboxLabel + ":*"),
	})
	var out []otherSandbox
	for {
		inst, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list the sandboxes in %s/%s: %w", g.Project, g.Zone, err)
		}
		name := inst.GetName()
		if name == e.Config.VM.Name || inst.GetLabels()[config.SandboxLabel] != name {
			continue
		}
		sb, err := provisioner.NewSandbox(e.Config, name, "")
		if err != nil {
			continue // not a name Provision accepts: not one it built
		}
		out = append(out, otherSandbox{id: strconv.FormatUint(inst.GetId(), 10), rules: sandboxForRules(e.Config, sb)})
	}
}
