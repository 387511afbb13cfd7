package functions

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"

	"github.com/cloudcoop/coopguard/functions/rotation"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// TestRotationDuringAnIncidentMindsTheIdentity: with a contain incident
// open on the sandbox, rotation adds the new version only while the
// sandbox's account is disabled, and says plainly the contained identity
// cannot reach it; with the account enabled it refuses, naming the fix,
// and changes nothing. Without an incident it says nothing of identity.
func TestRotationDuringAnIncidentMindsTheIdentity(t *testing.T) {
	for _, tt := range []struct {
		name           string
		open, disabled bool
		states, says   string
	}{
		{"no incident", false, false, "DISABLED,ENABLED,ENABLED", ""},
		{"incident open, identity disabled", true, true, "DISABLED,ENABLED,ENABLED", "the contained identity cannot reach it"},
		{"incident open, identity enabled", true, false, "ENABLED,ENABLED", "gcloud iam service-accounts disable"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var code atomic.Int32
			code.Store(200)
			srv := mintServer(t, &code)
			w := newRotWorld(t, []time.Duration{120 * rotDay, 91 * rotDay}, func(c *config.Config) {
				c.Coopguard.Rotation.KeySourceURL = srv.URL + "/mint"
				c.Coopguard.Rotation.KeySourceCredentialSecret = "mint-credential"
			})
			ctx := context.Background()
			cfg := w.env.Config
			w.emu.SecretManager.SeedVersions(cfg.Cloud.GCP.Project, "mint-credential", []byte("Xcred-VALUE-77"))
			sa := cfg.Cloud.GCP.ServiceAccount
			w.emu.IAMAdmin.SeedServiceAccount(cfg.Cloud.GCP.Project, sa[:strings.Index(sa, "@")])
			if tt.disabled {
				if err := w.env.Clients.IAMAdmin.DisableServiceAccount(ctx, &adminpb.DisableServiceAccountRequest{Name: "projects/" + cfg.Cloud.GCP.Project + "/serviceAccounts/" + sa}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.open {
				inc := incident.Incident{ID: "alert-rot-1", Source: incident.SourceAlert, Trigger: "test", Playbook: incident.PlaybookContain}
				if _, err := w.env.Store.Claim(ctx, inc, "responder", rotT0); err != nil {
					t.Fatal(err)
				}
				if err := w.env.Store.Acting(ctx, inc.ID, "responder", cfg.VM.Name); err != nil {
					t.Fatal(err)
				}
				if err := w.env.Store.Finish(ctx, inc.ID, "responder", &incident.Report{Incident: inc, Instance: cfg.VM.Name, Outcome: incident.OutcomeContained, ReceivedAt: rotT0, Actions: []incident.ActionResult{}}); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := RunRotation(ctx, w.env, rotation.Options{Trigger: "cli"})
			if got := strings.Join(w.states(), ","); got != tt.states {
				t.Errorf("states = %s, want %s", got, tt.states)
			}
			s := rep.Secrets[0]
			switch {
			case tt.says == "":
				if err != nil || s.Identity != "" {
					t.Errorf("rotation = %v, identity note %q; want no error, no note", err, s.Identity)
				}
			case tt.disabled:
				if err != nil || !strings.Contains(s.Identity, tt.says) || !strings.Contains(s.Identity, "alert-rot-1") {
					t.Errorf("rotation = %v, identity note %q; want it to say %q", err, s.Identity, tt.says)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.says) || !strings.Contains(s.Error, sa) {
					t.Errorf("rotation = %v (secret error %q), want a refusal naming %s and %q", err, s.Error, sa, tt.says)
				}
			}
		})
	}
}
