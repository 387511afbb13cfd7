package actions

import (
	"context"
	"slices"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// EnableIdentity enables the sandbox's service account again on `coopguard
// resolve --restore`, before the VM starts, so it comes up with its
// identity. It enables only an account this incident's disable-identity
// disabled (Target.Prior), never one found disabled already, and never
// one of coopguard's own. Keys it deleted stay deleted.
type EnableIdentity struct{}

// Name implements Action.
func (EnableIdentity) Name() string { return "enable-identity" }

// Mutates implements Action.
func (EnableIdentity) Mutates() bool { return true }

// Run implements Action.
func (EnableIdentity) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	sa, err := sandboxAccount(t)
	out := Outcome{Target: sa}
	if err != nil {
		return out, err
	}
	name := accountName(sa)
	if !slices.Contains(t.Prior["disable-identity"].Changed, name) {
		out.Result, out.Detail = incident.ResultAlready, "this incident did not disable "+sa+": left as it is"
		return out, nil
	}
	acct, err := c.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: name})
	if retry.IsNotFound(err) {
		return out, errorf(err, "service account %s is gone: the VM cannot come back with its identity; make it again (coopguard provision) before starting the VM", sa)
	}
	if err != nil {
		return out, errorf(err, "read service account %s", sa)
	}
	switch {
	case !acct.GetDisabled():
		out.Result, out.Detail = incident.ResultAlready, "identity enabled already"
	case t.DryRun:
		out.Result, out.Detail = incident.ResultDryRun, "would enable "+sa
	default:
		if err := c.IAMAdmin.EnableServiceAccount(ctx, &adminpb.EnableServiceAccountRequest{Name: name}); err != nil {
			return out, errorf(err, "enable service account %s", sa)
		}
		out.Result, out.Changed = incident.ResultDone, []string{name}
		out.Detail = "identity enabled: " + sa + " may call Google APIs again"
	}
	return out, nil
}
