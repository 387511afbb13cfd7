package emulator_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestPolicyVersionViews pins getIamPolicy's policy versions on every
// resource with an allow policy the emulator serves (a project, a secret,
// a service account, a Cloud Run service, a Compute disk): a policy with a conditional binding read without
// requestedPolicyVersion 3 is a version-1 view — the binding's role
// suffixed "_withcond_<hash>", no condition — which cannot be written
// back; read at version 3 it comes whole and a change written with
// version 3 keeps the condition.
func TestPolicyVersionViews(t *testing.T) {
	const project = "coopguard-demo"
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	emu.ResourceManager.SeedProject(project)
	emu.SecretManager.SeedSecret(project, "anthropic-api-key", []byte("sk-ONE"))
	account := emu.IAMAdmin.SeedServiceAccount(project, "sandbox-claude")
	ctx := context.Background()
	op, err := emu.Clients(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = op.Close() })

	type service struct {
		name string
		role string // a role that can be bound on the resource
		get  func(ctx context.Context, c *gcp.Clients, version int32) (*iampb.Policy, error)
		set  func(ctx context.Context, c *gcp.Clients, p *iampb.Policy) (*iampb.Policy, error)
	}
	opts := func(v int32) *iampb.GetPolicyOptions {
		if v == 0 {
			return nil
		}
		return &iampb.GetPolicyOptions{RequestedPolicyVersion: v}
	}
	projectRes := "projects/" + project
	secretRes := "projects/" + project + "/secrets/anthropic-api-key"
	accountRes := "projects/" + project + "/serviceAccounts/" + account
	services := []service{
		{"project", "roles/viewer",
			func(ctx context.Context, c *gcp.Clients, v int32) (*iampb.Policy, error) {
				return c.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: projectRes, Options: opts(v)})
			},
			func(ctx context.Context, c *gcp.Clients, p *iampb.Policy) (*iampb.Policy, error) {
				return c.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: projectRes, Policy: p})
			}},
		{"secret", "roles/secretmanager.secretAccessor",
			func(ctx context.Context, c *gcp.Clients, v int32) (*iampb.Policy, error) {
				return c.Secrets.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: secretRes, Options: opts(v)})
			},
			func(ctx context.Context, c *gcp.Clients, p *iampb.Policy) (*iampb.Policy, error) {
				return c.Secrets.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: secretRes, Policy: p})
			}},
		{"service account", "roles/iam.serviceAccountUser",
			func(ctx context.Context, c *gcp.Clients, v int32) (*iampb.Policy, error) {
				p, err := c.IAMAdmin.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: accountRes, Options: opts(v)})
				if err != nil {
					return nil, err
				}
				return p.InternalProto, nil
			},
			func(ctx context.Context, c *gcp.Clients, p *iampb.Policy) (*iampb.Policy, error) {
				got, err := c.IAMAdmin.SetIamPolicy(ctx, &admin.SetIamPolicyRequest{Resource: accountRes, Policy: &iam.Policy{InternalProto: p}})
				if err != nil {
					return nil, err
				}
				return got.InternalProto, nil
			}},
	}
	// Cloud Run services and Compute disks, snapshots and images accept
	// conditional bindings too
	// (https://cloud.google.com/iam/help/conditions/resource-policies).
	emu.Run.SeedService(project, "us-central1", "coopguard-status", nil)
	serviceRes := "projects/" + project + "/locations/us-central1/services/coopguard-status"
	emu.Compute.SeedInstance(project, "us-central1-a", &computepb.Instance{Name: proto.String("vm")})
	services = append(services,
		service{"cloud run service", "roles/run.invoker",
			func(ctx context.Context, c *gcp.Clients, v int32) (*iampb.Policy, error) {
				return c.Services.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: serviceRes, Options: opts(v)})
			},
			func(ctx context.Context, c *gcp.Clients, p *iampb.Policy) (*iampb.Policy, error) {
				return c.Services.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: serviceRes, Policy: p})
			}},
		service{"compute disk", "roles/compute.storageAdmin",
			func(ctx context.Context, c *gcp.Clients, v int32) (*iampb.Policy, error) {
				req := &computepb.GetIamPolicyDiskRequest{Project: project, Zone: "us-central1-a", Resource: "vm"}
				if v != 0 {
					req.OptionsRequestedPolicyVersion = proto.Int32(v)
				}
				p, err := c.Disks.GetIamPolicy(ctx, req)
				return fromCompute(p), err
			},
			func(ctx context.Context, c *gcp.Clients, p *iampb.Policy) (*iampb.Policy, error) {
				got, err := c.Disks.SetIamPolicy(ctx, &computepb.SetIamPolicyDiskRequest{Project: project, Zone: "us-central1-a", Resource: "vm",
					ZoneSetPolicyRequestResource: &computepb.ZoneSetPolicyRequest{Policy: toCompute(p)}})
				return fromCompute(got), err
			}},
	)
	cond := &expr.Expr{Title: "until 2027", Expression: `request.time < timestamp("2027-01-01T00:00:00Z")`}
	for _, s := range services {
		t.Run(s.name, func(t *testing.T) {
			cur, err := s.get(ctx, op, 3)
			if err != nil {
				t.Fatal(err)
			}
			if cur.GetVersion() != 1 {
				t.Errorf("a policy without conditions read at version 3 is version %d, want 1", cur.GetVersion())
			}
			// Set at version 3 without conditions, it is answered as
			// version 1 (the recorded real setIamPolicy).
			cur.Version = 3
			cur.Bindings = append(cur.Bindings, &iampb.Binding{Role: s.role, Members: []string{"user:always@example.com"}})
			if cur, err = s.set(ctx, op, cur); err != nil {
				t.Fatal(err)
			}
			if cur.GetVersion() != 1 {
				t.Errorf("set at version 3 without conditions answers version %d, want 1", cur.GetVersion())
			}
			cur.Version = 3
			cur.Bindings = append(cur.Bindings,
				&iampb.Binding{Role: s.role, Members: []string{"user:temp@example.com"}, Condition: proto.Clone(cond).(*expr.Expr)})
			if set, err := s.set(ctx, op, cur); err != nil || set.GetVersion() != 3 {
				t.Fatalf("set with a condition = %v, %v; want version 3", set, err)
			}

			for _, v := range []int32{0, 1} {
				view, err := s.get(ctx, op, v)
				if err != nil {
					t.Fatal(err)
				}
				if view.GetVersion() != 1 || len(view.GetEtag()) == 0 {
					t.Errorf("requested %d: version %d etag %q, want version 1 with an etag", v, view.GetVersion(), view.GetEtag())
				}
				var withcond, plain *iampb.Binding
				for _, b := range view.GetBindings() {
					if b.GetCondition() != nil {
						t.Errorf("requested %d: binding %v keeps its condition", v, b)
					}
					switch {
					case strings.HasPrefix(b.GetRole(), s.role+"_withcond_") && slices.Contains(b.GetMembers(), "user:temp@example.com"):
						withcond = b
					case b.GetRole() == s.role && slices.Contains(b.GetMembers(), "user:always@example.com"):
						plain = b
					}
				}
				if withcond == nil || plain == nil {
					t.Fatalf("requested %d: view %v, want the conditional binding as %s_withcond_… and the plain one as is", v, view, s.role)
				}
				// The view cannot be written back, even with a new member.
				view.Bindings = append(view.Bindings, &iampb.Binding{Role: "roles/browser", Members: []string{"user:new@example.com"}})
				if _, err := s.set(ctx, op, view); status.Code(err) != codes.InvalidArgument {
					t.Errorf("requested %d: writing the view back = %v, want INVALID_ARGUMENT", v, err)
				}
				// Nor, under its etag, at version 1 without the conditional binding.
				view.Bindings = slices.DeleteFunc(view.Bindings, func(b *iampb.Binding) bool { return b == withcond })
				if _, err := s.set(ctx, op, view); status.Code(err) != codes.InvalidArgument {
					t.Errorf("requested %d: writing version 1 over conditions = %v, want INVALID_ARGUMENT", v, err)
				}
			}

			full, err := s.get(ctx, op, 3)
			if err != nil {
				t.Fatal(err)
			}
			if full.GetVersion() != 3 || !slices.ContainsFunc(full.GetBindings(), func(b *iampb.Binding) bool {
				return b.GetRole() == s.role && proto.Equal(b.GetCondition(), cond)
			}) {
				t.Fatalf("read at version 3 = %v, want version 3 with the condition", full)
			}
			full.Bindings = append(full.Bindings, &iampb.Binding{Role: "roles/browser", Members: []string{"user:new@example.com"}})
			if s.name != "project" {
				full.Bindings[len(full.Bindings)-1].Role = s.role
			}
			if _, err := s.set(ctx, op, full); err != nil {
				t.Fatalf("writing back the version-3 read: %v", err)
			}
			after, err := s.get(ctx, op, 3)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(after.GetBindings(), func(b *iampb.Binding) bool { return proto.Equal(b.GetCondition(), cond) }) {
				t.Errorf("after a version-3 write the condition is gone: %v", after)
			}
		})
	}
}

