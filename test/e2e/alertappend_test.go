package e2e

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// TestAlertAppendedToOpenIncident: a second Monitoring incident of the
// sandbox's CPU policy while the sandbox's first incident is open is one
// more line on that incident, as a later call by its account is: no
// second response, so the key version the operator added after the
// containment stays ENABLED.
func TestAlertAppendedToOpenIncident(t *testing.T) {
	t.Parallel()
	s := newSandbox(t, fastAgentTimeout)
	const first, second = "alert-0.n1m3x8a2b7kq", "alert-0.p2q4r6s8t0uv"
	if code := s.postEvent(t, "HandleAlert", structured, s.alert(t, "monitoring-incident-open.json"), nil); code != http.StatusOK {
		t.Fatalf("first HandleAlert = %d, logs:\n%s", code, s.logs)
	}
	if rep := s.incidents(t)[first]; rep.Outcome != incident.OutcomeContained {
		t.Fatalf("the first alert's incident is %q, want contained; logs:\n%s", rep.Outcome, s.logs)
	}
	// The runbook's rotation: a new version the contained identity cannot read.
	if _, err := s.operator.Secrets.AddSecretVersion(context.Background(), &secretmanagerpb.AddSecretVersionRequest{
		Parent: "projects/" + s.cfg.Cloud.GCP.Project + "/secrets/anthropic-api-key", Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-test-ROTATED")},
	}); err != nil {
		t.Fatal(err)
	}

	again := s.alert(t, "monitoring-incident-open.json", "0.n1m3x8a2b7kq", "0.p2q4r6s8t0uv")
	if code := s.postEvent(t, "HandleAlert", structured, again, nil); code != http.StatusOK {
		t.Fatalf("second HandleAlert = %d, logs:\n%s", code, s.logs)
	}
	reps := s.incidents(t)
	if _, ok := reps[second]; ok {
		t.Errorf("the second alert opened incident %s, want it appended to %s", second, first)
	}
	ap := reps[first].Appended
	if ap == nil || ap.Count != 1 || ap.Methods["Cloud Monitoring alert: VM Instance - CPU utilization above 90%"] != 1 || ap.Rules[reps[first].Incident.Trigger] != 1 {
		t.Errorf("%s appended = %+v, want the second alert counted once", first, ap)
	}
	if got := s.versionStates(t); !slices.Equal(got, []string{"DISABLED", "ENABLED"}) {
		t.Errorf("versions after the appended alert = %v, want the operator's new version left ENABLED", got)
	}
}
