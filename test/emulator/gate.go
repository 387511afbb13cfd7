package emulator

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/logging/apiv2/loggingpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// Operator is the person at the keyboard of the emulated GCP: owner of
// every project through a binding at the organisation above them (so a
// project's own policy, which tests set freely, does not show it).
const Operator = "operator@example.com"

// newGate builds the emulated IAM and the gate every fake is served
// through: identity, permissions, audit entries.
func (e *Emulator) newGate() {
	e.IAM = iam.New(e.Clock.Now)
	e.IAM.GrantInherited(iam.Member(Operator), "roles/owner")
	rm := e.ResourceManager
	e.IAM.SetProjectIDs(rm.IDOf)
	// Folders hold policies the projects under them inherit.
	e.IAM.SetParents(rm.ParentOf)
	e.IAM.AddSource(func(resource string) (*iampb.Policy, bool) {
		if !strings.HasPrefix(resource, "folders/") || strings.Count(resource, "/") != 1 {
			return nil, false
		}
		return rm.FolderPolicySnapshot(resource)
	})
	// Billing accounts hold their own policies (roles/billing.user).
	e.IAM.AddSource(func(resource string) (*iampb.Policy, bool) {
		if !strings.HasPrefix(resource, "billingAccounts/") || strings.Count(resource, "/") != 1 {
			return nil, false
		}
		return e.Billing.PolicySnapshot(resource)
	})
	e.IAM.AddSource(func(resource string) (*iampb.Policy, bool) {
		id, ok := projectOnly(resource)
		if !ok {
			return nil, false
		}
		return rm.PolicySnapshot(id)
	})
	e.Gate = &audit.Gate{
		IAM:           e.IAM,
		Now:           e.Clock.Now,
		ProjectID:     rm.IDOf,
		ProjectNumber: resourcemanager.NumberOf,
		AuditConfigs: func(project string) []*iampb.AuditConfig {
			p, ok := rm.PolicySnapshot(project)
			if !ok {
				return nil
			}
			return p.GetAuditConfigs()
		},
	}
	// A VM's calls come from its network while it runs (audit.Gate.origin).
	e.Gate.Instance = func(name string) (*computepb.Instance, bool) {
		var p, z, n string
		if seg := strings.Split(name, "/"); len(seg) == 6 && seg[0] == "projects" && seg[2] == "zones" && seg[4] == "instances" {
			p, z, n = seg[1], seg[3], seg[5]
		} else {
			return nil, false
		}
		return e.Compute.Instance(p, z, n)
	}
	// Secrets carry their own policies.
	e.IAM.AddSource(func(resource string) (*iampb.Policy, bool) {
		if !isSecret(resource) {
			return nil, false
		}
		p := e.SecretManager.Policy(resource)
		return p, p != nil
	})
	// TestIamPermissions on a secret answers what its caller holds there.
	e.SecretManager.SetPermissionTester(func(ctx context.Context, secret string, perms []string) ([]string, error) {
		email, _ := iam.PrincipalFrom(ctx)
		var held []string
		for _, p := range perms {
			if e.IAM.Allowed(iam.Member(email), p, secret) {
				held = append(held, p)
			}
		}
		return held, nil
	})
	// Audit entries are stored and routed by the emulated Logging; a
	// sink publishes only if its writer identity may publish to the topic.
	e.Gate.Write = func(ctx context.Context, entry *loggingpb.LogEntry) { e.Logging.Append(ctx, entry) }
	// A disabled account's tokens are refused on every API the gate serves.
	e.Gate.Disabled = e.IAMAdmin.Disabled
	e.Compute.RefuseTokensOf(e.IAMAdmin.Disabled)
	e.Logging.SetAuthorizer(func(_ context.Context, member, permission, resource string) bool {
		return e.IAM.Allowed(member, permission, resource)
	})
}

// isSecret reports whether resource is exactly "projects/<p>/secrets/<s>".
func isSecret(resource string) bool {
	seg := strings.Split(resource, "/")
	return len(seg) == 4 && seg[0] == "projects" && seg[2] == "secrets"
}

// projectOnly returns the project of a resource name that is exactly
// "projects/<id>".
func projectOnly(resource string) (string, bool) {
	var id string
	if n, err := fmt.Sscanf(resource, "projects/%s", &id); n != 1 || err != nil {
		return "", false
	}
	for _, r := range id {
		if r == '/' {
			return "", false
		}
	}
	return id, true
}

// OptionsAs returns client options that act as principal (an email).
func (e *Emulator) OptionsAs(principal string) gcp.Options {
	o := gcp.Emulated(e.ComputeURL, e.GRPCAddr, e.PubSubAddr)
	o.Budgets = gcp.EmulatedGRPC(e.BudgetsAddr)
	o.Limits = &gcp.Unlimited
	o.Identity = principal
	return o
}

// ClientsAs dials the client set for project acting as principal.
func (e *Emulator) ClientsAs(ctx context.Context, project, principal string) (*gcp.Clients, error) {
	return gcp.New(ctx, project, e.OptionsAs(principal))
}
