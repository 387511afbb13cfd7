package detect

import (
	"context"
	"slices"
	"testing"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	_ "google.golang.org/genproto/googleapis/iam/v1/logging" // AuditData in serviceData
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/cloudcoop/coopguard/test/emulator/logging"
)

// catalogueCases are the catalogue's techniques as GCP writes them, and
// their benign look-alikes, with the rules each must match.
func catalogueCases() []ruleCase {
	const op = `"authenticationInfo":{"principalEmail":"operator@example.com"}`
	const sa = `"authenticationInfo":{"principalEmail":"` + sandboxSA + `"}`
	const vm = `"resourceName":"projects/coopguard-demo/zones/us-central1-a/instances/claude-sandbox"`
	saRes := `"resourceName":"projects/-/serviceAccounts/` + sandboxSA + `"`
	tb := testSandbox
	tb.Pipeline = []string{"coopguard-logs", "my-alerts-topic"}
	// A share of a copy of the sandbox's disk, whose name says nothing
	// (CopyOf as HandleLogEntry reads it from Compute), and of a copy of
	// a disk of the same name in another project.
	copied := tb
	copied.CopyOf = "https://www.googleapis.com/compute/v1/projects/coopguard-demo/zones/us-central1-a/disks/claude-sandbox"
	elsewhere := tb
	elsewhere.CopyOf = "https://www.googleapis.com/compute/v1/projects/team-lab/zones/us-central1-a/disks/claude-sandbox"
	return []ruleCase{
		// The sandbox's account.
		{"sandbox SA imports an OS Login key", dataAccessEntry(`{` + sa + `,"methodName":"google.cloud.oslogin.v1.OsLoginService.ImportSshPublicKey","resourceName":"users/` + sandboxSA + `"}`), tb,
			[]string{RuleSandboxSAWrite}},
		{"sandbox SA runs an OS Config command", dataAccessEntry(`{` + sa + `,"methodName":"google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment","resourceName":"projects/coopguard-demo/locations/us-central1-a/osPolicyAssignments/x"}`), tb,
			[]string{RuleSandboxSAWrite}},
		{"sandbox SA signs a JWT for another account", dataAccessEntry(`{` + sa + `,"methodName":"SignJwt","resourceName":"projects/-/serviceAccounts/other@coopguard-demo.iam.gserviceaccount.com"}`), tb,
			[]string{RuleSandboxSAPrivilegedCall}},
		{"sandbox SA moves the project (refused)", auditEntry(`{` + sa + `,"methodName":"MoveProject","resourceName":"projects/coopguard-demo","status":{"code":7}}`), tb,
			[]string{RuleSandboxSADenied, RuleSandboxSAWrite}},
		{"sandbox SA reads its own key (data access)", dataAccessEntry(`{` + sa + `,"methodName":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","resourceName":"projects/123/secrets/anthropic-api-key/versions/1"}`), tb, nil},

		// Another principal handing the sandbox power.
		{"operator mints a key for the sandbox's account", auditEntry(`{` + op + `,"methodName":"google.iam.admin.v1.CreateServiceAccountKey",` + saRes + `}`), tb,
			[]string{RuleSandboxHandedPower}},
		{"operator mints a token for the sandbox's account", dataAccessEntry(`{` + op + `,"methodName":"GenerateAccessToken",` + saRes + `}`), tb,
			[]string{RuleSandboxHandedPower}},
		{"someone refused a token for the sandbox's account", dataAccessEntry(`{` + op + `,"methodName":"GenerateAccessToken",` + saRes + `,"status":{"code":7}}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator lets someone act as the sandbox's account", auditEntry(`{` + op + `,"methodName":"google.iam.admin.v1.SetIAMPolicy",` + saRes + `,"serviceData":{"@type":"type.googleapis.com/google.iam.v1.logging.AuditData","policyDelta":{"bindingDeltas":[{"action":"ADD","role":"roles/iam.serviceAccountTokenCreator","member":"user:x@evil.example"}]}}}`), tb,
			[]string{RuleSandboxHandedPower}},
		{"operator removes someone from the sandbox account's policy", auditEntry(`{` + op + `,"methodName":"google.iam.admin.v1.SetIAMPolicy",` + saRes + `,"serviceData":{"@type":"type.googleapis.com/google.iam.v1.logging.AuditData","policyDelta":{"bindingDeltas":[{"action":"REMOVE","role":"roles/iam.serviceAccountTokenCreator","member":"user:x@evil.example"}]}}}`), tb, nil},
		{"operator grants the sandbox's account a project role", auditEntry(`{` + op + `,"methodName":"SetIamPolicy","resourceName":"projects/coopguard-demo","serviceData":{"@type":"type.googleapis.com/google.iam.v1.logging.AuditData","policyDelta":{"bindingDeltas":[{"action":"ADD","role":"roles/iap.tunnelResourceAccessor","member":"serviceAccount:` + sandboxSA + `"}]}}}`), tb,
			[]string{RuleSandboxHandedPower}},
		{"operator grants someone else a project role", auditEntry(`{` + op + `,"methodName":"SetIamPolicy","resourceName":"projects/coopguard-demo","serviceData":{"@type":"type.googleapis.com/google.iam.v1.logging.AuditData","policyDelta":{"bindingDeltas":[{"action":"ADD","role":"roles/viewer","member":"user:new@example.com"}]}}}`), tb, nil},
		{"operator plants a startup script on the sandbox VM", auditEntry(`{` + op + `,"methodName":"v1.compute.instances.setMetadata",` + vm + `,"metadata":{"instanceMetadataDelta":{"addedMetadataKeys":["startup-script"]}}}`), tb,
			[]string{RuleSandboxHandedPower}},
		{"operator changes the sandbox VM's ssh-keys", auditEntry(`{` + op + `,"methodName":"v1.compute.instances.setMetadata",` + vm + `,"metadata":{"instanceMetadataDelta":{"modifiedMetadataKeys":["ssh-keys"]}}}`), tb,
			[]string{RuleSandboxHandedPower}},
		{"operator adds a note to the sandbox VM's metadata", auditEntry(`{` + op + `,"methodName":"v1.compute.instances.setMetadata",` + vm + `,"metadata":{"instanceMetadataDelta":{"addedMetadataKeys":["owner-note"]}}}`), tb, nil},
		{"operator plants a startup script on another VM", auditEntry(`{` + op + `,"methodName":"v1.compute.instances.setMetadata","resourceName":"projects/coopguard-demo/zones/us-central1-a/instances/web","metadata":{"instanceMetadataDelta":{"addedMetadataKeys":["startup-script"]}}}`), tb, nil},
		{"operator gives the sandbox VM another account", auditEntry(`{` + op + `,"methodName":"v1.compute.instances.setServiceAccount",` + vm + `}`), tb,
			[]string{RuleSandboxHandedPower}},
		{"operator shares the sandbox's disk", auditEntry(`{` + op + `,"methodName":"v1.compute.disks.setIamPolicy","resourceName":"projects/coopguard-demo/zones/us-central1-a/disks/claude-sandbox"}`), tb,
			[]string{RuleSandboxHandedPower}},
		{"operator shares a copy of the sandbox's disk named golden", auditEntry(`{` + op + `,"methodName":"v1.compute.images.setIamPolicy","resourceName":"projects/coopguard-demo/global/images/golden"}`), copied,
			[]string{RuleSandboxHandedPower}},
		{"operator shares a snapshot of the sandbox's disk named backup-1", auditEntry(`{` + op + `,"methodName":"v1.compute.snapshots.setIamPolicy","resourceName":"projects/coopguard-demo/global/snapshots/backup-1"}`), copied,
			[]string{RuleSandboxHandedPower}},
		{"operator shares an image named golden of another disk", auditEntry(`{` + op + `,"methodName":"v1.compute.images.setIamPolicy","resourceName":"projects/coopguard-demo/global/images/golden"}`), tb, nil},
		{"operator shares a copy of a same-named disk of another project", auditEntry(`{` + op + `,"methodName":"v1.compute.images.setIamPolicy","resourceName":"projects/coopguard-demo/global/images/golden"}`), elsewhere, nil},
		{"operator shares an image of the sandbox's disk", auditEntry(`{` + op + `,"methodName":"v1.compute.images.setIamPolicy","resourceName":"projects/coopguard-demo/global/images/claude-sandbox-copy"}`), tb,
			[]string{RuleSandboxHandedPower}},

		// Another principal around the sandbox: notify.
		{"operator snapshots the sandbox's disk", auditEntry(`{` + op + `,"methodName":"v1.compute.disks.createSnapshot","resourceName":"projects/coopguard-demo/zones/us-central1-a/disks/claude-sandbox"}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator peers the sandbox's network", auditEntry(`{` + op + `,"methodName":"v1.compute.networks.addPeering","resourceName":"projects/coopguard-demo/global/networks/coopguard-net"}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator adds a route on the sandbox's network", auditEntry(`{` + op + `,"methodName":"v1.compute.routes.insert","resourceName":"projects/coopguard-demo/global/routes/out","request":{"network":"projects/coopguard-demo/global/networks/coopguard-net"}}`), tb,
			[]string{RuleDefenceChanged, RuleSandboxSurroundingsChanged}},
		// Route deletion: the entry names only the route, so coopguard's
		// own egress route is known by its name.
		{"operator deletes coopguard's egress route", auditEntry(`{` + op + `,"methodName":"v1.compute.routes.delete","resourceName":"projects/coopguard-demo/global/routes/coopguard-claude-sandbox-egress","request":{"@type":"type.googleapis.com/compute.routes.delete"}}`), tb,
			[]string{RuleDefenceChanged}},
		{"sandbox SA deletes coopguard's egress route (denied)", auditEntry(`{` + sa + `,"methodName":"v1.compute.routes.delete","resourceName":"projects/coopguard-demo/global/routes/coopguard-claude-sandbox-egress","status":{"code":7}}`), tb,
			[]string{RuleSandboxSADenied, RuleDefenceTampering, RuleSandboxSAWrite}},
		{"sandbox SA adds a route on its network (denied)", auditEntry(`{` + sa + `,"methodName":"v1.compute.routes.insert","resourceName":"projects/coopguard-demo/global/routes/out","request":{"network":"global/networks/coopguard-net"},"status":{"code":7}}`), tb,
			[]string{RuleSandboxSADenied, RuleDefenceTampering, RuleSandboxSAWrite}},
		{"operator deletes a route coopguard does not own", auditEntry(`{` + op + `,"methodName":"v1.compute.routes.delete","resourceName":"projects/coopguard-demo/global/routes/team-egress"}`), tb, nil},
		{"operator makes an image of the sandbox's disk", auditEntry(`{` + op + `,"methodName":"v1.compute.images.insert","resourceName":"projects/coopguard-demo/global/images/golden","request":{"@type":"type.googleapis.com/compute.images.insert","sourceDisk":"zones/us-central1-a/disks/claude-sandbox"}}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator makes an image of another disk", auditEntry(`{` + op + `,"methodName":"v1.compute.images.insert","resourceName":"projects/coopguard-demo/global/images/golden","request":{"@type":"type.googleapis.com/compute.images.insert","sourceDisk":"zones/us-central1-a/disks/claude-sandbox-2"}}`), tb, nil},
		{"operator adds a route elsewhere", auditEntry(`{` + op + `,"methodName":"v1.compute.routes.insert","resourceName":"projects/coopguard-demo/global/routes/out","request":{"network":"projects/coopguard-demo/global/networks/default"}}`), tb, nil},
		{"operator turns audit logs off", auditEntry(`{` + op + `,"methodName":"SetIamPolicy","resourceName":"projects/coopguard-demo","serviceData":{"@type":"type.googleapis.com/google.iam.v1.logging.AuditData","policyDelta":{"auditConfigDeltas":[{"action":"REMOVE","service":"allServices","logType":"ADMIN_READ"}]}}}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator deletes coopguard's logs topic", auditEntry(`{` + op + `,"methodName":"google.pubsub.v1.Publisher.DeleteTopic","resourceName":"projects/coopguard-demo/topics/my-alerts-topic"}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator deletes another topic", auditEntry(`{` + op + `,"methodName":"google.pubsub.v1.Publisher.DeleteTopic","resourceName":"projects/coopguard-demo/topics/builds"}`), tb, nil},
		{"operator changes a coopguard function", auditEntry(`{` + op + `,"methodName":"google.cloud.functions.v2.FunctionService.UpdateFunction","resourceName":"projects/coopguard-demo/locations/us-central1/functions/coopguard-handle-log-entry"}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator opens a coopguard function through the Functions API", auditEntry(`{` + op + `,"methodName":"SetIamPolicy","resourceName":"projects/coopguard-demo/locations/us-central1/functions/coopguard-handle-log-entry"}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator opens the team's function through the Functions API", auditEntry(`{` + op + `,"methodName":"SetIamPolicy","resourceName":"projects/coopguard-demo/locations/us-central1/functions/team-api"}`), tb, nil},
		{"operator deletes an Eventarc subscription of coopguard", auditEntry(`{` + op + `,"methodName":"google.pubsub.v1.Subscriber.DeleteSubscription","resourceName":"projects/coopguard-demo/subscriptions/eventarc-us-central1-coopguard-handle-log-entry-000000-sub-000"}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator edits coopguard's custom role", auditEntry(`{` + op + `,"methodName":"google.iam.admin.v1.UpdateRole","resourceName":"projects/coopguard-demo/roles/coopguardResponder"}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator disables coopguard's responder", auditEntry(`{` + op + `,"methodName":"google.iam.admin.v1.DisableServiceAccount","resourceName":"projects/-/serviceAccounts/coopguard-responder@coopguard-demo.iam.gserviceaccount.com"}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator changes project metadata", auditEntry(`{` + op + `,"methodName":"v1.compute.projects.setCommonInstanceMetadata","resourceName":"projects/coopguard-demo"}`), tb,
			[]string{RuleSandboxSurroundingsChanged}},
		{"operator subscribes to coopguard's logs topic", auditEntry(`{` + op + `,"methodName":"google.pubsub.v1.Subscriber.CreateSubscription","resourceName":"projects/coopguard-demo/subscriptions/copy","authorizationInfo":[{"resource":"projects/coopguard-demo/subscriptions/copy","permission":"pubsub.subscriptions.create","granted":true},{"resource":"projects/coopguard-demo/topics/coopguard-logs","permission":"pubsub.topics.attachSubscription","granted":true}]}`), tb,
			[]string{RulePipelineTopicSubscribed}},
		{"operator subscribes to coopguard's configured alerts topic", auditEntry(`{` + op + `,"methodName":"google.pubsub.v1.Subscriber.CreateSubscription","resourceName":"projects/coopguard-demo/subscriptions/eventarc-x-coopguard-y","authorizationInfo":[{"resource":"projects/coopguard-demo/topics/my-alerts-topic","permission":"pubsub.topics.attachSubscription","granted":true}]}`), tb,
			[]string{RulePipelineTopicSubscribed}},
		{"Eventarc's agent subscribes a coopguard trigger", auditEntry(`{"authenticationInfo":{"principalEmail":"service-123@gcp-sa-eventarc.iam.gserviceaccount.com"},"methodName":"google.pubsub.v1.Subscriber.CreateSubscription","resourceName":"projects/coopguard-demo/subscriptions/eventarc-us-central1-coopguard-handle-log-entry-000000-sub-000","authorizationInfo":[{"resource":"projects/coopguard-demo/topics/coopguard-logs","permission":"pubsub.topics.attachSubscription","granted":true}]}`), tb, nil},
		{"operator subscribes to the team's topic", auditEntry(`{` + op + `,"methodName":"google.pubsub.v1.Subscriber.CreateSubscription","resourceName":"projects/coopguard-demo/subscriptions/coopguard-logs","authorizationInfo":[{"resource":"projects/coopguard-demo/topics/team-builds","permission":"pubsub.topics.attachSubscription","granted":true}]}`), tb, nil},
		{"operator gives the sandbox VM an external address", auditEntry(`{` + op + `,"methodName":"v1.compute.instances.addAccessConfig",` + vm + `}`), tb,
			[]string{RuleSandboxExposed}},
		{"operator moves the sandbox VM's interface", auditEntry(`{` + op + `,"methodName":"v1.compute.instances.updateNetworkInterface",` + vm + `}`), tb,
			[]string{RuleSandboxExposed}},
		{"operator gives another VM an external address", auditEntry(`{` + op + `,"methodName":"v1.compute.instances.addAccessConfig","resourceName":"projects/coopguard-demo/zones/us-central1-a/instances/web"}`), tb, nil},
		{"operator runs an OS Config command on the zone's VMs", dataAccessEntry(`{` + op + `,"methodName":"google.cloud.osconfig.v1.OsConfigZonalService.CreateOSPolicyAssignment","resourceName":"projects/coopguard-demo/locations/us-central1-a/osPolicyAssignments/x"}`), tb,
			[]string{RuleOSPolicyByOther}},
		{"operator starts a patch job", dataAccessEntry(`{` + op + `,"methodName":"google.cloud.osconfig.v1.OsConfigService.ExecutePatchJob","resourceName":"projects/coopguard-demo/patchJobs/x"}`), tb,
			[]string{RuleOSPolicyByOther}},
		{"operator lists OS policy assignments", dataAccessEntry(`{` + op + `,"methodName":"google.cloud.osconfig.v1.OsConfigZonalService.ListOSPolicyAssignments","resourceName":"projects/coopguard-demo/locations/us-central1-a"}`), tb, nil},
		{"operator mirrors the sandbox network's traffic", auditEntry(`{` + op + `,"methodName":"v1.compute.packetMirrorings.insert","resourceName":"projects/coopguard-demo/regions/us-central1/packetMirrorings/tap","request":{"@type":"type.googleapis.com/compute.packetMirrorings.insert","name":"tap","network":{"url":"https://www.googleapis.com/compute/v1/projects/coopguard-demo/global/networks/` + tb.Network + `"},"mirroredResources":{"instances":[{"url":"projects/coopguard-demo/zones/us-central1-a/instances/claude-sandbox"}]}}}`), tb,
			[]string{RuleSandboxTrafficMirrored}},
		{"operator mirrors another network's traffic", auditEntry(`{` + op + `,"methodName":"v1.compute.packetMirrorings.insert","resourceName":"projects/coopguard-demo/regions/us-central1/packetMirrorings/tap","request":{"@type":"type.googleapis.com/compute.packetMirrorings.insert","name":"tap","network":{"url":"projects/coopguard-demo/global/networks/team-net"}}}`), tb, nil},
		{"operator adds the sandbox's VM to a mirroring", auditEntry(`{` + op + `,"methodName":"v1.compute.packetMirrorings.patch","resourceName":"projects/coopguard-demo/regions/us-central1/packetMirrorings/tap","request":{"@type":"type.googleapis.com/compute.packetMirrorings.patch","mirroredResources":{"instances":[{"url":"zones/us-central1-a/instances/claude-sandbox"}]}}}`), tb,
			[]string{RuleSandboxTrafficMirrored}},
		{"operator adds the sandbox's subnet to a mirroring", auditEntry(`{` + op + `,"methodName":"v1.compute.packetMirrorings.patch","resourceName":"projects/coopguard-demo/regions/us-central1/packetMirrorings/tap","request":{"@type":"type.googleapis.com/compute.packetMirrorings.patch","mirroredResources":{"subnetworks":[{"url":"regions/us-central1/subnetworks/coopguard-subnet"}]}}}`), withSubnet("coopguard-subnet"),
			[]string{RuleSandboxTrafficMirrored}},
		{"operator adds another VM to a mirroring", auditEntry(`{` + op + `,"methodName":"v1.compute.packetMirrorings.patch","resourceName":"projects/coopguard-demo/regions/us-central1/packetMirrorings/tap","request":{"@type":"type.googleapis.com/compute.packetMirrorings.patch","mirroredResources":{"instances":[{"url":"zones/us-central1-a/instances/claude-sandbox-2"}]}}}`), tb, nil},
		{"operator adds another subnet to a mirroring", auditEntry(`{` + op + `,"methodName":"v1.compute.packetMirrorings.patch","resourceName":"projects/coopguard-demo/regions/us-central1/packetMirrorings/tap","request":{"@type":"type.googleapis.com/compute.packetMirrorings.patch","mirroredResources":{"subnetworks":[{"url":"regions/us-central1/subnetworks/team-subnet"}]}}}`), withSubnet("coopguard-subnet"), nil},
		{"operator changes the sandbox VM's external address", auditEntry(`{` + op + `,"methodName":"v1.compute.instances.updateAccessConfig",` + vm + `}`), tb,
			[]string{RuleSandboxExposed}},

		// False positives gone.
		{"someone refused the key", dataAccessEntry(`{` + op + `,"methodName":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","resourceName":"projects/123/secrets/anthropic-api-key/versions/1","status":{"code":7}}`), tb,
			[]string{RuleForeignSecretAccessDenied}},
		{"someone reads the key", dataAccessEntry(`{` + op + `,"methodName":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","resourceName":"projects/123/secrets/anthropic-api-key/versions/1"}`), tb,
			[]string{RuleForeignSecretAccess}},
	}
}

// sinkDrops are look-alikes the sink filter itself must drop: it admits
// what the catalogue rules need and nothing more. (The sandbox reading its
// own key is admitted: the origin rules judge where it came from.)
var sinkDrops = map[string]bool{
	"operator grants someone else a project role":       true,
	"operator adds a note to the sandbox VM's metadata": true,
	"operator plants a startup script on another VM":    true,
	"operator adds a route elsewhere":                   true,
	"operator deletes another topic":                    true,
	"operator subscribes to the team's topic":           true,
	"operator gives another VM an external address":     true,
	"operator lists OS policy assignments":              true,
	"operator mirrors another network's traffic":        true,
	"operator adds another VM to a mirroring":           true,
}

// TestCatalogueRules: each technique matches the rule the coverage table
// names, each look-alike none, and the sink filter admits every match and
// drops the look-alikes of sinkDrops.
func TestCatalogueRules(t *testing.T) {
	eng := defaultEngine(t)
	dropCases := 0
	for _, tt := range catalogueCases() {
		if sinkDrops[tt.name] {
			dropCases++
		}
		t.Run(tt.name, func(t *testing.T) {
			if admitted := judge(t, eng, tt.entry, tt.sandbox, tt.want); sinkDrops[tt.name] && admitted {
				t.Errorf("the sink filter admits a look-alike no rule needs")
			}
		})
	}
	if dropCases != len(sinkDrops) {
		t.Errorf("%d of the %d sinkDrops name a case", dropCases, len(sinkDrops))
	}
}

// judge evaluates entry for sb, checks the rules that match are want and
// that the sink filter admits the entry whenever a rule matches, and
// returns whether the sink admits it.
func judge(t *testing.T, eng *Engine, entry []byte, sb Sandbox, want []string) bool {
	t.Helper()
	matches, err := eng.Evaluate(context.Background(), decode(t, entry), sb)
	if err != nil {
		t.Errorf("Evaluate diagnostics: %v", err)
	}
	if got := ruleNames(matches); !slices.Equal(got, want) {
		t.Errorf("matches = %v, want %v", got, want)
	}
	f, err := logging.ParseFilter(SinkFilter(sb))
	if err != nil {
		t.Fatalf("the sink filter does not parse: %v", err)
	}
	var pb loggingpb.LogEntry
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(entry, &pb); err != nil {
		t.Fatal(err)
	}
	admitted := f.MatchEntry(&pb)
	if len(matches) > 0 && !admitted {
		t.Errorf("a rule matches but the sink filter drops the entry")
	}
	return admitted
}

// withSubnet is testSandbox with its subnetwork among the resources
// coopguard made for it, as HandleLogEntry describes a sandbox.
func withSubnet(name string) Sandbox {
	sb := testSandbox
	sb.Resources = append([]string{name}, testSandbox.Resources...)
	return sb
}
