package emulator

import (
	"context"
	"fmt"
	"slices"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator/deployreplay"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// Responder is the account HandleAlert and HandleLogEntry run as in
// project.
func Responder(project string) string { return deploy.AccountEmail(deploy.AccountResponder, project) }

// Provisioner is the account Provision runs as in project.
func Provisioner(project string) string {
	return deploy.AccountEmail(deploy.AccountProvisioner, project)
}

// DeployConfig deploys coopguard for cfg into its project as
// deploy/deploy.sh does, by replaying the script's own dry-run listing
// against the emulated APIs (test/emulator/deployreplay), as the Operator.
// Around it, it sets up what exists before deploy: the operator's
// notification channels and credential secrets (empty), and what
// cloudcoop's own setup grants the sandbox's account (writing logs and
// metrics).
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
	ctx := context.Background()
	project := cfg.Cloud.GCP.Project
	if _, ok := e.ResourceManager.Policy(project); !ok {
		e.ResourceManager.SeedProject(project)
	}
	// The fleet's folder and billing account are the operator's, made
	// before coopguard (README, The fleet).
	if f := cfg.Coopguard.Fleet; f.Folder != "" {
		e.ResourceManager.SeedFolder(f.Folder, "organizations/1", "sandboxes")
		if f.BillingAccount != "" {
			e.Billing.SeedAccount(f.BillingAccount, true)
		}
	}
	// The credential secrets deploy grants on: the operator makes them
	// first (README, Deploy); a test fills them (SeedVersions).
	for _, id := range []string{cfg.Coopguard.Rotation.KeySourceCredentialSecret, cfg.Coopguard.Revoke.CredentialSecret} {
		if _, ok := e.SecretManager.Secret("projects/" + project + "/secrets/" + id); id != "" && !ok {
			e.SecretManager.SeedSecret(project, id)
		}
	}
	c, err := e.Clients(ctx, project)
	if err != nil {
		return err
	}
	defer c.Close()
	err = deployreplay.Deploy(ctx, deployreplay.Target{Project: project, Number: resourcemanager.NumberOf(project), Clients: c,
		GrantTopic: func(topic, member, role string) error {
			e.IAM.Grant("projects/"+project+"/topics/"+topic, member, role)
			return nil
		}}, cfg)
	if err != nil {
		return fmt.Errorf("emulator: deploy %s: %w", project, err)
	}
	// The functions deploy.sh deploys (gcloud functions deploy, which the
	// replay leaves out), each running as its job's account.
	for _, j := range config.Jobs {
		for _, f := range j.Functions {
			e.Functions.SeedFunction(project, cfg.Region(), f.Service, f.Name, deploy.AccountEmail(j.Account, project))
		}
	}
	// The replay's calls are the deploy's, made before the project is
	// handed over: a test counts what happens after it.
	e.Faults.ForgetCounts()
	// cloudcoop's setup, not coopguard's deploy: the sandbox's account
	// writes its logs and metrics.
	if sa := cfg.Cloud.GCP.ServiceAccount; sa != "" {
		e.ResourceManager.UpdatePolicy(project, func(p *iampb.Policy) {
			for _, role := range []string{"roles/logging.logWriter", "roles/monitoring.metricWriter"} {
				if !slices.ContainsFunc(p.Bindings, func(b *iampb.Binding) bool {
					return b.GetRole() == role && b.GetCondition() == nil && slices.Contains(b.GetMembers(), iam.Member(sa))
				}) {
					p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{iam.Member(sa)}})
				}
			}
		})
	}
	return nil
}

// AccountClients dials one client set per coopguard account in project
// (config.Accounts), each acting as that account, as each deployed
// function does: give them to functions.WithAccounts. Close them when
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
				c.Expression = config.WidenSandboxCondition(c.GetExpression(), project, zone, name)
				e.IAM.Precompile(c.Expression)
			}
		}
	})
}
