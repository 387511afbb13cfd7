package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// TestContainingOneSandboxLeavesTheOthersKey is issue 20's "each sandbox
// has its own key", on GCP's clock: two sandboxes, the configured one and
// one Provision built as sbx2, each reading only its own key. Containing
// either disables its own key's versions and stops its own VM; the other's
// versions stay ENABLED, its account still reads its key, its VM stays
// RUNNING — at the answer and after the follow-up has finished.
func TestContainingOneSandboxLeavesTheOthersKey(t *testing.T) {
	t.Parallel()
	const second = "sbx2"
	for _, contained := range []string{"configured", second} {
		t.Run("contain "+contained, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t, fastAgentTimeout)
			p := w.cfg.Cloud.GCP.Project
			id, err := provisioner.ServiceAccountID(second)
			if err != nil {
				t.Fatal(err)
			}
			type box struct {
				name, account, secret string
			}
			boxes := map[string]box{
				"configured": {w.cfg.VM.Name, w.cfg.Cloud.GCP.ServiceAccount, w.cfg.Coopguard.Secrets[0]},
				second:       {second, config.AccountEmail(id, p), w.cfg.SandboxSecrets(second)[0]},
			}
			if got, want := boxes[second].secret, "anthropic-api-key-"+second; got != want {
				t.Fatalf("sandbox %s's secret is %s, want %s", second, got, want)
			}
			// The operator puts sbx2's key in its own secret before
			// provisioning (Provision keeps an existing secret), and a
			// second version in each, so "every enabled version" means
			// more than one. Both come before the incident on GCP's
			// clock, which provisioning moves on, so restore may
			// re-enable them.
			if _, err := w.operator.Secrets.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/" + p, SecretId: boxes[second].secret,
				Secret: &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}}}); err != nil {
				t.Fatal(err)
			}
			for _, b := range boxes {
				n := 1
				if b.name == second {
					n = 2
				}
				for range n {
					if _, err := w.operator.Secrets.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
						Parent: secretPath(p, b.secret), Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-test-SECRET-PAYLOAD-" + b.name)},
					}); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, body := range []string{"", `{"name":"` + second + `"}`} {
				if code, rep := w.provision(t, body); code != http.StatusOK {
					t.Fatalf("provision %s = %d: %+v", body, code, rep.Failed())
				}
			}
			inst, _ := w.emu.Compute.Instance(p, w.cfg.Cloud.GCP.Zone, w.cfg.VM.Name)
			s := &sandboxWorld{world: w, vmID: strconv.FormatUint(inst.GetId(), 10)}
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

			// Status (the reader, under its widened condition) shows
			// each sandbox's own key.
			code, b := w.do(t, http.MethodGet, "/Status", "", nil)
			var st functions.StatusReport
			if err := json.Unmarshal(b, &st); code != http.StatusOK || err != nil {
				t.Fatalf("Status = %d %v %s", code, err, b)
			}
			for _, bx := range boxes {
				if !slices.ContainsFunc(st.Secrets, func(s functions.SecretStatus) bool {
					return s.Name == secretPath(p, bx.secret) && s.Sandbox == bx.name && len(s.Versions) >= 2
				}) {
					t.Errorf("Status does not list %s's secret %s with its versions: %+v", bx.name, bx.secret, st.Secrets)
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
			if code := w.postEvent(t, fn, binary, event, nil); code != http.StatusOK {
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
				for _, b := range []box{target, bystander} {
					sa, err := s.operator.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: "projects/-/serviceAccounts/" + b.account})
					if want := b == target; err != nil || sa.GetDisabled() != want {
						t.Errorf("%s: sandbox %s's account %s: disabled %v (%v), want %v", when, b.name, b.account, sa.GetDisabled(), err, want)
					}
				}
				if st := vmStatus(s, target.name); st != "STOPPING" && st != "TERMINATED" {
					t.Errorf("%s: the contained sandbox %s's VM is %s, want it stopped", when, target.name, st)
				}
			}
			check("at the answer")
			var targetID string
			for _, r := range w.incidents(t) {
				if r.Instance == bystander.name {
					t.Errorf("an incident on %s, the sandbox nobody contained: %s", bystander.name, r.Incident.ID)
				}
				if r.Instance == target.name {
					targetID = r.Incident.ID
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
			if targetID == "" {
				t.Fatalf("no incident on %s\n%s", target.name, s.logs)
			}
			s.finishFollowUps(t)
			check("after the follow-up")

			// The restorer re-enables the contained sandbox's own versions
			// (its condition names them) and nothing of the other's.
			if code, _, body := w.resolve(t, `{"id":"`+targetID+`","restore":true}`); code != http.StatusOK {
				t.Fatalf("Resolve --restore %s = %d %s", targetID, code, body)
			}
			for _, b := range []box{target, bystander} {
				if got := versionStates(s, p, b.secret); len(got) < 2 || slices.ContainsFunc(got, func(st string) bool { return st != "ENABLED" }) {
					t.Errorf("after the restore: sandbox %s's key versions = %v, want all ENABLED", b.name, got)
				}
				if err := reads(b, b.secret); err != nil {
					t.Errorf("after the restore: sandbox %s's account cannot read its key: %v", b.name, err)
				}
				if st := vmStatus(s, b.name); st != "RUNNING" {
					t.Errorf("after the restore: sandbox %s's VM is %s, want RUNNING", b.name, st)
				}
			}
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

// TestRotateKeysCoversEverySandboxsKey: the scheduled rotation covers each
// sandbox's own key, as the rotator under its widened condition: sbx2's
// superseded version is disabled, the configured sandbox's (not due) left
// alone; a SECRET_ROTATE for sbx2's secret is a managed secret's.
func TestRotateKeysCoversEverySandboxsKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fastAgentTimeout)
	for _, body := range []string{"", `{"name":"sbx2"}`} {
		if code, rep := w.provision(t, body); code != http.StatusOK {
			t.Fatalf("provision %s = %d: %+v", body, code, rep.Failed())
		}
	}
	ctx := context.Background()
	p := w.cfg.Cloud.GCP.Project
	own := secretPath(p, w.cfg.SandboxSecrets("sbx2")[0])
	for range 2 {
		if _, err := w.operator.Secrets.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: own, Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-test-SECRET-PAYLOAD-sbx2")}}); err != nil {
			t.Fatal(err)
		}
	}
	w.emu.Clock.Set(rotateT0)
	w.emu.SecretManager.SetVersionCreateTime(own+"/versions/1", rotateT0.Add(-120*rotateDay))
	w.emu.SecretManager.SetVersionCreateTime(own+"/versions/2", rotateT0.Add(-91*rotateDay))
	configured := secretPath(p, w.cfg.Coopguard.Secrets[0])
	w.emu.SecretManager.SetVersionCreateTime(configured+"/versions/1", rotateT0.Add(-rotateDay))

	if code, body := w.postPubSub(t, "/RotateKeys", schedulerMsg, false); code != http.StatusOK {
		t.Fatalf("RotateKeys = %d %s\n%s", code, body, w.logs)
	}
	states := func(name string) string {
		var out []string
		for _, v := range w.emu.SecretManager.Versions(name) {
			out = append(out, v.GetState().String())
		}
		return strings.Join(out, ",")
	}
	if got := states(own); got != "DISABLED,ENABLED" {
		t.Errorf("sbx2's key after rotation = %s, want its superseded version DISABLED\n%s", got, w.logs)
	}
	if got := states(configured); got != "ENABLED" {
		t.Errorf("the configured sandbox's key = %s, want it untouched", got)
	}

	rotate := events.PubSubMessage{MessageID: "rotate-sbx2", Attributes: map[string]string{
		"eventType": "SECRET_ROTATE", "secretId": own, "dataFormat": "JSON_API_V1", "timestamp": "2026-11-22T06:00:00.123456Z",
	}, Data: []byte(`{"name":"` + own + `","rotation":{"rotationPeriod":"7776000s"}}`)}
	if code, body := w.postPubSub(t, "/RotateKeys", rotate, false); code != http.StatusOK {
		t.Fatalf("RotateKeys (SECRET_ROTATE for sbx2's key) = %d %s", code, body)
	}
	if strings.Contains(w.logs.String(), "SECRET_ROTATE for a secret coopguard does not manage") {
		t.Errorf("sbx2's own secret was taken for an unmanaged one:\n%s", w.logs)
	}
}
