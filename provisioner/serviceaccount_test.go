package provisioner_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// accountID is GCP's service account id syntax.
var accountID = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)

func TestServiceAccountID(t *testing.T) {
	long := "a-very-long-sandbox-name-for-the-nightly-refactoring-agents"
	tests := []struct {
		name, sandbox, want string
		err                 bool
	}{
		{"short name", "b", "sandbox-b", false},
		{"typical", "claude-sandbox", "sandbox-claude-sandbox", false},
		{"exactly 30", "abcdefghijklmnopqrstuv", "sandbox-abcdefghijklmnopqrstuv", false},
		{"long: cut and hashed", long, "", false},
		{"uppercase", "Claude", "", true},
		{"starts with a digit", "1sandbox", "", true},
		{"empty", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := provisioner.ServiceAccountID(tt.sandbox)
			if tt.err {
				if err == nil || !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), tt.sandbox) {
					t.Errorf("ServiceAccountID(%q) = %q, %v; want an error naming the name", tt.sandbox, got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !accountID.MatchString(got) {
				t.Errorf("ServiceAccountID(%q) = %q, which GCP refuses", tt.sandbox, got)
			}
			if tt.want != "" && got != tt.want {
				t.Errorf("ServiceAccountID(%q) = %q, want %q", tt.sandbox, got, tt.want)
			}
			again, _ := provisioner.ServiceAccountID(tt.sandbox)
			if again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
	// Two long names that share their first characters get two accounts.
	a, _ := provisioner.ServiceAccountID(long + "-one")
	b, _ := provisioner.ServiceAccountID(long + "-two")
	if a == b || !strings.HasPrefix(a, "sandbox-a-very-long") {
		t.Errorf("long names gave %q and %q; want distinct ids that keep the name's start", a, b)
	}
}

func TestSandboxAccount(t *testing.T) {
	cfg := config.Demo()
	tests := []struct {
		name, sandbox, want string
		own                 bool
	}{
		{"configured sandbox keeps cloud.gcp.service_account", "", cfg.Cloud.GCP.ServiceAccount, false},
		{"vm.name given explicitly", cfg.VM.Name, cfg.Cloud.GCP.ServiceAccount, false},
		{"another sandbox gets its own", "sandbox-b", "sandbox-sandbox-b@coopguard-local.iam.gserviceaccount.com", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, err := provisioner.NewSandbox(&cfg, tt.sandbox, "")
			if err != nil {
				t.Fatal(err)
			}
			if sb.ServiceAccount != tt.want || sb.OwnAccount != tt.own {
				t.Errorf("account = %s (own %v), want %s (own %v)", sb.ServiceAccount, sb.OwnAccount, tt.want, tt.own)
			}
		})
	}
}

// TestConvergeGivesEachSandboxItsOwnAccount: a sandbox made with another
// name runs as an account of its own, which Provision creates and grants
// only log and metric writing on the project, read access on its secrets
// and canary, and lets coopguard's provisioner and responder act as. The
// emulated IAM proves the blast radius: that account reads its own canary
// and not the configured sandbox's.
func TestConvergeGivesEachSandboxItsOwnAccount(t *testing.T) {
	emu, p := setup(t)
	ctx := context.Background()
	cfg := config.Demo()
	project := cfg.Cloud.GCP.Project
	emu.SecretManager.SeedSecret(project, "anthropic-api-key", []byte("sk-REAL-KEY"))
	if _, err := p.Converge(ctx, provisioner.Options{}); err != nil {
		t.Fatal(err)
	}
	rep, err := p.Converge(ctx, provisioner.Options{Name: "sandbox-b"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Resources {
		if r.Status == provisioner.StatusFailed {
			t.Errorf("%s/%s failed: %s", r.Kind, r.Name, r.Error)
		}
	}
	own := "sandbox-sandbox-b@" + project + ".iam.gserviceaccount.com"
	member := "serviceAccount:" + own
	op, err := emu.Clients(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Close() })
	if _, err := op.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: "projects/" + project + "/serviceAccounts/" + own}); err != nil {
		t.Fatalf("the sandbox's own account was not created: %v", err)
	}
	vm, ok := emu.Compute.Instance(project, cfg.Cloud.GCP.Zone, "sandbox-b")
	if !ok || vm.GetServiceAccounts()[0].GetEmail() != own {
		t.Fatalf("VM sandbox-b runs as %v, want %s", vm.GetServiceAccounts(), own)
	}

	// coopguard's jobs may act on both sandboxes' VMs: the condition that
	// named the configured one (deploy) names sandbox-b too.
	pol, _ := emu.ResourceManager.Policy(project)
	for _, name := range []string{cfg.VM.Name, "sandbox-b"} {
		if missing := provisioner.SandboxAccessMissing(pol, project, cfg.Cloud.GCP.Zone, name); len(missing) > 0 {
			t.Errorf("sandbox %s is not named in the sandbox condition of %v", name, missing)
		}
	}
	if missing := provisioner.SandboxAccessMissing(pol, project, cfg.Cloud.GCP.Zone, "sandbox-c"); len(missing) != len(config.SandboxRoles) {
		t.Errorf("a sandbox never provisioned is named for %d jobs", len(config.SandboxRoles)-len(missing))
	}

	// Project level: exactly log and metric writing.
	var roles []string
	for _, b := range pol.GetBindings() {
		if slices.Contains(b.GetMembers(), member) {
			roles = append(roles, b.GetRole())
		}
	}
	slices.Sort(roles)
	if !slices.Equal(roles, provisioner.SandboxProjectRoles) {
		t.Errorf("project roles of %s = %v, want %v", own, roles, provisioner.SandboxProjectRoles)
	}
	// Who may act as it: the provisioner and the responder, on its policy.
	users, _ := emu.IAM.Policy("projects/" + project + "/serviceAccounts/" + own)
	for _, who := range []string{emulator.Provisioner(project), emulator.Responder(project)} {
		if !slices.ContainsFunc(users.GetBindings(), func(b *iampb.Binding) bool {
			return b.GetRole() == "roles/iam.serviceAccountUser" && slices.Contains(b.GetMembers(), "serviceAccount:"+who)
		}) {
			t.Errorf("%s may not act as %s: policy %v", who, own, users)
		}
	}
	// Who may disable and enable it: the responder and the restorer, by
	// their identity roles on its policy, not on the project.
	for who, role := range map[string]string{emulator.Responder(project): config.IdentityRoles[config.AccountResponder],
		config.AccountEmail(config.AccountRestorer, project): config.IdentityRoles[config.AccountRestorer]} {
		if !slices.ContainsFunc(users.GetBindings(), func(b *iampb.Binding) bool {
			return b.GetRole() == "projects/"+project+"/roles/"+role && slices.Contains(b.GetMembers(), "serviceAccount:"+who)
		}) {
			t.Errorf("%s lacks %s on %s: policy %v", who, role, own, users)
		}
	}

	// Its own key: Provision created it empty; the operator adds the key.
	ownKey := cfg.SandboxSecrets("sandbox-b")[0]
	if _, err := op.Secrets.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent: "projects/" + project + "/secrets/" + ownKey, Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-B-KEY")},
	}); err != nil {
		t.Fatalf("add sandbox-b's key to %s: %v", ownKey, err)
	}
	// coopguard's jobs may act on that secret: every managed-secrets
	// condition deploy wrote names it beside the configured ones.
	conditions := 0
	for _, b := range pol.GetBindings() {
		if !strings.HasPrefix(b.GetCondition().GetTitle(), config.SecretsConditionPrefix) {
			continue
		}
		conditions++
		if x := b.GetCondition().GetExpression(); !config.SecretNamed(x, resourcemanager.NumberOf(project), ownKey) || !config.SecretNamed(x, resourcemanager.NumberOf(project), "anthropic-api-key") {
			t.Errorf("condition %s is %s, want it to name anthropic-api-key and %s", b.GetCondition().GetTitle(), x, ownKey)
		}
	}
	if conditions == 0 {
		t.Errorf("no %s* binding in the project policy: deploy's were not found", config.SecretsConditionPrefix)
	}

	// The blast radius, through the emulated IAM: its own key and canary,
	// never the configured sandbox's.
	sb, err := emu.ClientsAs(ctx, project, own)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	reads := []struct {
		secret string
		want   codes.Code
	}{
		{ownKey, codes.OK},
		{"anthropic-api-key", codes.PermissionDenied},
		{cfg.CanarySecret("sandbox-b"), codes.OK},
		{cfg.CanarySecret(cfg.VM.Name), codes.PermissionDenied},
	}
	for _, tt := range reads {
		_, err := sb.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/" + project + "/secrets/" + tt.secret + "/versions/latest"})
		if status.Code(err) != tt.want {
			t.Errorf("%s reads %s: %v, want %v", own, tt.secret, err, tt.want)
		}
	}

	before := emu.Faults.TotalMutations()
	rep, err = p.Converge(ctx, provisioner.Options{Name: "sandbox-b"})
	if err != nil {
		t.Fatal(err)
	}
	if d := emu.Faults.TotalMutations() - before; d != 0 {
		t.Errorf("second converge of sandbox-b made %d mutating calls", d)
	}
	for _, r := range rep.Resources {
		if r.Action != provisioner.None {
			t.Errorf("second converge: %s/%s %s (%s)", r.Kind, r.Name, r.Action, r.Detail)
		}
	}
}

