package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	admin "cloud.google.com/go/iam/admin/apiv1"
	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/deploy/roles"
	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// The fleet of TestFleetOf200SandboxesIn50Projects: its folder and billing
// account ([coopguard.fleet]), its size, and how many of its projects
// Provision builds in full.
const (
	fleetFolder         = "folders/737373737373"
	fleetBilling        = "billingAccounts/0F1E2D-3C4B5A-69788A"
	fleetProjects       = 50
	sandboxesPerProject = 4
	builtProjects       = 6
	drilledProjects     = 4
)

// fleetProject and fleetBox name the fleet's projects and sandboxes.
func fleetProject(p int) string { return fmt.Sprintf("coopguard-fleet-%02d", p) }
func fleetBox(p, i int) string  { return fmt.Sprintf("box-%02d-%d", p, i) }
func ownAccount(t *testing.T, project, name string) string {
	t.Helper()
	id, err := provisioner.ServiceAccountID(name)
	if err != nil {
		t.Fatal(err)
	}
	return config.AccountEmail(id, project)
}

// TestFleetOf200SandboxesIn50Projects is one coopguard deployment guarding
// 200 sandboxes in 50 projects of their own, on GCP's clock. Provision
// creates six of the projects under the fleet's folder and builds their
// first sandbox in full (project, billing, APIs, coopguard's roles and
// bindings there, VM, account, secrets, sink); the other 194 are recorded
// in the sandbox registry as the provisioner's converge records them once
// it has built them (a full build of 200 would take the suite's budget;
// nothing coopguard decides reads more than the registry holds for them).
// Status lists all 201 (with coopguard's own project's). Fire drills in
// four projects at once each contain their own sandbox in its own
// project: its VM stopped, account disabled, key's versions disabled,
// every audited change by coopguard in the drilled projects and naming
// only their own sandbox; the two built projects not drilled and
// coopguard's own project are left as they were. Then no project's job
// roles reach another's resources (TestFleetOf200... /cross-project).
func TestFleetOf200SandboxesIn50Projects(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout, func(c *config.Config) {
		c.Coopguard.Fleet = config.Fleet{Folder: fleetFolder, BillingAccount: fleetBilling}
	})
	ctx := context.Background()
	zone := s.cfg.Cloud.GCP.Zone

	// The built sandboxes' keys, as their operator fills them (Provision
	// makes each secret and finds these).
	for p := range builtProjects {
		s.emu.SecretManager.SeedVersions(fleetProject(p), s.cfg.SandboxSecrets(fleetBox(p, 0))[0], []byte("sk-fleet-"+fixture.SecretMarker))
	}
	// Provision builds them, three at a time, each creating its project.
	var wg sync.WaitGroup
	slots := make(chan struct{}, 3)
	for p := range builtProjects {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			body := fmt.Sprintf(`{"project":%q,"name":%q,"createProject":true}`, fleetProject(p), fleetBox(p, 0))
			if code, rep := s.provision(t, body); code != http.StatusOK {
				t.Errorf("provision %s/%s = %d: %+v", fleetProject(p), fleetBox(p, 0), code, rep.Failed())
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.Fatalf("%s", s.logs)
	}
	// The rest of the fleet, recorded as the converge records a sandbox
	// it has built (functions.Env.recordSandbox).
	for p := range fleetProjects {
		for i := range sandboxesPerProject {
			if p < builtProjects && i == 0 {
				continue
			}
			sb, err := provisioner.SandboxIn(s.cfg, fleetProject(p), fleetBox(p, i), "")
			if err != nil {
				t.Fatal(err)
			}
			r := store.Registered{Project: sb.Project, Zone: sb.Zone, Name: sb.Name, ServiceAccount: ownAccount(t, sb.Project, sb.Name),
				Network: sb.Network(), Secrets: sb.Secrets, Canary: sb.Canary, InstanceID: strconv.Itoa(7_000_000 + 10*p + i)}
			if err := s.env.Store.RegisterSandbox(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	st := s.status(t)
	projects := map[string]bool{}
	for _, sb := range st.Sandboxes {
		projects[sb.Project] = true
	}
	if len(st.Sandboxes) != fleetProjects*sandboxesPerProject+1 || len(projects) != fleetProjects+1 {
		t.Fatalf("Status lists %d sandboxes in %d projects; want %d in %d (the fleet and coopguard's own)",
			len(st.Sandboxes), len(projects), fleetProjects*sandboxesPerProject+1, fleetProjects+1)
	}
	// Status reads each built sandbox in its own project, as the reader:
	// its VM's status and its key's versions there.
	for p := range builtProjects {
		project, name := fleetProject(p), fleetBox(p, 0)
		i := slices.IndexFunc(st.Sandboxes, func(sb functions.SandboxStatus) bool { return sb.Project == project && sb.Name == name })
		if i < 0 {
			t.Fatalf("Status does not list sandbox %s/%s", project, name)
		}
		if got := st.Sandboxes[i]; got.VM != "RUNNING" || got.ReadError != "" {
			t.Errorf("Status: sandbox %s/%s's VM %q (read error %q); want RUNNING, read in its project", project, name, got.VM, got.ReadError)
		}
		secret := "projects/" + project + "/secrets/" + s.cfg.SandboxSecrets(name)[0]
		j := slices.IndexFunc(st.Secrets, func(sec functions.SecretStatus) bool { return sec.Name == secret })
		if j < 0 || st.Secrets[j].Missing || st.Secrets[j].Error != "" || len(st.Secrets[j].Versions) == 0 {
			t.Errorf("Status: secret %s not read in its project (found %v)", secret, j >= 0)
		}
	}

	// Before the drills: each built sandbox's state, and coopguard's own.
	before := map[int]string{}
	for p := range builtProjects {
		before[p] = s.fleetState(t, p)
	}
	homeBefore := s.homeState(t)
	drillsFrom := s.emu.Clock.Now()

	// Fire drills in four projects at once, as coopguard drill publishes
	// them: the CPU policy's incident about each project's built VM.
	ids := map[int]string{}
	for p := range drilledProjects {
		vm, ok := s.emu.Compute.Instance(fleetProject(p), zone, fleetBox(p, 0))
		if !ok {
			t.Fatalf("no VM %s in %s after provision", fleetBox(p, 0), fleetProject(p))
		}
		ids[p] = "fleet-drill-" + strconv.Itoa(p)
		payload, err := events.EncodeIncident(events.MonitoringIncident{
			Version: "1.2", IncidentID: ids[p], State: events.IncidentOpen,
			PolicyName: provisioner.AlertPolicyName(fleetBox(p, 0)), PolicyUserLabels: map[string]string{functions.PlaybookLabel: incident.PlaybookContain},
			ConditionName: "fire drill", StartedAt: s.emu.Clock.Now(), Summary: "coopguard fire drill", Severity: "Critical",
			Resource: events.MonitoredResource{Type: "gce_instance", Labels: map[string]string{
				"instance_id": strconv.FormatUint(vm.GetId(), 10), "zone": zone, "project_id": fleetProject(p)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if code := s.postEvent(t, "HandleAlert", binary, payload, map[string]string{functions.AttrDrill: "true"}); code != http.StatusOK {
				t.Errorf("drill in %s: HandleAlert = %d", fleetProject(p), code)
			}
		})
	}
	wg.Wait()
	for i := 0; ; i++ {
		stopped := 0
		for p := range drilledProjects {
			if s.vm(t, fleetProject(p), fleetBox(p, 0)).GetStatus() == "TERMINATED" {
				stopped++
			}
		}
		if stopped == drilledProjects {
			break
		}
		if i == 10 {
			t.Fatalf("%d of %d drilled VMs TERMINATED ten emulated minutes after the drills\n%s", stopped, drilledProjects, s.logs)
		}
		s.emu.Clock.Advance(time.Minute)
	}

	reports := s.incidents(t)
	for p := range drilledProjects {
		project, name := fleetProject(p), fleetBox(p, 0)
		rep, ok := reports["alert-"+ids[p]]
		switch {
		case !ok:
			t.Errorf("no incident for the drill in %s: %v\n%s", project, reports, s.logs)
		case rep.Incident.Project != project || rep.Instance != name:
			t.Errorf("the drill in %s acted on %s/%s", project, rep.Incident.Project, rep.Instance)
		case rep.Outcome != incident.OutcomeContained && rep.Outcome != incident.OutcomeComplete:
			t.Errorf("the drill in %s: outcome %s %s", project, rep.Outcome, rep.Reason)
		}
		if !s.disabled(t, ownAccount(t, project, name)) {
			t.Errorf("%s/%s's account enabled after its drill", project, name)
		}
		for _, v := range s.emu.SecretManager.Versions("projects/" + project + "/secrets/" + s.cfg.SandboxSecrets(name)[0]) {
			if v.GetState() == secretmanagerpb.SecretVersion_ENABLED {
				t.Errorf("%s enabled after the drill in %s", v.GetName(), project)
			}
		}
	}
	for p := drilledProjects; p < builtProjects; p++ {
		if got := s.fleetState(t, p); got != before[p] {
			t.Errorf("%s, not drilled, changed:\nbefore %s\nafter  %s", fleetProject(p), before[p], got)
		}
	}
	if got := s.homeState(t); got != homeBefore {
		t.Errorf("coopguard's project changed by the drills:\nbefore %s\nafter  %s", homeBefore, got)
	}
	s.checkDrillAudit(t, drillsFrom)

	t.Run("cross-project", func(t *testing.T) { s.checkNoProjectReachesAnother(t) })
}

// fleetState is what the built sandbox of fleet project p looks like: its
// VM's status, tags and labels, its account and its key's versions.
func (s *sandboxWorld) fleetState(t *testing.T, p int) string {
	t.Helper()
	project, name := fleetProject(p), fleetBox(p, 0)
	inst, _ := s.emu.Compute.Instance(project, s.cfg.Cloud.GCP.Zone, name)
	var versions []string
	for _, v := range s.emu.SecretManager.Versions("projects/" + project + "/secrets/" + s.cfg.SandboxSecrets(name)[0]) {
		versions = append(versions, v.GetState().String())
	}
	b, err := json.Marshal([]any{inst.GetStatus(), inst.GetTags().GetItems(), inst.GetLabels(), s.disabled(t, ownAccount(t, project, name)), versions})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// status is Status's report.
func (s *sandboxWorld) status(t *testing.T) functions.StatusReport {
	t.Helper()
	code, b := s.do(t, http.MethodGet, "/Status", "", nil)
	if code != http.StatusOK {
		t.Fatalf("Status = %d %s", code, b)
	}
	var st functions.StatusReport
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// checkDrillAudit: every Admin Activity entry written since from by one
// of coopguard's accounts is in a drilled project and names no resource
// of another project nor another sandbox's VM; each drilled project has
// its VM's stop among them.
func (s *sandboxWorld) checkDrillAudit(t *testing.T, from time.Time) {
	t.Helper()
	ours := map[string]bool{}
	for _, a := range config.Accounts {
		ours[config.AccountEmail(a, s.cfg.Cloud.GCP.Project)] = true
	}
	drilled := map[string]string{}
	for p := range drilledProjects {
		drilled[fleetProject(p)] = fleetBox(p, 0)
	}
	stops := map[string]bool{}
	for _, e := range s.emu.Logging.AllEntries() {
		if !strings.HasSuffix(e.GetLogName(), "/logs/cloudaudit.googleapis.com%2Factivity") || e.GetTimestamp().AsTime().Before(from) {
			continue
		}
		var a auditpb.AuditLog
		if p := e.GetProtoPayload(); p == nil || p.UnmarshalTo(&a) != nil || !ours[a.GetAuthenticationInfo().GetPrincipalEmail()] {
			continue
		}
		project := strings.Split(strings.TrimPrefix(e.GetLogName(), "projects/"), "/")[0]
		res, who := a.GetResourceName(), a.GetAuthenticationInfo().GetPrincipalEmail()
		name, ok := drilled[project]
		if !ok {
			t.Errorf("%s by %s on %s, in %s: no drill was in that project", a.GetMethodName(), who, res, project)
			continue
		}
		if !ofProject(res, project) {
			t.Errorf("%s by %s in %s names %s, of another project", a.GetMethodName(), who, project, res)
		}
		if i := strings.Index(res, "/instances/"); i >= 0 && res[i+len("/instances/"):] != name {
			t.Errorf("%s by %s in %s names VM %s, not the drilled %s", a.GetMethodName(), who, project, res, name)
		}
		if strings.HasSuffix(a.GetMethodName(), "instances.stop") {
			stops[project] = true
		}
	}
	for project := range drilled {
		if !stops[project] {
			t.Errorf("no audited stop of the drilled VM in %s", project)
		}
	}
}

// ofProject reports whether the resource name res is project's (by its
// id or number), or names no project ("projects/-/…", none at all).
func ofProject(res, project string) bool {
	rest, ok := strings.CutPrefix(res, "projects/")
	if !ok {
		return true
	}
	for _, own := range []string{project, resourcemanager.NumberOf(project), "-"} {
		if strings.HasPrefix(rest, own+"/") || rest == own {
			return true
		}
	}
	return false
}

// folderGrants are the grants deploy makes on the fleet's folder, to the
// provisioner only, on purpose (deploy/deploy.sh, [coopguard.fleet]): it
// creates the sandbox projects under the folder, creates coopguard's
// custom roles in them and binds the job accounts there, in a project it
// adopts too. They reach every project under the folder; no other job
// holds anything there. What they allow in a project whose own policy
// grants coopguard nothing is these permission prefixes.
var folderGrants = []string{"roles/resourcemanager.projectCreator", "roles/iam.roleAdmin", "roles/resourcemanager.projectIamAdmin"}

// folderPermissionPrefixes are the permissions folderGrants give in a
// project under the folder: projects and their IAM, roles.
var folderPermissionPrefixes = []string{"resourcemanager.projects.", "iam.roles."}

// checkNoProjectReachesAnother proves the job accounts reach a sandbox
// project through that project's own grants only. Fleet project 5, built
// by Provision and not drilled, is cut off from coopguard as an operator
// would (every binding of coopguard's accounts removed from its policy
// and from its sandbox account's, through the official clients). The
// other built projects still bind every job account, the folder holds the
// provisioner's grants, coopguard's own project its own: none of it
// reaches project 5's resources. Each job account's calls on them
// (through the official clients) are denied, and the emulated IAM allows
// no permission of any of coopguard's role files on them, but the
// provisioner's folder grants (folderGrants).
func (s *sandboxWorld) checkNoProjectReachesAnother(t *testing.T) {
	ctx := context.Background()
	home, zone := s.cfg.Cloud.GCP.Project, s.cfg.Cloud.GCP.Zone
	const p = builtProjects - 1
	project, name := fleetProject(p), fleetBox(p, 0)
	account := ownAccount(t, project, name)
	secret := "projects/" + project + "/secrets/" + s.cfg.SandboxSecrets(name)[0]
	vm := "projects/" + project + "/zones/" + zone + "/instances/" + name
	resources := []string{"projects/" + project, vm, "projects/" + project + "/zones/" + zone + "/disks/" + name, secret,
		"projects/" + project + "/serviceAccounts/" + account, "projects/" + project + "/global/firewalls/coopguard-quarantine"}
	members := map[string]string{}
	var ours []string
	for _, a := range config.Accounts {
		members[a] = "serviceAccount:" + config.AccountEmail(a, home)
		ours = append(ours, members[a])
	}
	perms := map[string][]string{} // account → every permission of its role files
	for _, j := range config.Jobs {
		for _, k := range j.Roles {
			def, err := roles.Embedded(j.RoleFile(k))
			if err != nil {
				t.Fatal(err)
			}
			perms[j.Account] = append(perms[j.Account], def.IncludedPermissions...)
		}
	}

	// The project's grants reach its sandbox before the cut: the checks
	// below can fail.
	if !s.emu.IAM.Allowed(members[config.AccountResponder], "compute.instances.stop", vm) {
		t.Fatalf("the responder may not stop %s through %s's own grants", vm, project)
	}
	// Every binding of a job account in a built project is that
	// project's: its custom roles, conditions naming its resources only.
	for q := range builtProjects {
		pol, ok := s.emu.ResourceManager.Policy(fleetProject(q))
		if !ok {
			t.Fatalf("no policy for %s", fleetProject(q))
		}
		for _, b := range pol.GetBindings() {
			if !slices.ContainsFunc(b.GetMembers(), func(m string) bool { return slices.Contains(ours, m) }) {
				continue
			}
			// Its creator, the provisioner, owns the project it created
			// (GCP makes a project's creator its owner): that project only.
			if b.GetRole() == "roles/owner" && slices.Equal(b.GetMembers(), []string{members[config.AccountProvisioner]}) && b.GetCondition() == nil {
				continue
			}
			if !strings.HasPrefix(b.GetRole(), "projects/"+fleetProject(q)+"/roles/") {
				t.Errorf("%s binds %v to %s, not a role of its own", fleetProject(q), b.GetMembers(), b.GetRole())
			}
			for _, named := range regexp.MustCompile(`projects/[^/"]+/`).FindAllString(b.GetCondition().GetExpression(), -1) {
				if !ofProject(named, fleetProject(q)) {
					t.Errorf("%s's condition on %s names another project: %s", fleetProject(q), b.GetRole(), b.GetCondition().GetExpression())
				}
			}
		}
	}

	// The operator cuts project 5 off from coopguard.
	pol, err := s.operator.Projects.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/" + project, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		t.Fatal(err)
	}
	pol.Bindings = slices.DeleteFunc(pol.Bindings, func(b *iampb.Binding) bool {
		b.Members = slices.DeleteFunc(b.Members, func(m string) bool { return slices.Contains(ours, m) })
		return len(b.Members) == 0
	})
	pol.Version = 3
	if _, err := s.operator.Projects.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: "projects/" + project, Policy: pol}); err != nil {
		t.Fatal(err)
	}
	apol, err := s.operator.IAMAdmin.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/" + project + "/serviceAccounts/" + account})
	if err != nil {
		t.Fatal(err)
	}
	apol.InternalProto.Bindings = nil
	if _, err := s.operator.IAMAdmin.SetIamPolicy(ctx, &admin.SetIamPolicyRequest{Resource: "projects/" + project + "/serviceAccounts/" + account, Policy: apol}); err != nil {
		t.Fatal(err)
	}

	// Every permission of every job's role files, on each of the
	// project's resources: none allowed, but the provisioner's folder
	// grants.
	for _, a := range config.Accounts {
		for _, perm := range perms[a] {
			for _, r := range resources {
				if !s.emu.IAM.Allowed(members[a], perm, r) {
					continue
				}
				byFolder := a == config.AccountProvisioner && slices.ContainsFunc(folderPermissionPrefixes, func(pre string) bool { return strings.HasPrefix(perm, pre) })
				if !byFolder {
					t.Errorf("%s holds %s on %s of %s, which grants coopguard nothing", a, perm, r, project)
				}
			}
		}
	}
	// The folder holds the provisioner's grants, and no other job's.
	fpol, ok := s.emu.ResourceManager.FolderPolicySnapshot(fleetFolder)
	if !ok {
		t.Fatalf("no policy on %s", fleetFolder)
	}
	for _, b := range fpol.GetBindings() {
		for _, a := range config.Accounts {
			if !slices.Contains(b.GetMembers(), members[a]) {
				continue
			}
			if a != config.AccountProvisioner || !slices.Contains(folderGrants, b.GetRole()) {
				t.Errorf("%s holds %s on the fleet's folder: deploy grants the provisioner %v there, nothing else", a, b.GetRole(), folderGrants)
			}
		}
	}

	// Each job account's calls on the project's resources, through the
	// official clients: refused.
	for _, a := range config.Accounts {
		c := fixture.DialAs(t, s.emu, home, config.AccountEmail(a, home))
		calls := []struct {
			what string
			call func() error
		}{
			{"read its VM", func() error {
				_, err := c.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: zone, Instance: name})
				return err
			}},
			{"stop its VM", func() error {
				_, err := c.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: project, Zone: zone, Instance: name})
				return err
			}},
			{"read its key", func() error {
				_, err := c.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: secret + "/versions/latest"})
				return err
			}},
			{"disable its key's version", func() error {
				_, err := c.Secrets.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: secret + "/versions/1"})
				return err
			}},
			{"disable its account", func() error {
				return c.IAMAdmin.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: "projects/" + project + "/serviceAccounts/" + account})
			}},
		}
		for _, call := range calls {
			err := call.call()
			code, _ := retry.HTTPCode(err)
			if err == nil || (code != http.StatusForbidden && retry.GRPCCode(err) != codes.PermissionDenied) {
				t.Errorf("%s may %s in %s, which grants coopguard nothing: %v", a, call.what, project, err)
			}
		}
	}
	if got := s.fleetState(t, p); !strings.HasPrefix(got, `["RUNNING"`) {
		t.Errorf("%s's sandbox after the refused calls: %s", project, got)
	}
}
