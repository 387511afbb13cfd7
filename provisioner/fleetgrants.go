package provisioner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// The grants a sandbox's own project needs so that coopguard, deployed in
// its home project, guards it: coopguard's provisioner may manage the
// project (provisionerGrant, before anything else is read there), and
// Cloud Monitoring may publish the project's alerts to coopguard's alerts
// topic (notifierPublisher). The job accounts' roles are jobroles.go's,
// the sink writer's grant projectsink.go's.

// grantPhase runs provisionerGrant alone, before anything else in the
// sandbox's own project is read (reading needs it). planned: a dry run
// stops there, as the rest cannot be read until the grant is made.
func grantPhase(ctx context.Context, c *gcp.Clients, policy retry.Policy, sb *Sandbox, dryRun bool, progress Progress) (rep *Report, planned bool, err error) {
	rep, err = Run(ctx, c, policy, []Resource{&provisionerGrant{sb}}, dryRun, progress)
	if err != nil {
		return rep, false, err
	}
	sb.granted = true
	if dryRun && rep.Resources[0].Action != None {
		rep.Resources = append(rep.Resources, Result{Kind: "sandbox", Name: sb.Name, Action: Create, Status: StatusPlanned,
			Detail: "its resources in project " + sb.Project + " are planned once coopguard's provisioner holds its role there"})
		return rep, true, nil
	}
	return rep, false, nil
}

// folderRoles are the roles deploy.sh grants coopguard's provisioner on
// the fleet's folder that let it take charge of a project there it did
// not create: create coopguard's custom roles in it and bind them.
var folderRoles = []string{"roles/iam.roleAdmin", "roles/resourcemanager.projectIamAdmin"}

// provisionerJob is the provisioner's entry in config.Jobs.
func provisionerJob() config.Job {
	for _, j := range config.Jobs {
		if j.Role == config.JobProvisioner {
			return j
		}
	}
	panic("provisioner: config.Jobs has no " + config.JobProvisioner)
}

// grantHint is what the owner of a project outside the fleet's folder runs
// so that Provision may adopt it: the folder's two roles, on that project.
func (s *Sandbox) grantHint() string {
	var cmds []string
	for _, role := range folderRoles {
		cmds = append(cmds, fmt.Sprintf("gcloud projects add-iam-policy-binding %s --member=serviceAccount:%s --role=%s --condition=None",
			s.Project, s.provisionerAccount(), role))
	}
	return strings.Join(cmds, " && ")
}

// adoptRefusal says why Provision cannot adopt the sandbox's project and
// what its owner runs so that it can.
func (s *Sandbox) adoptRefusal() error {
	where := "it is not under the fleet's folder"
	if s.Folder != "" {
		where = "it is not under the fleet's folder " + s.Folder
	}
	return fmt.Errorf("project %s: coopguard's provisioner (%s) may not manage its IAM policy: the project does not exist, or %s "+
		"(deploy.sh grants the provisioner %s there). Missing on project %s: %s. "+
		"To adopt it, its owner runs: %s; then Provision again creates coopguard's roles there and binds its job accounts. Or ask Provision to create a project (createProject)",
		s.Project, s.provisionerAccount(), where, strings.Join(folderRoles, " and "), s.Project, strings.Join(folderRoles, ", "), s.grantHint())
}

// provisionerGrant gives coopguard's provisioner its own role
// (deploy/roles/provisioner.yaml, created in the sandbox's project) in a
// project it did not create. In a project it created it is already the
// owner (GCP makes a project's creator its owner). In one under the
// fleet's folder, the folder roles deploy.sh grants it (folderRoles) let
// it create that role and bind itself; in any other project, its owner
// grants those two roles on the project first (adoptRefusal says how).
// This runs before anything else is read in the project, which the
// provisioner could not do without it.
type provisionerGrant struct{ s *Sandbox }

func (r *provisionerGrant) Kind() string   { return "provisioner-grant" }
func (r *provisionerGrant) Name() string   { return r.s.Project }
func (r *provisionerGrant) Deps() []string { return nil }

func (r *provisionerGrant) role() *customRole {
	return &customRole{r.s, provisionerJob(), config.RoleProject}
}

func (r *provisionerGrant) holds(pol *iampb.Policy) bool {
	member := "serviceAccount:" + r.s.provisionerAccount()
	return hasMember(pol, "roles/owner", member) || hasMember(pol, r.role().Name(), member)
}

