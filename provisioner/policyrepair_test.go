package provisioner_test

import (
	"context"
	"slices"
	"testing"

	"cloud.google.com/go/iam"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestConvergeRepairsResourcePolicies: someone removes the binding
// Provision made on a secret's or a sandbox account's own policy and adds
// a conditional binding of their own; the next converge puts the binding
// back and the conditional one survives whole. GCP answers a policy with
// conditions read without requestedPolicyVersion 3 as a version-1 view
// that cannot be written back, so this fails unless the repair reads and
// writes version 3.
func TestConvergeRepairsResourcePolicies(t *testing.T) {
	cfg := config.Demo()
	project := cfg.Cloud.GCP.Project
	account := "projects/" + project + "/serviceAccounts/sandbox-sandbox-b@" + project + ".iam.gserviceaccount.com"
	secret := "projects/" + project + "/secrets/anthropic-api-key"
	tests := []struct {
		name    string
		sandbox string
		kind    string // the resource Provision reports repaired
		role    string // the binding removed, and the role of the conditional one
		member  string
		get     func(context.Context, *gcp.Clients) (*iampb.Policy, error)
		set     func(context.Context, *gcp.Clients, *iampb.Policy) error
		stored  func(*emulator.Emulator) *iampb.Policy
	}{
		{"secret accessor", "", "secret-access", "roles/secretmanager.secretAccessor", "serviceAccount:" + cfg.Cloud.GCP.ServiceAccount,
			func(ctx context.Context, c *gcp.Clients) (*iampb.Policy, error) {
				return c.Secrets.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: secret, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
			},
			func(ctx context.Context, c *gcp.Clients, p *iampb.Policy) error {
				_, err := c.Secrets.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: secret, Policy: p})
				return err
			},
			func(emu *emulator.Emulator) *iampb.Policy { return emu.SecretManager.Policy(secret) }},
		{"account user", "sandbox-b", "account-users", "roles/iam.serviceAccountUser", "serviceAccount:" + emulator.Provisioner(project),
			func(ctx context.Context, c *gcp.Clients) (*iampb.Policy, error) {
				p, err := c.IAMAdmin.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: account, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
				if err != nil {
					return nil, err
				}
				return p.InternalProto, nil
			},
			func(ctx context.Context, c *gcp.Clients, p *iampb.Policy) error {
				_, err := c.IAMAdmin.SetIamPolicy(ctx, &admin.SetIamPolicyRequest{Resource: account, Policy: &iam.Policy{InternalProto: p}})
				return err
			},
			func(emu *emulator.Emulator) *iampb.Policy { p, _ := emu.IAM.Policy(account); return p }},
	}
	cond := &expr.Expr{Title: "on-call until 2027", Expression: `request.time < timestamp("2027-01-01T00:00:00Z")`}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			emu, p := setup(t)
			ctx := context.Background()
			emu.SecretManager.SeedSecret(project, "anthropic-api-key", []byte("sk-REAL-KEY"))
			if _, err := p.Converge(ctx, provisioner.Options{Name: tt.sandbox}); err != nil {
				t.Fatal(err)
			}
			op, err := emu.Clients(ctx, project)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = op.Close() })
			pol, err := tt.get(ctx, op)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range pol.Bindings {
				if b.GetRole() == tt.role {
					b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return m == tt.member })
				}
			}
			pol.Bindings = slices.DeleteFunc(pol.Bindings, func(b *iampb.Binding) bool { return len(b.Members) == 0 })
			pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: tt.role, Members: []string{"user:oncall@example.com"}, Condition: proto.Clone(cond).(*expr.Expr)})
			pol.Version = 3
			if err := tt.set(ctx, op, pol); err != nil {
				t.Fatal(err)
			}

			rep, err := p.Converge(ctx, provisioner.Options{Name: tt.sandbox})
			if err != nil {
				t.Fatal(err)
			}
			repaired := false
			for _, r := range rep.Resources {
				if r.Status == provisioner.StatusFailed {
					t.Errorf("%s/%s failed: %s", r.Kind, r.Name, r.Error)
				}
				repaired = repaired || (r.Kind == tt.kind && r.Action == provisioner.Update)
			}
			if !repaired {
				t.Errorf("converge did not report %s repaired", tt.kind)
			}
			got := tt.stored(emu)
			if !slices.ContainsFunc(got.GetBindings(), func(b *iampb.Binding) bool {
				return b.GetRole() == tt.role && b.GetCondition() == nil && slices.Contains(b.GetMembers(), tt.member)
			}) {
				t.Errorf("policy after converge = %v, want %s for %s back", got, tt.role, tt.member)
			}
			if got.GetVersion() != 3 || !slices.ContainsFunc(got.GetBindings(), func(b *iampb.Binding) bool {
				return b.GetRole() == tt.role && proto.Equal(b.GetCondition(), cond) && slices.Equal(b.GetMembers(), []string{"user:oncall@example.com"})
			}) {
				t.Errorf("policy after converge = %v, want the conditional binding intact at version 3", got)
			}
		})
	}
}
