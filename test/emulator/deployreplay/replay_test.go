package deployreplay_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/deployreplay"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// world is an emulated project and a replay target on it.
func world(t *testing.T, project string) (*emulator.Emulator, deployreplay.Target) {
	t.Helper()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	emu.ResourceManager.SeedProject(project)
	c, err := emu.Clients(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return emu, deployreplay.Target{Project: project, Number: resourcemanager.NumberOf(project), Clients: c,
		GrantTopic: func(topic, member, role string) error {
			emu.IAM.Grant("projects/"+project+"/topics/"+topic, member, role)
			return nil
		}}
}

// fullConfig is the demo config with every optional grant of deploy on:
// a key source with its credential, provider revocation with its own.
func fullConfig() config.Config {
	cfg := config.Demo()
	cfg.Coopguard.Rotation.KeySourceURL = "https://keys.example.com/mint"
	cfg.Coopguard.Rotation.KeySourceCredentialSecret = "mint-credential"
	cfg.Coopguard.Revoke.Provider = config.RevokeAnthropic
	cfg.Coopguard.Revoke.CredentialSecret = "anthropic-admin"
	return cfg
}

// TestDeployGrantsWhatDeployShPrints: after the replay, every binding
// deploy.sh's listing adds (outside an update branch) is in the emulated
// project's policies, every role it creates is defined with its file's
// permissions, and every account it creates exists. Deploying again (the
// update branches) changes no binding.
func TestDeployGrantsWhatDeployShPrints(t *testing.T) {
	cfg := fullConfig()
	project := cfg.Cloud.GCP.Project
	emu, target := world(t, project)
	ctx := context.Background()
	for _, id := range []string{"mint-credential", "anthropic-admin"} {
		emu.SecretManager.SeedSecret(project, id)
	}
	if err := deployreplay.Deploy(ctx, target, &cfg); err != nil {
		t.Fatal(err)
	}
	steps, err := deployreplay.Listing(ctx, deployreplay.Settings(&cfg, target.Number))
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := emu.ResourceManager.Policy(project)
	has := func(p *iampb.Policy, c deploy.Command) bool {
		member, _ := c.Flag("member")
		role, _ := c.Flag("role")
		cond, _ := c.Flag("condition")
		for _, b := range p.GetBindings() {
			got := "None"
			if x := b.GetCondition(); x != nil {
				got = "expression=" + x.GetExpression() + ",title=" + x.GetTitle() + ",description=" + x.GetDescription()
			}
			if b.GetRole() == role && got == cond && slices.Contains(b.GetMembers(), member) {
				return true
			}
		}
		return false
	}
	var checked int
	inUpdate := false
	for _, s := range steps {
		if s.Note != "" {
			inUpdate = strings.HasSuffix(s.Note, ": if present") || (inUpdate && !strings.HasSuffix(s.Note, ": end"))
			continue
		}
		if inUpdate {
			continue
		}
		c := s.Command
		switch {
		case c.Is("gcloud", "projects", "add-iam-policy-binding"):
			checked++
			if !has(pol, c) {
				t.Errorf("deploy.sh runs %s; the emulated project policy lacks it", c)
			}
		case c.Is("gcloud", "iam", "service-accounts", "add-iam-policy-binding"):
			checked++
			p, _ := emu.IAM.Policy("projects/" + project + "/serviceAccounts/" + c.Args[4])
			if !has(p, c) {
				t.Errorf("deploy.sh runs %s; the account's policy lacks it", c)
			}
		case c.Is("gcloud", "secrets", "add-iam-policy-binding"):
			checked++
			if !has(emu.SecretManager.Policy("projects/"+project+"/secrets/"+c.Args[3]), c) {
				t.Errorf("deploy.sh runs %s; the secret's policy lacks it", c)
			}
		case c.Is("gcloud", "iam", "roles", "create"):
			checked++
			file, _ := c.Flag("file")
			_, rel, _ := strings.Cut(file, "/deploy/")
			want, err := deploy.ReadRole("../../../deploy/" + rel)
			if err != nil {
				t.Fatal(err)
			}
			got, err := target.Clients.IAMAdmin.GetRole(ctx, &adminpb.GetRoleRequest{Name: "projects/" + project + "/roles/" + c.Args[4]})
			if err != nil || !slices.Equal(got.GetIncludedPermissions(), want.IncludedPermissions) {
				t.Errorf("deploy.sh runs %s; the emulated role is %v, %v", c, got.GetIncludedPermissions(), err)
			}
		case c.Is("gcloud", "iam", "service-accounts", "create"):
			checked++
			if _, err := target.Clients.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{
				Name: "projects/" + project + "/serviceAccounts/" + c.Args[4] + "@" + project + ".iam.gserviceaccount.com"}); err != nil {
				t.Errorf("deploy.sh runs %s; the account: %v", c, err)
			}
		}
	}
	if checked < 30 {
		t.Fatalf("checked %d commands of the listing, want the roles, accounts and bindings (30 or more)", checked)
	}
	if err := deployreplay.Deploy(ctx, target, &cfg); err != nil {
		t.Fatalf("deploy again: %v", err)
	}
	again, _ := emu.ResourceManager.Policy(project)
	pol.Etag, again.Etag = nil, nil
	if !proto.Equal(pol, again) {
		t.Errorf("deploy again changed the project policy:\n%v\nthen\n%v", pol, again)
	}
}

