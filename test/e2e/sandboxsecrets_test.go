package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// TestContainingOneSandboxLeavesTheOthersKey is issue 20's "each sandbox
// has its own key", on GCP's clock: two sandboxes, the configured one and
// one Provision built as sbx2, each reading only its own key. Containing
// either disables its own key's versions and stops its own VM; the other's
// versions stay ENABLED, its account still reads its key, its VM stays
// RUNNING — at the answer and after the follow-up has finished.
func TestContainingOneSandboxLeavesTheOthersKey(t *testing.T) {
	const second = "sbx2"
	for _, contained := range []string{"configured", second} {
		t.Run("contain "+contained, func(t *testing.T) {
			ctx := context.Background()
			s := newSandbox(t, fastAgentTimeout)
			if code, rep := provision(t, `{"name":"`+second+`"}`); code != http.StatusOK {
				t.Fatalf("provision %s = %d: %+v", second, code, rep.Failed())
			}
			p := s.cfg.Cloud.GCP.Project
			id, err := provisioner.ServiceAccountID(second)
			if err != nil {
				t.Fatal(err)
			}
			type box struct {
				name, account, secret string
			}
			boxes := map[string]box{
				"configured": {s.cfg.VM.Name, s.cfg.Cloud.GCP.ServiceAccount, s.cfg.Coopguard.Secrets[0]},
				second:       {second, config.AccountEmail(id, p), s.cfg.SandboxSecrets(second)[0]},
			}
			if got, want := boxes[second].secret, "anthropic-api-key-"+second; got != want {
				t.Fatalf("sandbox %s's secret is %s, want %s", second, got, want)
			}
			// Provision created sbx2's secret empty; the operator adds
			// its key, and a second version to each, so "every enabled
			// version" means more than one.
			for _, b := range boxes {
				n := 1
				if b.name == second {
					n = 2
				}
				for range n {
					if _, err := s.operator.Secrets.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
						Parent: secretPath(p, b.secret), Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-test-SECRET-PAYLOAD-" + b.name)},
					}); err != nil {
						t.Fatal(err)
					}
				}
			}
			reads := func(b box, secret string) error {
				c, err := s.emu.ClientsAs(ctx, p, b.account)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_, err = c.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: secretPath(p, secret) + "/versions/latest"})
				return err
			}
			for name, b := range boxes {
				if err := reads(b, b.secret); err != nil {
					t.Fatalf("sandbox %s's account cannot read its own key %s before any incident: %v", b.name, b.secret, err)
				}
				other := boxes[otherOf(name, second)]
				if err := reads(b, other.secret); status.Code(err) != codes.PermissionDenied {
					t.Errorf("sandbox %s's account reading %s's key %s: %v, want PermissionDenied (each sandbox reads only its own)", b.name, other.name, other.secret, err)
				}
			}

			target, bystander := boxes[contained], boxes[otherOf(contained, second)]
			event := s.alert(t, "monitoring-incident-open.json")
			fn := "HandleAlert"
			if contained == second {
				// sbx2's account changes an IAM policy: the rules contain
				// sbx2 (see TestEachSandboxAnswersForItsOwnAccount).
				event = []byte(strings.ReplaceAll(string(s.alert(t, "logentry-setiampolicy-by-sandbox-sa.json")), s.cfg.Cloud.GCP.ServiceAccount, target.account))
				fn = "HandleLogEntry"
			}
			if code := postEvent(t, fn, binary, event, nil); code != http.StatusOK {
				t.Fatalf("%s = %d\n%s", fn, code, s.logs)
			}

			check := func(when string) {
				t.Helper()
				if got := versionStates(s, p, target.secret); len(got) < 2 || slices.ContainsFunc(got, func(st string) bool { return st != "DISABLED" }) {
					t.Errorf("%s: the contained sandbox %s's key versions = %v, want all DISABLED", when, target.name, got)
				}
				if got := versionStates(s, p, bystander.secret); len(got) < 2 || slices.ContainsFunc(got, func(st string) bool { return st != "ENABLED" }) {
					t.Errorf("%s: sandbox %s's key versions = %v, want all ENABLED: containing %s must not touch them", when, bystander.name, got, target.name)
				}
				if err := reads(bystander, bystander.secret); err != nil {
					t.Errorf("%s: sandbox %s's account cannot read its own key any more: %v", when, bystander.name, err)
				}
				if st := vmStatus(s, bystander.name); st != "RUNNING" {
					t.Errorf("%s: sandbox %s's VM is %s, want RUNNING", when, bystander.name, st)
				}
				if st := vmStatus(s, target.name); st != "STOPPING" && st != "TERMINATED" {
					t.Errorf("%s: the contained sandbox %s's VM is %s, want it stopped", when, target.name, st)
				}
			}
			check("at the answer")
			var found bool
			for _, r := range incidents(t) {
				if r.Instance == bystander.name {
					t.Errorf("an incident on %s, the sandbox nobody contained: %s", bystander.name, r.Incident.ID)
				}
				if r.Instance == target.name {
					found = true
					if r.Outcome != incident.OutcomeContained {
						t.Errorf("incident %s on %s: %s (%s), want contained", r.Incident.ID, target.name, r.Outcome, r.Reason)
					}
					for _, a := range r.Actions {
						if a.Action == "disable-secrets" && a.Target != target.secret {
							t.Errorf("incident %s disabled %q, want only %s's key %s", r.Incident.ID, a.Target, target.name, target.secret)
						}
					}
				}
			}
			if !found {
				t.Fatalf("no incident on %s\n%s", target.name, s.logs)
			}
			s.finishFollowUps(t)
			check("after the follow-up")
		})
	}
}

// otherOf is the other of the two sandboxes "configured" and second.
func otherOf(name, second string) string {
	if name == second {
		return "configured"
	}
	return second
}

func secretPath(project, id string) string { return "projects/" + project + "/secrets/" + id }

// versionStates are the states of a secret's versions, oldest first.
func versionStates(s *sandboxWorld, project, id string) []string {
	var out []string
	for _, v := range s.emu.SecretManager.Versions(secretPath(project, id)) {
		out = append(out, v.GetState().String())
	}
	return out
}

func vmStatus(s *sandboxWorld, name string) string {
	inst, _ := s.emu.Compute.Instance(s.cfg.Cloud.GCP.Project, s.cfg.Cloud.GCP.Zone, name)
	return inst.GetStatus()
}
