package emulator

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/type/expr"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/shared/config"
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
	o.Limits = &gcp.Unlimited
	o.Identity = principal
	return o
}

// ClientsAs dials the client set for project acting as principal.
func (e *Emulator) ClientsAs(ctx context.Context, project, principal string) (*gcp.Clients, error) {
	return gcp.New(ctx, project, e.OptionsAs(principal))
}

// Deployment is what deploy/deploy.sh leaves in a project, for Deploy.
type Deployment struct {
	// SandboxAccount is the sandbox VM's service account.
	SandboxAccount string
	// KeySourceCredential, when set, is the secret holding the rotation
	// key source's credential: the rotator gets the key-source role and
	// may read that one secret.
	KeySourceCredential string
	// RevokeCredential, when set, is the secret holding the revocation
	// provider's credential (the Anthropic Admin API key): the responder
	// may read that one secret, and nobody else is granted it.
	RevokeCredential string
	// ManagedSecrets are the secrets coopguard manages (default
	// anthropic-api-key, as deploy.sh): the responder's Secret Manager
	// role is bound under a condition naming them and their versions.
	ManagedSecrets []string
	// Sandbox and Zone name the configured sandbox VM: each job's sandbox
	// role is bound under a condition naming it (and its boot disk).
	Sandbox, Zone string
	// LogsTopic, AlertsTopic and RotationTopic receive from the Logging
	// sink's writer, Monitoring's and Secret Manager's service agents.
	LogsTopic, AlertsTopic, RotationTopic string
}

// Responder is the account HandleAlert and HandleLogEntry run as in
// project.
func Responder(project string) string { return deploy.AccountEmail(deploy.AccountResponder, project) }

// Provisioner is the account Provision runs as in project.
func Provisioner(project string) string {
	return deploy.AccountEmail(deploy.AccountProvisioner, project)
}

// Deploy grants in project what deploy/deploy.sh grants: for every job of
// deploy.Jobs, its custom roles defined from deploy/roles/*.yaml and bound
// to its account (the managed-secrets role under deploy's condition on the
// managed secrets, the key-source role only with a key source, the
// identity role on the sandbox's account) and its Firestore role; the
// sandbox's account itself when it is in project and missing, as deploy.sh
// makes it; actAs on that account for config.ActAsAccounts;
// each credential secret to the one job that reads it; the service agents'
// publisher grants on their topics — and what cloudcoop's own setup gives
// the sandbox's account (log and metric writer).
func (e *Emulator) Deploy(project string, d Deployment) error {
	var bind, conditional []*iampb.Binding
	for _, j := range deploy.Jobs {
		member := iam.Member(deploy.AccountEmail(j.Account, project))
		for _, file := range []string{j.Role, deploy.SecretsRole(j.Role), deploy.KeySourceRole(j.Role), deploy.SandboxRole(j.Role), deploy.IdentityRole(j.Role)} {
			id, ok := deploy.RoleIDs[file]
			if !ok {
				continue
			}
			r, err := deploy.EmbeddedRole(file)
			if err != nil {
				return err
			}
			name := "projects/" + project + "/roles/" + id
			e.IAM.DefineRole(name, r.IncludedPermissions)
			switch file {
			case j.Role:
				bind = append(bind, &iampb.Binding{Role: name, Members: []string{member}})
			case deploy.SecretsRole(j.Role):
				conditional = append(conditional, &iampb.Binding{Role: name, Members: []string{member}, Condition: managedSecrets(project, d.ManagedSecrets, j.Role)})
			case deploy.IdentityRole(j.Role):
				// On the sandbox's own account, never the project.
				if d.SandboxAccount != "" {
					e.IAM.Grant(audit.ServiceAccountResource(d.SandboxAccount), member, name)
				}
			case deploy.SandboxRole(j.Role):
				if d.Sandbox != "" {
					conditional = append(conditional, &iampb.Binding{Role: name, Members: []string{member}, Condition: &expr.Expr{
						Title: config.SandboxConditionTitle, Description: "the sandboxes' own VMs and boot disks",
						Expression: config.SandboxCondition(project, d.Zone, []string{d.Sandbox})}})
				}
			default:
				// Adding a version is checked on the secret (its parent),
				// so the condition names the secrets too.
				if d.KeySourceCredential != "" {
					conditional = append(conditional, &iampb.Binding{Role: name, Members: []string{member}, Condition: managedSecrets(project, d.ManagedSecrets, j.Role)})
				}
			}
		}
		if j.Datastore != "" {
			bind = append(bind, &iampb.Binding{Role: j.Datastore, Members: []string{member}})
		}
	}
	rotator, responder := iam.Member(deploy.AccountEmail(deploy.AccountRotator, project)), iam.Member(Responder(project))
	if d.KeySourceCredential != "" {
		e.IAM.Grant("projects/"+project+"/secrets/"+d.KeySourceCredential, rotator, "roles/secretmanager.secretAccessor")
	}
	if d.RevokeCredential != "" {
		e.IAM.Grant("projects/"+project+"/secrets/"+d.RevokeCredential, responder, "roles/secretmanager.secretAccessor")
	}
	if d.SandboxAccount != "" {
		// deploy.sh makes the sandbox's account when it is in the project
		// and missing, so containment has an account to disable.
		if id, ok := strings.CutSuffix(d.SandboxAccount, "@"+project+".iam.gserviceaccount.com"); ok {
			e.IAMAdmin.SeedServiceAccount(project, id)
		}
		sb := iam.Member(d.SandboxAccount)
		bind = append(bind,
			&iampb.Binding{Role: "roles/logging.logWriter", Members: []string{sb}},
			&iampb.Binding{Role: "roles/monitoring.metricWriter", Members: []string{sb}})
		sa := audit.ServiceAccountResource(d.SandboxAccount)
		for _, a := range config.ActAsAccounts {
			e.IAM.Grant(sa, iam.Member(deploy.AccountEmail(a, project)), "roles/iam.serviceAccountUser")
		}
	}
	num := resourcemanager.NumberOf(project)
	for topic, agent := range map[string]string{
		d.LogsTopic:     "service-" + num + "@gcp-sa-logging.iam.gserviceaccount.com",
		d.AlertsTopic:   "service-" + num + "@gcp-sa-monitoring-notification.iam.gserviceaccount.com",
		d.RotationTopic: "service-" + num + "@gcp-sa-secretmanager.iam.gserviceaccount.com",
	} {
		if topic != "" {
			e.IAM.Grant("projects/"+project+"/topics/"+topic, iam.Member(agent), "roles/pubsub.publisher")
		}
	}
	pol, _ := e.ResourceManager.Policy(project)
	if pol == nil {
		pol = &iampb.Policy{Version: 1}
	}
	for _, b := range bind {
		for _, m := range b.Members {
			addBinding(pol, b.Role, m)
		}
	}
	for _, b := range conditional {
		e.IAM.Precompile(b.GetCondition().GetExpression())
		if !slices.ContainsFunc(pol.Bindings, func(o *iampb.Binding) bool { return proto.Equal(o, b) }) {
			pol.Bindings = append(pol.Bindings, b)
		}
		pol.Version = 3
	}
	e.ResourceManager.SetPolicy(project, pol)
	return nil
}