func (r *provisionerGrant) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	pol, err := (&projectRoles{r.s}).read(ctx, c)
	switch {
	case err == nil:
	case retry.GRPCCode(err) == codes.PermissionDenied || retry.IsNotFound(err):
		if r.s.CreateProject {
			// Created by this converge (or refused there, with the
			// reason): its creator is its owner.
			return Change{Action: None, Detail: "the project's creator, coopguard's provisioner, owns it"}, nil
		}
		return Change{}, r.s.adoptRefusal()
	default:
		return Change{}, err
	}
	if r.holds(pol) {
		return Change{Action: None, Detail: "coopguard's provisioner manages project " + r.s.Project}, nil
	}
	detail := "let coopguard's provisioner manage project " + r.s.Project + ": its role " + r.role().Name() + " (deploy/roles/provisioner.yaml), bound to it"
	return Change{Action: Update, Detail: detail, Apply: func(ctx context.Context) error {
		ch, err := r.role().Observe(ctx, c)
		if err == nil && ch.Apply != nil {
			err = ch.Apply(ctx)
		}
		if err != nil {
			return fmt.Errorf("%w (coopguard's provisioner needs roles/iam.roleAdmin on project %s: %s)", err, r.s.Project, r.s.grantHint())
		}
		member := "serviceAccount:" + r.s.provisionerAccount()
		for range 3 {
			pol, err := (&projectRoles{r.s}).read(ctx, c)
			if err != nil {
				return err
			}
			if r.holds(pol) {
				return nil
			}
			addMember(pol, r.role().Name(), member)
			pol.Version = 3 // the policy may hold conditional bindings
			_, err = c.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + r.s.Project, Policy: pol,
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"bindings", "etag"}}})
			if !retry.IsPrecondition(err) {
				if err != nil {
					return fmt.Errorf("bind coopguard's provisioner to %s in project %s: %w (it needs roles/resourcemanager.projectIamAdmin there: %s)", r.role().Name(), r.s.Project, err, r.s.grantHint())
				}
				return nil
			}
		}
		return fmt.Errorf("bind coopguard's provisioner in project %s: the policy kept changing", r.s.Project)
	}}, nil
}

// notifierAgent is the service agent Cloud Monitoring sends a project's
// notifications as: a Pub/Sub channel publishes as it
// (https://cloud.google.com/monitoring/support/notification-options).
func notifierAgent(projectNumber string) string {
	return "serviceAccount:service-" + projectNumber + "@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
}

// notifierPublisher lets the Monitoring notification agent of the
// sandbox's own project publish to coopguard's alerts topic, on the
// topic's policy only: the project's alert policies notify its Pub/Sub
// channel (channel), which points at that topic in coopguard's project,
// and Monitoring publishes as that project's agent, not home's (which
// deploy.sh grants).
type notifierPublisher struct{ s *Sandbox }

func (r *notifierPublisher) Kind() string { return "notifier-publisher" }
func (r *notifierPublisher) Name() string { return r.s.Project }
func (r *notifierPublisher) Deps() []string {
	return []string{"notificationChannel/" + r.s.ChannelName(), "topic/" + r.s.Topics.Alerts}
}

func (r *notifierPublisher) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	num, err := (&jobRoles{r.s}).number(ctx, c)
	if err != nil {
		return Change{}, err
	}
	agent, topic := notifierAgent(num), r.s.TopicPath(r.s.Topics.Alerts)
	detail := "Monitoring's notification agent of project " + r.s.Project + " may publish to " + topic
	ok, err := topicGrants(ctx, c, topic, agent)
	if err != nil {
		return Change{}, err
	}
	if ok {
		return Change{Action: None, Detail: detail}, nil
	}
	return Change{Action: Update, Detail: "let " + detail, Apply: func(ctx context.Context) error {
		return grantPublisher(ctx, c, topic, agent)
	}}, nil
}

// topicGrants reports whether member holds the publisher role on topic (an
// absent topic grants nothing).
func topicGrants(ctx context.Context, c *gcp.Clients, topic, member string) (bool, error) {
	pol, err := c.PubSub.TopicAdminClient.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: topic})
	if retry.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the IAM policy of topic %s: %w", topic, err)
	}
	return hasMember(pol, publisherRole, member), nil
}

// grantPublisher adds member to the publisher role on topic's policy,
// read-modify-write with its etag.
func grantPublisher(ctx context.Context, c *gcp.Clients, topic, member string) error {
	for range 3 {
		pol, err := c.PubSub.TopicAdminClient.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: topic})
		if err != nil {
			return fmt.Errorf("read the IAM policy of topic %s: %w", topic, err)
		}
		if hasMember(pol, publisherRole, member) {
			return nil
		}
		addMember(pol, publisherRole, member)
		pol.Bindings = slices.DeleteFunc(pol.Bindings, func(b *iampb.Binding) bool { return len(b.GetMembers()) == 0 })
		_, err = c.PubSub.TopicAdminClient.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: topic, Policy: pol})
		if !retry.IsPrecondition(err) {
			if err != nil {
				return fmt.Errorf("let %s publish to topic %s: %w", member, topic, err)
			}
			return nil
		}
	}
	return fmt.Errorf("let %s publish to topic %s: the policy kept changing", member, topic)
}
