package e2e

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cgactions "github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// TestStolenTokenRefusedUntilRestore is issue 20's first proof, on GCP's
// clock: the attacker holds the sandbox account's access token (copied
// from the metadata server) and a user-managed key they minted for it.
// Containment disables the account and deletes the key; from then on the
// token is refused everything, through the official clients, including
// the key version the operator adds after containment. resolve --restore
// enables the account before it starts the VM, and the same token reads
// the new key again.
func TestStolenTokenRefusedUntilRestore(t *testing.T) {
	t.Parallel()
	w := newRevokeWorld(t)
	ctx := context.Background()
	project, sa := w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.ServiceAccount
	stolen, err := w.emu.ClientsAs(ctx, project, sa)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stolen.Close() })
	secret := "projects/" + project + "/secrets/anthropic-api-key"
	read := func(version string) ([]byte, error) {
		v, err := stolen.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: secret + "/versions/" + version})
		return v.GetPayload().GetData(), err
	}
	if _, err := read("latest"); err != nil {
		t.Fatalf("before containment the sandbox's account reads its key: %v", err)
	}
	// Persistence: a key for the sandbox's account, minted by someone
	// who could (the operator's account stands in).
	planted, err := w.operator.IAMAdmin.CreateServiceAccountKey(ctx, &adminpb.CreateServiceAccountKeyRequest{Name: "projects/-/serviceAccounts/" + sa})
	if err != nil {
		t.Fatal(err)
	}
	keyID := planted.GetName()[strings.LastIndex(planted.GetName(), "/")+1:]

	if code := w.postEvent(t, "HandleAlert", binary, w.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatalf("HandleAlert = %d; logs:\n%s", code, w.logs)
	}
	rep := w.incidents(t)["alert-0.n1m3x8a2b7kq"]
	got := action(rep, "disable-identity")
	if got.Result != incident.ResultDone || !strings.Contains(got.Detail, cgactions.IdentityDisabled) ||
		!strings.Contains(got.Detail, cgactions.FoundPersistence+" keys/"+keyID) {
		t.Errorf("disable-identity = %s %q, want done, naming the planted key as found persistence", got.Result, got.Detail)
	}
	if keys := w.emu.IAMAdmin.Keys(sa); len(keys) != 0 {
		t.Errorf("the sandbox's account still has keys %v", keys)
	}

	// The operator rotates, as the runbook says, while the incident is open.
	if _, err := w.operator.Secrets.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent: secret, Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-test-SECRET-PAYLOAD-rotated")},
	}); err != nil {
		t.Fatal(err)
	}
	refused := map[string]func() error{
		"the new key version": func() error { _, err := read("2"); return err },
		"the latest version":  func() error { _, err := read("latest"); return err },
		"the secret's metadata": func() error {
			_, err := stolen.Secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: secret})
			return err
		},
		"its own account": func() error {
			_, err := stolen.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: "projects/-/serviceAccounts/" + sa})
			return err
		},
		"enabling itself": func() error {
			return stolen.IAMAdmin.EnableServiceAccount(ctx, &adminpb.EnableServiceAccountRequest{Name: "projects/-/serviceAccounts/" + sa})
		},
		"the VM (Compute REST)": func() error {
			_, err := stolen.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: w.cfg.Cloud.GCP.Zone, Instance: w.cfg.VM.Name})
			return err
		},
	}
	for what, call := range refused {
		if err := call(); !unauthenticated(err) {
			t.Errorf("the stolen token reading %s = %v, want UNAUTHENTICATED", what, err)
		}
	}

	w.finishFollowUps(t)
	code, _, body := w.resolve(t, `{"id":"alert-0.n1m3x8a2b7kq","restore":true}`)
	if code != http.StatusOK {
		t.Fatalf("Resolve --restore = %d %s", code, body)
	}
	data, err := read("latest")
	if err != nil || string(data) != "sk-test-SECRET-PAYLOAD-rotated" {
		t.Errorf("after restore the account reads the new version: %d bytes, %v", len(data), err)
	}
	if st := w.instance(t).GetStatus(); st != "RUNNING" {
		t.Errorf("VM = %s, want RUNNING", st)
	}
	// The VM starts only once its identity is back.
	acts := w.incidents(t)["alert-0.n1m3x8a2b7kq"].Actions
	enable := slices.IndexFunc(acts, func(a incident.ActionResult) bool { return a.Action == "enable-identity" })
	start := slices.IndexFunc(acts, func(a incident.ActionResult) bool { return a.Action == "start-vm" })
	switch {
	case enable < 0 || start < 0:
		t.Errorf("restore timeline %v lacks enable-identity or start-vm", acts)
	case acts[enable].Result != incident.ResultDone || acts[start].Start.Before(acts[enable].End):
		t.Errorf("enable-identity %s ended %v, start-vm began %v: want done, before the start", acts[enable].Result, acts[enable].End, acts[start].Start)
	}
}

// unauthenticated reports whether err is GCP's refusal of a credential:
// gRPC UNAUTHENTICATED or HTTP 401.
func unauthenticated(err error) bool {
	var ae *apierror.APIError
	if errors.As(err, &ae) && ae.HTTPCode() == http.StatusUnauthorized {
		return true
	}
	return status.Code(err) == codes.Unauthenticated
}
