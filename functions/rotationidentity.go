package functions

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/shared/store"
)

// identityCheck is rotation's check before it adds a version of a
// secret (rotation.Runner.Identity): the secret is one sandbox's key
// (config.SecretSandbox), and containedIdentity judges that sandbox, once
// per run however many of its secrets are due.
func identityCheck(e *Env, account string) func(ctx context.Context, secret string) (string, error) {
	return identityCheckIn(e, account, e.Config.Cloud.GCP.Project)
}

// identityCheckIn is identityCheck for the secrets of project: in another
// project than coopguard's the sandbox's account is the one the sandbox
// registry records for it there, and a sandbox it does not record is
// refused (its account is unknown, so a new version could reach it).
func identityCheckIn(e *Env, account, project string) func(ctx context.Context, secret string) (string, error) {
	type verdict struct {
		note string
		err  error
	}
	var mu sync.Mutex
	seen := map[string]verdict{}
	return func(ctx context.Context, secret string) (string, error) {
		vm, ok := e.Config.SecretSandbox(secret)
		if !ok {
			return "", nil
		}
		mu.Lock()
		defer mu.Unlock()
		if v, ok := seen[vm]; ok {
			return v.note, v.err
		}
		sa, err := sandboxAccount(ctx, e, project, vm)
		if err != nil {
			return "", fmt.Errorf("sandbox %s of secret %s: %w", vm, secret, err)
		}
		note, err := containedIdentity(ctx, e, account, vm, sa)
		seen[vm] = verdict{note, err}
		return note, err
	}
}

// sandboxAccount is the account sandbox vm of project runs as: derived
// from its name in coopguard's project, as the registry records it in
// any other.
func sandboxAccount(ctx context.Context, e *Env, project, vm string) (string, error) {
	if project == e.Config.Cloud.GCP.Project {
		sb, err := provisioner.NewSandbox(e.Config, vm, "")
		if err != nil {
			return "", err
		}
		return sb.ServiceAccount, nil
	}
	if e.Store == nil {
		return "", fmt.Errorf("project %s: %w: no incident store is configured", project, ErrNotRecorded)
	}
	in, err := e.Store.SandboxesIn(ctx, project)
	if err != nil {
		return "", err
	}
	for _, r := range in {
		if r.Name == vm {
			return r.ServiceAccount, nil
		}
	}
	return "", fmt.Errorf("%s/%s: %w: coopguard provision or adopt records it", project, vm, ErrNotRecorded)
}

// containedIdentity says, for sandbox vm running as sa, whether a new
// version of its key may be added: with no contain or quarantine incident
// open on it, nothing; with one open it reads the account as it is now
// and says plainly that the new version is out of the contained
// identity's reach (disabled), or refuses (enabled: the identity the
// incident is about would read the new key).
func containedIdentity(ctx context.Context, e *Env, account, vm, sa string) (string, error) {
	if e.Store == nil {
		return "", nil
	}
	recs, err := e.Store.OnInstance(ctx, vm)
	if err != nil {
		return "", fmt.Errorf("read the incidents on sandbox %s before adding a version: %w", vm, err)
	}
	var open []string
	for _, r := range recs {
		if containsIdentity(r) {
			open = append(open, r.ID)
		}
	}
	if len(open) == 0 {
		return "", nil
	}
	ids := strings.Join(open, ", ")
	name := "projects/-/serviceAccounts/" + sa
	if _, dom, ok := strings.Cut(sa, "@"); ok {
		name = "projects/" + strings.TrimSuffix(dom, ".iam.gserviceaccount.com") + "/serviceAccounts/" + sa
	}
	acct, err := e.ClientsOf(account).IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: name})
	switch {
	case retry.IsNotFound(err):
		return fmt.Sprintf("incident %s is open on sandbox %s, whose account %s no longer exists: the new version is added out of its reach", ids, vm, sa), nil
	case err != nil:
		return "", fmt.Errorf("read sandbox account %s before adding a version while incident %s is open: %w", sa, ids, err)
	case acct.GetDisabled():
		return fmt.Sprintf("incident %s is open: the new version is added while sandbox %s's identity %s is disabled, so the contained identity cannot reach it (coopguard resolve --restore gives it back)", ids, vm, sa), nil
	}
	return "", fmt.Errorf("incident %s is open on sandbox %s but its service account %s is enabled: it would read the new version. Disable it first (gcloud iam service-accounts disable %s), or resolve the incident, then rotate", ids, vm, sa, sa)
}

// containsIdentity reports whether rec is an open incident whose playbook
// disables the sandbox's identity (contain or quarantine, not a dry run).
func containsIdentity(rec *store.Record) bool {
	switch rec.State {
	case incident.OutcomeResolved, incident.OutcomeRefused, incident.OutcomeNotified, incident.OutcomeDryRun:
		return false
	}
	p := rec.Incident.Playbook
	return !rec.Incident.DryRun && (p == incident.PlaybookContain || p == incident.PlaybookQuarantine)
}
