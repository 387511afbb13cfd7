package actions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// Report phrases of disable-identity: the first says the stolen tokens
// are dead, the others what the operator must know.
const (
	IdentityDisabled   = "identity disabled: its existing access tokens are rejected"
	FoundPersistence   = "found persistence: deleted user-managed key"
	SharedIdentityNote = "other VMs run as this account and lose the identity too"
)

// DisableIdentity disables the sandbox's own service account, so every
// access token the attacker copied off the VM is refused everywhere (GCP
// rejects a disabled account's existing tokens and issues it no new ones),
// and deletes every user-managed key of that account — a key on a sandbox
// account is persistence someone planted, since coopguard never makes one.
// It acts only on the account coopguard configured or provisioned for the
// sandbox (Target.ServiceAccount, derived from config, never read from the
// VM), never on one of coopguard's own. Other VMs that run as the same
// account lose the identity too: the report names them.
type DisableIdentity struct{}

// Name implements Action.
func (DisableIdentity) Name() string { return "disable-identity" }

// Mutates implements Action.
func (DisableIdentity) Mutates() bool { return true }

// Run implements Action.
func (DisableIdentity) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	sa, err := sandboxAccount(t)
	out := Outcome{Target: sa}
	if err != nil {
		return out, err
	}
	name := accountName(sa)
	acct, err := c.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: name})
	if retry.IsNotFound(err) {
		out.Result, out.Detail = incident.ResultAlready, "service account "+sa+" does not exist: no identity to disable"
		return out, nil
	}
	if err != nil {
		return out, errorf(err, "read service account %s", sa)
	}
	var parts []string
	disabled := false
	switch {
	case acct.GetDisabled():
		parts = append(parts, IdentityDisabled+" already")
	case t.DryRun:
		parts = append(parts, "would disable "+sa)
	default:
		if err := c.IAMAdmin.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: name}); err != nil {
			return out, errorf(err, "disable service account %s", sa)
		}
		disabled = true
		out.Changed = append(out.Changed, name)
		parts = append(parts, IdentityDisabled+" ("+sa+")")
	}
	keys, keyErr := deleteUserKeys(ctx, c, name, t.DryRun)
	for _, k := range keys {
		verb := FoundPersistence
		if t.DryRun {
			verb = "found persistence: would delete user-managed key"
		} else {
			out.Changed = append(out.Changed, k)
		}
		parts = append(parts, verb+" "+shortKey(k))
	}
	parts = append(parts, othersNote(ctx, c, t, sa)...)
	out.Detail = strings.Join(parts, "; ")
	if keyErr != nil {
		return out, keyErr
	}
	switch {
	case t.DryRun:
		out.Result = incident.ResultDryRun
	case disabled || len(keys) > 0:
		out.Result = incident.ResultDone
	default:
		out.Result = incident.ResultAlready
	}
	return out, nil
}

// sandboxAccount is the target's sandbox account, refused when unknown or
// one of coopguard's own accounts (disabling those would end coopguard's
// response).
func sandboxAccount(t *Target) (string, error) {
	sa := t.ServiceAccount
	switch {
	case sa == "":
		return "", fmt.Errorf("no service account is known for sandbox %s: set cloud.gcp.service_account (the configured sandbox) or provision the sandbox with coopguard", t.Instance.GetName())
	case slices.Contains(coopguardAccounts(t.Project), sa) || slices.Contains(coopguardAccounts(cmp.Or(t.Home, t.Project)), sa):
		return sa, fmt.Errorf("service account %s of sandbox %s is one of coopguard's own accounts: coopguard never disables or enables it; give the sandbox a dedicated account (cloud.gcp.service_account)", sa, t.Instance.GetName())
	}
	return sa, nil
}

// coopguardAccounts are the emails of coopguard's own accounts in project.
func coopguardAccounts(project string) []string {
	out := make([]string, len(config.Accounts))
	for i, a := range config.Accounts {
		out[i] = config.AccountEmail(a, project)
	}
	return out
}

