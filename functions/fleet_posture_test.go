package functions_test

import (
	"errors"
	"testing"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestPostureOfARecordedSandbox: posture --sandbox checks the sandbox
// Provision recorded under that name (its VM, its sink), not the
// configured one; a sandbox the registry does not hold is a clear "not
// recorded", a bad name a bad request, and neither runs a check.
func TestPostureOfARecordedSandbox(t *testing.T) {
	f := fixture.NewFunctions(t)
	ctx := fixture.Quiet
	const second = "second"
	if _, err := f.Env.Provisioner.Converge(ctx, provisioner.Options{Name: second}); err != nil {
		t.Fatalf("provision %s: %v", second, err)
	}
	rep, err := functions.PostureOf(ctx, f.Env, "", second)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sandbox != second || rep.Project != f.Cfg.Cloud.GCP.Project || len(rep.Results) == 0 {
		t.Fatalf("posture of %s is of %s/%s with %d checks", second, rep.Project, rep.Sandbox, len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Check == "log-sink" && r.Status != "pass" {
			t.Errorf("the recorded sandbox's log sink: %s: %s", r.Status, r.Evidence)
		}
	}
	if _, err := functions.PostureOf(ctx, f.Env, "", "never-built"); !errors.Is(err, functions.ErrNotRecorded) {
		t.Errorf("posture of a sandbox never provisioned: err = %v, want ErrNotRecorded", err)
	}
	if _, err := functions.PostureOf(ctx, f.Env, "", "Bad_Name"); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("posture of a bad name: err = %v, want config.ErrInvalid", err)
	}
}