// TestReplayRefusesWhatItDoesNotKnow: a command deploy.sh might start
// printing that the replay neither models nor skips fails it loudly, in a
// block's branch too; so does a block without its end marker.
func TestReplayRefusesWhatItDoesNotKnow(t *testing.T) {
	const project = "replay-proj"
	_, target := world(t, project)
	cmd := func(args ...string) deploy.Step {
		return deploy.Step{Command: deploy.Command{Args: args, Line: strings.Join(args, " ")}}
	}
	note := func(n string) deploy.Step { return deploy.Step{Note: n} }
	unknown := cmd("gcloud", "compute", "networks", "create", "x", "--project="+project)
	describe := cmd("gcloud", "iam", "service-accounts", "describe", "some-job@"+project+".iam.gserviceaccount.com", "--project="+project)
	for name, steps := range map[string][]deploy.Step{
		"top level":    {unknown},
		"in a branch":  {note("x: does it exist?"), describe, note("x: if missing"), unknown, note("x: if present"), note("x: end")},
		"without end":  {note("x: does it exist?"), describe, note("x: if missing")},
		"skipped with": {note("d: does it exist?"), note("d: if missing"), unknown, note("d: end")},
	} {
		err := deployreplay.Replay(context.Background(), target, steps)
		if err == nil {
			t.Errorf("%s: replay accepted it", name)
			continue
		}
		if name != "without end" && !strings.Contains(err.Error(), "compute networks create") {
			t.Errorf("%s: %v, want it to name the command", name, err)
		}
	}
}

// TestReplayPicksTheBranch: the describe's answer picks the branch: a
// missing account is created, a present one is left to the update branch.
func TestReplayPicksTheBranch(t *testing.T) {
	const project = "replay-proj"
	emu, target := world(t, project)
	email := "some-job@" + project + ".iam.gserviceaccount.com"
	cmd := func(args ...string) deploy.Step {
		return deploy.Step{Command: deploy.Command{Args: args, Line: strings.Join(args, " ")}}
	}
	note := func(n string) deploy.Step { return deploy.Step{Note: n} }
	steps := []deploy.Step{
		note("sa: does it exist?"),
		cmd("gcloud", "iam", "service-accounts", "describe", email, "--project="+project),
		note("sa: if missing"),
		cmd("gcloud", "iam", "service-accounts", "create", "some-job", "--project="+project, "--display-name=a job"),
		note("sa: if present"),
		cmd("gcloud", "projects", "add-iam-policy-binding", project, "--member=serviceAccount:"+email, "--role=roles/viewer", "--condition=None", "--quiet"),
		note("sa: end"),
	}
	ctx := context.Background()
	bound := func() bool {
		p, _ := emu.ResourceManager.Policy(project)
		return slices.ContainsFunc(p.GetBindings(), func(b *iampb.Binding) bool { return b.GetRole() == "roles/viewer" })
	}
	if err := deployreplay.Replay(ctx, target, steps); err != nil {
		t.Fatal(err)
	}
	if bound() {
		t.Error("first replay ran the update branch")
	}
	if err := deployreplay.Replay(ctx, target, steps); err != nil {
		t.Fatalf("second replay: %v (the create branch again?)", err)
	}
	if !bound() {
		t.Error("second replay did not run the update branch")
	}
}
