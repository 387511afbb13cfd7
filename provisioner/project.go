package provisioner

import (
	"context"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/billing/apiv1/billingpb"
	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// SandboxServices are the APIs a sandbox's own project needs enabled: its
// VM and network, its log sink and audit logs, its alerting and its
// secrets.
var SandboxServices = []string{
	"compute.googleapis.com",
	"logging.googleapis.com",
	"monitoring.googleapis.com",
	"secretmanager.googleapis.com",
}

// OwnProject reports whether the sandbox lives in a project of its own,
// apart from coopguard's (Home): Provision then makes that project ready
// (project.go), creates coopguard's job roles in it (jobroles.go) and
// routes its audit entries to coopguard's logs topic (projectsink.go).
func (s *Sandbox) OwnProject() bool { return s.Home != "" && s.Project != s.Home }

// home is coopguard's project: where its topics are.
func (s *Sandbox) home() string {
	if s.Home != "" {
		return s.Home
	}
	return s.Project
}

// provisionerAccount is the email of coopguard's provisioner account.
func (s *Sandbox) provisionerAccount() string {
	return config.AccountEmail(config.AccountProvisioner, s.home())
}

// adoptHint is what lets coopguard's provisioner manage an existing
// project outside the fleet's folder: the folder's roles granted on the
// project (fleetgrants.go), with which Provision grants itself the rest.
func (s *Sandbox) adoptHint() string { return s.grantHint() }

// projectResources make the sandbox's own project ready: the project
// (created under the fleet's folder when asked and absent, else adopted
// when coopguard can read it), its billing account and its APIs.
func (s *Sandbox) projectResources() []Resource {
	rs := []Resource{&project{s}, &billingLink{s}}
	for _, svc := range SandboxServices {
		rs = append(rs, &api{s, svc})
	}
	return rs
}

// ownProjectResources replace, in a sandbox's own project, the resources
// that name the sandbox in a condition on coopguard's project (sandbox
// and secrets access: the project's job roles bind them, jobroles.go),
// and add the job roles, the sink writer's grant on the logs topic, and
// the watch sink with its own grant (watchsink.go);
// the policies that notify the operator's channels stay in coopguard's
// project.
func (s *Sandbox) ownProjectResources(rs []Resource) []Resource {
	out := rs[:0:0]
	for _, r := range rs {
		switch r.(type) {
		case *sandboxAccess, *secretsAccess:
			continue
		case *incidentPolicy, *deadLetterPolicy, *deafPolicy, *reviewPolicy:
			// They notify the operator's channels, which are in
			// coopguard's project, and watch coopguard's own logs:
			// they belong to that project, not to each sandbox's.
			continue
		}
		out = append(out, r)
	}
	return append(out, append(s.jobRoleResources(), &sinkWriter{s, s.Sink()}, &notifierPublisher{s},
		&watchSink{s}, &sinkWriter{s, s.WatchSink()})...)
}

// RunSandbox converges sb: for a sandbox in coopguard's own project, its
// resources; for one in a project of its own, first that project (which
// everything else needs to exist before it can even be read), then the
// sandbox's resources there with the project's job roles and sink. A dry
// run over a project still to be created plans the project only.
func RunSandbox(ctx context.Context, c *gcp.Clients, policy retry.Policy, sb *Sandbox, dryRun bool, progress Progress) (*Report, error) {
	if !sb.OwnProject() {
		return Run(ctx, c, policy, sb.Resources(), dryRun, progress)
	}
	if id, err := ServiceAccountID(sb.Name); err == nil {
		// In a project of its own the sandbox runs as its own account,
		// made in that project, never as an account of coopguard's.
		sb.ServiceAccount, sb.OwnAccount = config.AccountEmail(id, sb.Project), true
	}
	// Before anything in the project can be read: the provisioner's own
	// grant there (fleetgrants.go), unless Converge made it already.
	var grant *Report
	if !sb.granted {
		var planned bool
		var err error
		if grant, planned, err = grantPhase(ctx, c, policy, sb, dryRun, progress); err != nil || planned {
			return grant, err
		}
	}
	first, err := Run(ctx, c, policy, sb.projectResources(), dryRun, progress)
	first = joinReports(grant, first)
	if err != nil {
		return first, err
	}
	if dryRun && slices.ContainsFunc(first.Resources, func(r Result) bool { return r.Kind == "project" && r.Action == Create }) {
		first.Resources = append(first.Resources, Result{Kind: "sandbox", Name: sb.Name, Action: Create, Status: StatusPlanned,
			Detail: "its resources in project " + sb.Project + " are planned once the project exists"})
		return first, nil
	}
	rest, err := Run(ctx, c, policy, sb.ownProjectResources(sb.Resources()), dryRun, progress)
	return joinReports(first, rest), err
}

// joinReports appends the report of a later phase of a converge to the
// report of an earlier one (either may be nil, when a phase could not
// start).
func joinReports(first, rest *Report) *Report {
	if first == nil {
		return rest
	}
	if rest == nil {
		return first
	}
	first.Resources = append(first.Resources, rest.Resources...)
	first.Seconds += rest.Seconds
	first.CriticalPathSeconds += rest.CriticalPathSeconds
	return first
}

// project is the sandbox's own project.
type project struct{ s *Sandbox }

func (r *project) Kind() string   { return "project" }
func (r *project) Name() string   { return r.s.Project }
func (r *project) Deps() []string { return nil }

func (r *project) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	got, err := c.Projects.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/" + r.s.Project})
	switch {
	case err == nil && got.GetState() != resourcemanagerpb.Project_ACTIVE:
		return Change{}, fmt.Errorf("project %s is %s: coopguard builds sandboxes only in active projects; restore it (gcloud projects undelete %s) or name another project", r.s.Project, got.GetState(), r.s.Project)
	case err == nil:
		return Change{Action: None, Detail: "adopted, under " + parentOrNone(got.GetParent())}, nil
	case retry.GRPCCode(err) != codes.PermissionDenied && !retry.IsNotFound(err):
		return Change{}, err
	case !r.s.CreateProject:
		return Change{}, fmt.Errorf("project %s: coopguard's provisioner (%s) cannot read it: it does not exist, or it is not coopguard's to manage. To adopt it, its owner grants access: %s; or ask Provision to create it", r.s.Project, r.s.provisionerAccount(), r.s.adoptHint())
	case r.s.Folder == "" || r.s.BillingAccount == "":
		return Change{}, fmt.Errorf("project %s does not exist (or coopguard cannot read it) and cannot be created: set [coopguard.fleet] folder and billing_account (folders/NUMBER, billingAccounts/XXXXXX-XXXXXX-XXXXXX) to let Provision create sandbox projects", r.s.Project)
	}
	return Change{Action: Create, Detail: "under " + r.s.Folder, Apply: func(ctx context.Context) error {
		op, err := c.Projects.CreateProject(ctx, &resourcemanagerpb.CreateProjectRequest{Project: &resourcemanagerpb.Project{
			ProjectId: r.s.Project, Parent: r.s.Folder,
			Labels: map[string]string{"coopguard-sandbox": r.s.Name},
		}})
		if retry.IsAlreadyExists(err) {
			return fmt.Errorf("project id %s is taken by a project coopguard cannot read (someone else's, or one deleted less than 30 days ago): name another project, or have its owner grant access: %s", r.s.Project, r.s.adoptHint())
		}
		if err != nil {
			return fmt.Errorf("create project %s under %s: %w (coopguard's provisioner needs resourcemanager.projects.create there: deploy.sh grants it when [coopguard.fleet] folder is set)", r.s.Project, r.s.Folder, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		if _, err := op.Wait(wctx); err != nil {
			return fmt.Errorf("create project %s: %w", r.s.Project, err)
		}
		return nil
	}}, nil
}

func parentOrNone(p string) string {
	if p == "" {
		return "no folder"
	}
	return p
}

// billingLink links the sandbox's project to the fleet's billing account,
// when it has none (a project billed to another account is left as it is:
// whoever pays for it chose that).
type billingLink struct{ s *Sandbox }

func (r *billingLink) Kind() string   { return "billing" }
func (r *billingLink) Name() string   { return r.s.Project }
func (r *billingLink) Deps() []string { return []string{ID(&project{r.s})} }

func (r *billingLink) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	info, err := c.Billing.GetProjectBillingInfo(ctx, &billingpb.GetProjectBillingInfoRequest{Name: "projects/" + r.s.Project})
	switch {
	case retry.GRPCCode(err) == codes.PermissionDenied:
		// The project is to be created by this converge (its own
		// observation says whether coopguard may).
	case err != nil:
		return Change{}, err
	case info.GetBillingEnabled():
		return Change{Action: None, Detail: "billed to " + info.GetBillingAccountName()}, nil
	case info.GetBillingAccountName() != "":
		return Change{}, fmt.Errorf("project %s is linked to billing account %s, which is closed: link it to an open one (gcloud billing projects link %s --billing-account=ACCOUNT_ID)", r.s.Project, info.GetBillingAccountName(), r.s.Project)
	}
	if r.s.BillingAccount == "" {
		return Change{}, fmt.Errorf("project %s has no billing account, which its APIs need: link one (gcloud billing projects link %s --billing-account=ACCOUNT_ID), or set [coopguard.fleet] billing_account", r.s.Project, r.s.Project)
	}
	return Change{Action: Create, Detail: "link to " + r.s.BillingAccount, Apply: func(ctx context.Context) error {
		_, err := c.Billing.UpdateProjectBillingInfo(ctx, &billingpb.UpdateProjectBillingInfoRequest{Name: "projects/" + r.s.Project,
			ProjectBillingInfo: &billingpb.ProjectBillingInfo{BillingAccountName: r.s.BillingAccount}})
		if err != nil {
			return fmt.Errorf("link project %s to %s: %w (coopguard's provisioner needs billing.resourceAssociations.create on the account: deploy.sh grants roles/billing.user when [coopguard.fleet] billing_account is set)", r.s.Project, r.s.BillingAccount, err)
		}
		return nil
	}}, nil
}

// api is one API enabled in the sandbox's project.
type api struct {
	s       *Sandbox
	service string
}

func (r *api) Kind() string   { return "api" }
func (r *api) Name() string   { return r.service }
func (r *api) Deps() []string { return []string{ID(&billingLink{r.s})} }

func (r *api) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	name := "projects/" + r.s.Project + "/services/" + r.service
	got, err := c.ServiceUsage.GetService(ctx, &serviceusagepb.GetServiceRequest{Name: name})
	switch {
	case retry.GRPCCode(err) == codes.PermissionDenied:
		// The project is to be created by this converge.
	case err != nil:
		return Change{}, err
	case got.GetState() == serviceusagepb.State_ENABLED:
		return Change{Action: None, Detail: "enabled in " + r.s.Project}, nil
	}
	return Change{Action: Create, Detail: "enable in " + r.s.Project, Apply: func(ctx context.Context) error {
		op, err := c.ServiceUsage.EnableService(ctx, &serviceusagepb.EnableServiceRequest{Name: name})
		if err == nil {
			wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			_, err = op.Wait(wctx)
		}
		if err != nil {
			return fmt.Errorf("enable %s in project %s: %w", r.service, r.s.Project, err)
		}
		return nil
	}}, nil
}
