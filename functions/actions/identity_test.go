package actions_test

import (
	"context"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/test/emulator"
)

const sandboxSA = "cc-sandbox@" + lpProject + ".iam.gserviceaccount.com"

// identityWorld is an emulated project with the sandbox's account, the
// sandbox VM running as it and a second VM running as it too.
func identityWorld(t *testing.T) (*emulator.Emulator, *gcp.Clients, *actions.Target) {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	c, err := emu.Clients(context.Background(), lpProject)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	emu.IAMAdmin.SeedServiceAccount(lpProject, "cc-sandbox")
	runsAs := func(email string) []*computepb.ServiceAccount {
		return []*computepb.ServiceAccount{{Email: proto.String(email)}}
	}
	inst := emu.Compute.SeedInstance(lpProject, lpZone, &computepb.Instance{Name: proto.String("claude-sandbox"), ServiceAccounts: runsAs(sandboxSA)})
	emu.Compute.SeedInstance(lpProject, "europe-west1-b", &computepb.Instance{Name: proto.String("builder"), ServiceAccounts: runsAs(sandboxSA)})
	emu.Compute.SeedInstance(lpProject, lpZone, &computepb.Instance{Name: proto.String("web"), ServiceAccounts: runsAs("web@" + lpProject + ".iam.gserviceaccount.com")})
	return emu, c, &actions.Target{Project: lpProject, Zone: lpZone, Instance: inst, ServiceAccount: sandboxSA,
		Incident: incident.Incident{ID: "alert-identity", Trigger: "test", Playbook: incident.PlaybookContain}}
}

// TestDisableIdentity: the sandbox's account is disabled and its planted
// key deleted (named as found persistence, by id only), the other VM
// running as the account is named; a redelivery changes nothing; a dry run
// changes nothing; coopguard's own accounts are refused.
func TestDisableIdentity(t *testing.T) {
	ctx := context.Background()
	t.Run("contain, then redelivery", func(t *testing.T) {
		emu, c, tgt := identityWorld(t)
		key, err := c.IAMAdmin.CreateServiceAccountKey(ctx, &adminpb.CreateServiceAccountKeyRequest{Name: "projects/-/serviceAccounts/" + sandboxSA})
		if err != nil {
			t.Fatal(err)
		}
		out, err := actions.DisableIdentity{}.Run(ctx, c, tgt)
		if err != nil {
			t.Fatal(err)
		}
		keyID := key.GetName()[strings.LastIndex(key.GetName(), "/")+1:]
		for _, want := range []string{actions.IdentityDisabled, actions.FoundPersistence + " keys/" + keyID, actions.SharedIdentityNote + ": [zones/europe-west1-b/instances/builder]"} {
			if !strings.Contains(out.Detail, want) {
				t.Errorf("detail %q lacks %q", out.Detail, want)
			}
		}
		if strings.Contains(out.Detail, "web") || strings.Contains(out.Detail, "PRIVATE KEY") {
			t.Errorf("detail %q names a VM of another account or key material", out.Detail)
		}
		if out.Result != incident.ResultDone || len(out.Changed) != 2 || out.Changed[0] != "projects/"+lpProject+"/serviceAccounts/"+sandboxSA {
			t.Errorf("outcome = %s %v, want done, the account then the key", out.Result, out.Changed)
		}
		if !emu.IAMAdmin.Disabled(sandboxSA) || len(emu.IAMAdmin.Keys(sandboxSA)) != 0 {
			t.Errorf("account disabled %v, keys %v", emu.IAMAdmin.Disabled(sandboxSA), emu.IAMAdmin.Keys(sandboxSA))
		}
		again, err := actions.DisableIdentity{}.Run(ctx, c, tgt)
		if err != nil || again.Result != incident.ResultAlready || len(again.Changed) != 0 {
			t.Errorf("redelivery = %s %v %v, want already, no change", again.Result, again.Changed, err)
		}
	})
	t.Run("dry run", func(t *testing.T) {
		emu, c, tgt := identityWorld(t)
		if _, err := c.IAMAdmin.CreateServiceAccountKey(ctx, &adminpb.CreateServiceAccountKeyRequest{Name: "projects/-/serviceAccounts/" + sandboxSA}); err != nil {
			t.Fatal(err)
		}
		tgt.DryRun = true
		out, err := actions.DisableIdentity{}.Run(ctx, c, tgt)
		if err != nil || out.Result != incident.ResultDryRun || !strings.Contains(out.Detail, "would delete") {
			t.Errorf("dry run = %s %q %v", out.Result, out.Detail, err)
		}
		if emu.IAMAdmin.Disabled(sandboxSA) || len(emu.IAMAdmin.Keys(sandboxSA)) != 1 {
			t.Error("the dry run changed the account or its keys")
		}
	})
	for name, sa := range map[string]string{
		"coopguard's own account": "coopguard-responder@" + lpProject + ".iam.gserviceaccount.com",
		"no account known":        "",
	} {
		t.Run(name, func(t *testing.T) {
			emu, c, tgt := identityWorld(t)
			emu.IAMAdmin.SeedServiceAccount(lpProject, "coopguard-responder")
			tgt.ServiceAccount = sa
			if _, err := (actions.DisableIdentity{}).Run(ctx, c, tgt); err == nil {
				t.Error("accepted")
			}
			if _, err := (actions.EnableIdentity{}).Run(ctx, c, tgt); err == nil {
				t.Error("enable accepted")
			}
			if emu.IAMAdmin.Disabled("coopguard-responder@"+lpProject+".iam.gserviceaccount.com") || emu.IAMAdmin.Disabled(sandboxSA) {
				t.Error("an account was disabled")
			}
		})
	}
}

// TestEnableIdentityUndoesOnlyThisIncident: restore enables the account
// only when this incident's disable-identity disabled it; one found
// disabled already stays disabled.
func TestEnableIdentityUndoesOnlyThisIncident(t *testing.T) {
	ctx := context.Background()
	name := "projects/" + lpProject + "/serviceAccounts/" + sandboxSA
	for _, tt := range []struct {
		name    string
		changed []string
		result  string
		enabled bool
	}{
		{"disabled by this incident", []string{name}, incident.ResultDone, true},
		{"found disabled already", nil, incident.ResultAlready, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			emu, c, tgt := identityWorld(t)
			if err := c.IAMAdmin.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: name}); err != nil {
				t.Fatal(err)
			}
			tgt.Prior = map[string]incident.ActionResult{"disable-identity": {Action: "disable-identity", Changed: tt.changed}}
			out, err := actions.EnableIdentity{}.Run(ctx, c, tgt)
			if err != nil || out.Result != tt.result {
				t.Errorf("enable-identity = %s %q %v, want %s", out.Result, out.Detail, err, tt.result)
			}
			if emu.IAMAdmin.Disabled(sandboxSA) == tt.enabled {
				t.Errorf("disabled = %v, want enabled %v", emu.IAMAdmin.Disabled(sandboxSA), tt.enabled)
			}
		})
	}
}
