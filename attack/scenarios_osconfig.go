package attack

import (
	"context"
	"fmt"

	"golang.org/x/oauth2"
	"google.golang.org/api/option"
	osconfigv1 "google.golang.org/api/osconfig/v1"
)

// osconfigScenarios are Stratus's OS Config run-command, tried by the
// sandbox's account from its VM: an OS policy assignment that runs a shell
// command as root on every VM of the zone.
func osconfigScenarios() []Scenario {
	return []Scenario{
		{Name: "gcp.execution.os-config-run-command", Kind: Attack, Actor: actorSandbox, Counterpart: "own-key-read",
			Summary: "creates an OS policy assignment running a command as root on every VM of its zone: OsConfigZonalService.CreateOSPolicyAssignment (refused; DATA_WRITE, audited since Provision turns it on)",
			Act: func(ctx context.Context, w *World) error {
				tok, err := w.Emu.OpenVM(w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name).Token(ctx)
				if err != nil {
					return err
				}
				parent := "projects/" + w.Cfg.Cloud.GCP.Project + "/locations/" + w.Cfg.Cloud.GCP.Zone
				err = w.createRunCommand(ctx, tok, parent)
				return refused(err, "CreateOSPolicyAssignment in "+parent)
			}},
	}
}

// createRunCommand creates, with token tok, Stratus's OS policy
// assignment in parent: a shell command run as root on every VM of the
// zone. It returns the API's answer unjudged.
func (w *World) createRunCommand(ctx context.Context, tok, parent string) error {
	svc, err := osconfigv1.NewService(ctx, option.WithEndpoint(w.Emu.RESTURL+"/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})))
	if err != nil {
		return fmt.Errorf("dial the emulated OS Config API: %w", err)
	}
	_, err = svc.Projects.Locations.OsPolicyAssignments.Create(parent, &osconfigv1.OSPolicyAssignment{
		InstanceFilter: &osconfigv1.OSPolicyAssignmentInstanceFilter{All: true},
		Rollout:        &osconfigv1.OSPolicyAssignmentRollout{DisruptionBudget: &osconfigv1.FixedOrPercent{Percent: 100}, MinWaitDuration: "0s"},
		OsPolicies: []*osconfigv1.OSPolicy{{Id: "stratus-run", Mode: "ENFORCEMENT", ResourceGroups: []*osconfigv1.OSPolicyResourceGroup{{
			Resources: []*osconfigv1.OSPolicyResource{{Id: "run", Exec: &osconfigv1.OSPolicyResourceExecResource{
				Validate: &osconfigv1.OSPolicyResourceExecResourceExec{Interpreter: "SHELL", Script: "exit 100"},
				Enforce:  &osconfigv1.OSPolicyResourceExecResourceExec{Interpreter: "SHELL", Script: "uname -a > /tmp/stratus-output.txt; exit 100"},
			}}}}}}},
	}).OsPolicyAssignmentId("stratus-run-command").Context(ctx).Do()
	return err
}