// accountName is the IAM resource name of a service account, in the
// project its email names: IAM's reference advises against the "-"
// wildcard, whose errors can mislead.
func accountName(email string) string {
	project := "-"
	if _, dom, ok := strings.Cut(email, "@"); ok {
		if p, ok := strings.CutSuffix(dom, ".iam.gserviceaccount.com"); ok {
			project = p
		}
	}
	return "projects/" + project + "/serviceAccounts/" + email
}

// deleteUserKeys deletes every user-managed key of the account (none in a
// dry run) and returns their names: those it deleted, or would delete.
func deleteUserKeys(ctx context.Context, c *gcp.Clients, name string, dryRun bool) ([]string, error) {
	resp, err := c.IAMAdmin.ListServiceAccountKeys(ctx, &adminpb.ListServiceAccountKeysRequest{
		Name: name, KeyTypes: []adminpb.ListServiceAccountKeysRequest_KeyType{adminpb.ListServiceAccountKeysRequest_USER_MANAGED},
	})
	if err != nil {
		return nil, errorf(err, "list the user-managed keys of %s", name)
	}
	var found []string
	var errs []error
	for _, k := range resp.GetKeys() {
		if dryRun {
			found = append(found, k.GetName())
			continue
		}
		err := c.IAMAdmin.DeleteServiceAccountKey(ctx, &adminpb.DeleteServiceAccountKeyRequest{Name: k.GetName()})
		switch {
		case err == nil:
			found = append(found, k.GetName())
		case retry.IsNotFound(err):
			// Deleted meanwhile (a redelivery of this response): not ours.
		default:
			errs = append(errs, errorf(err, "delete key %s (delete it with gcloud iam service-accounts keys delete)", shortKey(k.GetName())))
		}
	}
	return found, errors.Join(errs...)
}

// shortKey is "keys/<id>" of a key's name: its id names it, and the name
// carries no key material.
func shortKey(name string) string {
	if i := strings.LastIndex(name, "/keys/"); i >= 0 {
		return name[i+1:]
	}
	return name
}

// othersNote names the other VMs of the project that run as the account
// (they lose the identity too), and a VM that runs as an account coopguard
// did not give the sandbox. A failed listing is said, not fatal: the
// identity is disabled either way.
func othersNote(ctx context.Context, c *gcp.Clients, t *Target, sa string) []string {
	var notes []string
	for _, s := range t.Instance.GetServiceAccounts() {
		if e := s.GetEmail(); e != sa {
			notes = append(notes, fmt.Sprintf("the VM runs as %s, not the sandbox's account: not touched (coopguard acts only on accounts it configured or made); check it, and disable it with gcloud iam service-accounts disable %s if it is compromised", e, e))
		}
	}
	others, err := vmsRunningAs(ctx, c, t, sa)
	switch {
	case err != nil:
		notes = append(notes, fmt.Sprintf("could not list the other VMs that run as %s (%v): check with gcloud compute instances list --filter=serviceAccounts.email=%s", sa, err, sa))
	case len(others) > 0:
		notes = append(notes, SharedIdentityNote+": "+list(others))
	}
	return notes
}

// vmsRunningAs lists the project's VMs other than the target that run as
// email, as "zones/Z/instances/N".
func vmsRunningAs(ctx context.Context, c *gcp.Clients, t *Target, email string) ([]string, error) {
	it := c.Instances.AggregatedList(ctx, &computepb.AggregatedListInstancesRequest{Project: t.Project})
	var out []string
	for {
		pair, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, err
		}
		for _, inst := range pair.Value.GetInstances() {
			zone := inst.GetZone()[strings.LastIndex(inst.GetZone(), "/")+1:]
			if inst.GetName() == t.Instance.GetName() && zone == t.Zone {
				continue
			}
			for _, s := range inst.GetServiceAccounts() {
				if s.GetEmail() == email {
					out = append(out, "zones/"+zone+"/instances/"+inst.GetName())
				}
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
