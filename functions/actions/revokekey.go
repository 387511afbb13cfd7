package actions

import (
	"context"
	"fmt"
	"strings"

	"github.com/cloudcoop/coopguard/functions/revoke"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// Report lines of revoke-key: the first phrase says plainly whether the
// key stopped working everywhere.
const (
	RevokedAtProvider = "revoked at provider"
	SecretManagerOnly = "disabled in Secret Manager only: copies the agents hold still work"
)

// RevokeKey revokes the managed key at its provider (config
// [coopguard.revoke]), so the copies the agents hold stop working too;
// disable-secrets beside it only stops new reads. With no provider, or a
// key the provider cannot be told about, it says so. A failing provider
// fails the action (the incident is redelivered); one that succeeded is
// not run again, and the provider's own state makes a repeat no change.
type RevokeKey struct{}

// Name implements Action.
func (RevokeKey) Name() string { return "revoke-key" }

// Mutates implements Action.
func (RevokeKey) Mutates() bool { return true }

// Run implements Action.
func (RevokeKey) Run(ctx context.Context, _ *gcp.Clients, t *Target) (Outcome, error) {
	out := Outcome{Target: strings.Join(t.Secrets, ",")}
	if t.Revoker == nil {
		out.Result, out.Detail = incident.ResultAlready, SecretManagerOnly+" (no coopguard.revoke provider configured)"
		if t.DryRun {
			out.Result = incident.ResultDryRun
		}
		return out, nil
	}
	out.Target = t.Revoker.Provider() + ": " + out.Target
	res, err := t.Revoker.Revoke(ctx, revoke.Request{Project: t.Project, Sandbox: t.Instance.GetName(), Secrets: t.Secrets, Workspace: t.Workspace, Incident: t.Incident.ID, DryRun: t.DryRun})
	if err != nil {
		if len(res.Revoked) > 0 {
			out.Detail, out.Changed = "revoked "+list(res.Revoked)+" before failing", res.Revoked
		}
		return out, errorf(err, "revoke the managed key at %s", t.Revoker.Provider())
	}
	var parts []string
	switch {
	case t.DryRun && len(res.Revoked) > 0:
		out.Result = incident.ResultDryRun
		parts = append(parts, "would revoke "+list(res.Revoked)+" at "+t.Revoker.Provider())
	case len(res.Revoked) > 0:
		out.Result, out.Changed = incident.ResultDone, res.Revoked
		parts = append(parts, RevokedAtProvider+" ("+t.Revoker.Provider()+"): "+list(res.Revoked))
	case len(res.Already) > 0:
		out.Result = incident.ResultAlready
		parts = append(parts, RevokedAtProvider+" already ("+t.Revoker.Provider()+"): "+list(res.Already))
	default:
		out.Result = incident.ResultAlready
	}
	if len(res.Unnamed) > 0 {
		parts = append(parts, fmt.Sprintf("%s for %s: coopguard cannot name their key to %s (see coopguard posture, check revoke-key-named)",
			SecretManagerOnly, list(res.Unnamed), t.Revoker.Provider()))
	}
	if len(parts) == 0 {
		parts = append(parts, SecretManagerOnly+": no key is named to "+t.Revoker.Provider())
	}
	out.Detail = strings.Join(parts, "; ")
	return out, nil
}

func list(items []string) string { return "[" + strings.Join(items, " ") + "]" }