// fromCompute is a Compute policy as the IAM API's Policy, for the checks
// every allow policy shares.
func fromCompute(p *computepb.Policy) *iampb.Policy {
	if p == nil {
		return nil
	}
	out := &iampb.Policy{Version: p.GetVersion(), Etag: []byte(p.GetEtag())}
	for _, b := range p.GetBindings() {
		ib := &iampb.Binding{Role: b.GetRole(), Members: b.GetMembers()}
		if c := b.GetCondition(); c != nil {
			ib.Condition = &expr.Expr{Title: c.GetTitle(), Description: c.GetDescription(), Expression: c.GetExpression(), Location: c.GetLocation()}
		}
		out.Bindings = append(out.Bindings, ib)
	}
	return out
}

// toCompute is the reverse of fromCompute.
func toCompute(p *iampb.Policy) *computepb.Policy {
	out := &computepb.Policy{Version: proto.Int32(p.GetVersion())}
	if len(p.GetEtag()) > 0 {
		out.Etag = proto.String(string(p.GetEtag()))
	}
	for _, b := range p.GetBindings() {
		cb := &computepb.Binding{Role: proto.String(b.GetRole()), Members: b.GetMembers()}
		if c := b.GetCondition(); c != nil {
			cb.Condition = &computepb.Expr{Title: proto.String(c.GetTitle()), Description: proto.String(c.GetDescription()),
				Expression: proto.String(c.GetExpression()), Location: proto.String(c.GetLocation())}
		}
		out.Bindings = append(out.Bindings, cb)
	}
	return out
}
