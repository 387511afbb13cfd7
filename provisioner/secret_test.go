package provisioner_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
)

// decoyShape is an Anthropic API key's shape.
var decoyShape = regexp.MustCompile(`^sk-ant-api03-[A-Za-z0-9_-]{93}AA$`)

// TestConvergeGrantsSecretAccessAndPlantsCanary pins what Provision does
// for the sandbox's secrets: the sandbox's account may read the managed
// secret and the canary through bindings on each secret (the project's
// policy is never touched), bindings others made are kept, the canary
// holds one key-shaped value that never appears in the report, and a
// second converge changes nothing.
func TestConvergeGrantsSecretAccessAndPlantsCanary(t *testing.T) {
	emu, p := setup(t)
	ctx := context.Background()
	cfg := config.Demo()
	project := cfg.Cloud.GCP.Project
	member := "serviceAccount:" + cfg.Cloud.GCP.ServiceAccount
	managed := "projects/" + project + "/secrets/anthropic-api-key"
	canary := "projects/" + project + "/secrets/" + cfg.CanarySecret(cfg.VM.Name)
	emu.SecretManager.SeedSecret(project, "anthropic-api-key", []byte("sk-REAL-KEY"))
	operator := &iampb.Binding{Role: "roles/secretmanager.secretVersionManager", Members: []string{"user:oncall@example.com"}}
	if _, err := emu.SecretManager.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: managed, Policy: &iampb.Policy{Bindings: []*iampb.Binding{operator}}}); err != nil {
		t.Fatal(err)
	}
	projectBefore, _ := emu.ResourceManager.Policy(project)

	rep, err := p.Converge(ctx, provisioner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{managed, canary} {
		pol := emu.SecretManager.Policy(secret)
		if !slices.ContainsFunc(pol.GetBindings(), func(b *iampb.Binding) bool {
			return b.GetRole() == "roles/secretmanager.secretAccessor" && slices.Equal(b.GetMembers(), []string{member})
		}) {
			t.Errorf("%s policy = %v, want secretAccessor for %s", secret, pol, member)
		}
	}
	if pol := emu.SecretManager.Policy(managed); !slices.ContainsFunc(pol.GetBindings(), func(b *iampb.Binding) bool { return b.GetRole() == operator.Role }) {
		t.Errorf("the operator's binding on the managed secret was dropped: %v", pol)
	}
	if after, _ := emu.ResourceManager.Policy(project); len(after.GetBindings()) != len(projectBefore.GetBindings()) {
		t.Errorf("project policy changed: %v → %v; access must be granted on the secrets only", projectBefore, after)
	}
	vs := emu.SecretManager.Versions(canary)
	if len(vs) != 1 {
		t.Fatalf("canary versions = %v, want exactly one", vs)
	}
	got, err := emu.SecretManager.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: vs[0].GetName()})
	if err != nil {
		t.Fatal(err)
	}
	decoy := string(got.GetPayload().GetData())
	if !decoyShape.MatchString(decoy) {
		t.Errorf("decoy value is not shaped like an Anthropic key (len %d)", len(decoy))
	}
	sec, _ := emu.SecretManager.Secret(canary)
	for k, v := range sec.GetLabels() {
		if strings.Contains(k+v, "canary") || strings.Contains(k+v, "decoy") {
			t.Errorf("canary label %s=%s gives it away", k, v)
		}
	}
	b, _ := json.Marshal(rep)
	if strings.Contains(string(b), decoy) || strings.Contains(string(b), "sk-REAL-KEY") {
		t.Error("a secret value reached the report")
	}

	before := emu.Faults.TotalMutations()
	rep, err = p.Converge(ctx, provisioner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := emu.Faults.TotalMutations() - before; d != 0 {
		t.Errorf("second converge made %d mutating calls", d)
	}
	for _, r := range rep.Resources {
		if r.Action != provisioner.None {
			t.Errorf("second converge: %s/%s %s (%s)", r.Kind, r.Name, r.Action, r.Detail)
		}
	}
	if n := len(emu.SecretManager.Versions(canary)); n != 1 {
		t.Errorf("canary has %d versions after a second converge, want 1", n)
	}
}

func TestCanaryIsPerSandboxAndCanBeOff(t *testing.T) {
	tests := []struct {
		name    string
		sandbox string
		off     bool
		want    string // the canary secret id, "" for none
	}{
		{"default sandbox", "", false, "anthropic-admin-api-key-claude-sandbox"},
		{"another sandbox", "sandbox-b", false, "anthropic-admin-api-key-sandbox-b"},
		{"off", "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Demo()
			cfg.Coopguard.Canary.Enabled = !tt.off
			s, err := provisioner.NewSandbox(&cfg, tt.sandbox, "")
			if err != nil {
				t.Fatal(err)
			}
			if s.Canary != tt.want {
				t.Errorf("Canary = %q, want %q", s.Canary, tt.want)
			}
			var kinds []string
			for _, r := range s.Resources() {
				if r.Kind() == "canary-secret" || (r.Kind() == "secret-access" && !slices.Contains(s.Secrets, r.Name())) {
					kinds = append(kinds, provisioner.ID(r))
				}
			}
			want := []string{"canary-secret/" + tt.want, "secret-access/" + tt.want}
			if tt.want == "" {
				want = nil
			}
			if !slices.Equal(kinds, want) {
				t.Errorf("canary resources = %v, want %v", kinds, want)
			}
		})
	}
}