// TestSecretsAccessSurvivesRedeploy: deploy/deploy.sh run again binds each
// job's Secret Manager role under its own (configured secrets only)
// condition beside the one Provision widened; converging the other
// sandbox again widens that one too and keeps a single binding per job.
func TestSecretsAccessSurvivesRedeploy(t *testing.T) {
	emu, p := setup(t)
	ctx := context.Background()
	cfg := config.Demo()
	project := cfg.Cloud.GCP.Project
	if _, err := p.Converge(ctx, provisioner.Options{Name: "sandbox-b"}); err != nil {
		t.Fatal(err)
	}
	count := func() (n int, narrow int) {
		pol, _ := emu.ResourceManager.Policy(project)
		for _, b := range pol.GetBindings() {
			if strings.HasPrefix(b.GetCondition().GetTitle(), config.SecretsConditionPrefix) {
				n++
				if !config.SecretNamed(b.GetCondition().GetExpression(), resourcemanager.NumberOf(project), cfg.SandboxSecrets("sandbox-b")[0]) {
					narrow++
				}
			}
		}
		return n, narrow
	}
	widened, narrow := count()
	if widened == 0 || narrow != 0 {
		t.Fatalf("after provision: %d managed-secrets bindings, %d not naming sandbox-b's secret", widened, narrow)
	}
	if err := emu.DeployConfig(&cfg); err != nil {
		t.Fatal(err)
	}
	if n, narrow := count(); n != 2*widened || narrow != widened {
		t.Fatalf("after deploy again: %d bindings, %d narrow; want %d and %d", n, narrow, 2*widened, widened)
	}
	if _, err := p.Converge(ctx, provisioner.Options{Name: "sandbox-b"}); err != nil {
		t.Fatal(err)
	}
	if n, narrow := count(); n != widened || narrow != 0 {
		t.Errorf("after provision again: %d bindings, %d narrow; want %d, all naming sandbox-b's secret", n, narrow, widened)
	}
}