// managedSecrets is deploy.sh's condition on the managed secrets and their
// versions, by project number as Secret Manager writes resource names.
func managedSecrets(project string, secrets []string, job string) *expr.Expr {
	if len(secrets) == 0 {
		secrets = []string{"anthropic-api-key"}
	}
	return &expr.Expr{Title: config.SecretsConditionTitle(job), Description: config.SecretsConditionDescription,
		Expression: config.SecretsCondition(resourcemanager.NumberOf(project), secrets)}
}

// addBinding adds member to role's unconditional binding in p, as
// `gcloud projects add-iam-policy-binding --condition=None` does: a
// member already there is not added twice.
func addBinding(p *iampb.Policy, role, member string) {
	for _, b := range p.Bindings {
		if b.GetRole() == role && b.GetCondition() == nil {
			if !slices.Contains(b.Members, member) {
				b.Members = append(b.Members, member)
			}
			return
		}
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{member}})
}

// DeployConfig runs Deploy for a coopguard config: its project, sandbox
// account, key source credential and topics.
func (e *Emulator) DeployConfig(cfg *config.Config) error {
	// The operator's notification channels exist before coopguard: an
	// email channel stands in for each.
	for i, ch := range cfg.Coopguard.Notify.Channels {
		if err := e.Monitoring.SeedNotificationChannel(&monitoringpb.NotificationChannel{
			Name: ch, Type: "email", DisplayName: "operator",
			Labels: map[string]string{"email_address": fmt.Sprintf("operator+%d@example.com", i)},
		}); err != nil {
			return fmt.Errorf("emulator: seed notification channel %s: %w", ch, err)
		}
	}
	return e.Deploy(cfg.Cloud.GCP.Project, Deployment{
		SandboxAccount:      cfg.Cloud.GCP.ServiceAccount,
		KeySourceCredential: cfg.Coopguard.Rotation.KeySourceCredentialSecret,
		RevokeCredential:    cfg.Coopguard.Revoke.CredentialSecret,
		ManagedSecrets:      cfg.Coopguard.Secrets,
		Sandbox:             cfg.VM.Name,
		Zone:                cfg.Cloud.GCP.Zone,
		LogsTopic:           cfg.Coopguard.Topics.Logs,
		AlertsTopic:         cfg.Coopguard.Topics.Alerts,
		RotationTopic:       cfg.Coopguard.Topics.Rotation,
	})
}

// AccountClients dials one client set per coopguard account in project
// (config.Accounts), each acting as that account, as each deployed
// function does: give them to functions.Env.UseAccount. Close them when
// done.
func (e *Emulator) AccountClients(ctx context.Context, project string) (map[string]*gcp.Clients, error) {
	out := map[string]*gcp.Clients{}
	for _, a := range config.Accounts {
		c, err := e.ClientsAs(ctx, project, deploy.AccountEmail(a, project))
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, err
		}
		out[a] = c
	}
	return out, nil
}

// NameSandbox does what Provision's sandbox-access does for a sandbox
// the test seeds itself: it names the VM (and its boot disk, named after
// it) in the coopguard-sandboxes condition of every job's sandbox role
// that Deploy bound in project.
func (e *Emulator) NameSandbox(project, zone, name string) {
	e.ResourceManager.UpdatePolicy(project, func(p *iampb.Policy) {
		for _, b := range p.Bindings {
			if c := b.GetCondition(); c.GetTitle() == config.SandboxConditionTitle {
				c.Expression = config.SandboxCondition(project, zone, append(config.SandboxesIn(c.GetExpression(), project, zone), name))
				e.IAM.Precompile(c.Expression)
			}
		}
	})
}
