package reliability

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/functions/rotation"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// rotationEnv is a project whose managed key has three versions, 100, 60
// and 30 days old: a run disables the two superseded ones.
func rotationEnv(t *testing.T) (*fixture.Env, *rotation.Runner) {
	t.Helper()
	e := fixture.New(t, []byte("sk-test-SECRET-PAYLOAD-1"), []byte("sk-test-SECRET-PAYLOAD-2"), []byte("sk-test-SECRET-PAYLOAD-3"))
	secret := "projects/" + e.Cfg.Cloud.GCP.Project + "/secrets/" + e.Cfg.Coopguard.Secrets[0]
	for i, age := range []int{100, 60, 30} {
		e.Emu.SecretManager.SetVersionCreateTime(fmt.Sprintf("%s/versions/%d", secret, i+1), time.Now().Add(-time.Duration(age)*24*time.Hour))
	}
	r := &rotation.Runner{
		Client: e.Clients.Secrets, Project: e.Cfg.Cloud.GCP.Project, Managed: e.Cfg.Coopguard.Secrets,
		Policy: rotation.PolicyFrom(e.Cfg.Coopguard.Rotation), Retry: fastPolicy,
	}
	return e, r
}

func assertRotated(t *testing.T, e *fixture.Env) {
	t.Helper()
	if got := e.VersionStates(); !slices.Equal(got, []string{"DISABLED", "DISABLED", "ENABLED"}) {
		t.Errorf("versions %v, want the two superseded ones disabled and the newest enabled", got)
	}
}

// TestRotationFaultMatrix injects each fault into each call of a rotation
// run: one failure is absorbed; one that outlasts the retries fails the run
// (so Pub/Sub redelivers) without leaving the secret without an enabled
// version, and the next run finishes it.
func TestRotationFaultMatrix(t *testing.T) {
	clean, r := rotationEnv(t)
	if _, err := r.Run(context.Background(), rotation.Options{Trigger: "test"}); err != nil {
		t.Fatal(err)
	}
	assertRotated(t, clean)
	for i, method := range clean.Emu.Faults.Methods() {
		for _, fk := range faultKinds(i, method) {
			t.Run(method+"/"+fk.name, func(t *testing.T) {
				t.Parallel()
				for _, n := range []int{1, fastPolicy.Attempts} {
					e, r := rotationEnv(t)
					e.Emu.Faults.FailNext(method, n, fk.fault)
					_, err := r.Run(context.Background(), rotation.Options{Trigger: "test"})
					if n == 1 && err != nil {
						t.Errorf("one %s on %s was not absorbed: %v", fk.name, method, err)
					}
					if states := e.VersionStates(); !slices.Contains(states, "ENABLED") {
						t.Fatalf("after %d failures the key has no enabled version: %v", n, states)
					}
					if _, err := r.Run(context.Background(), rotation.Options{Trigger: "test"}); err != nil {
						t.Fatalf("run after %d failures: %v", n, err)
					}
					assertRotated(t, e)
				}
			})
		}
	}
}
