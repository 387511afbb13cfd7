package events

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// samplesDir is the shared sample folder, relative to this package's
// directory (go test runs there): /work/main/shared/events → /work/shared/samples.
const samplesDir = "../../../shared/samples"

// inlineSamples are copies of the shared samples so tests and fuzz seeds work
// where that folder is absent; files found on disk take precedence.
var inlineSamples = map[string]string{
	"monitoring-incident-open.json":                 `{"incident":{"condition":{"conditionThreshold":{"aggregations":[{"alignmentPeriod":"60s","perSeriesAligner":"ALIGN_MEAN"}],"comparison":"COMPARISON_GT","duration":"300s","filter":"resource.type = \"gce_instance\" AND metric.type = \"compute.googleapis.com/instance/cpu/utilization\"","thresholdValue":0.9,"trigger":{"count":1}},"displayName":"VM Instance - CPU utilization above 90%","name":"projects/coopguard-demo/alertPolicies/1234567890123456789/conditions/9876543210987654321"},"condition_name":"VM Instance - CPU utilization above 90%","documentation":{"content":"Sandbox CPU pegged: possible runaway or hijacked agent.","mime_type":"text/markdown","subject":"coopguard: sandbox CPU above 90%"},"ended_at":null,"incident_id":"0.n1m3x8a2b7kq","metadata":{"system_labels":{},"user_labels":{}},"metric":{"displayName":"CPU utilization","labels":{"instance_name":"claude-sandbox"},"type":"compute.googleapis.com/instance/cpu/utilization"},"observed_value":"0.973","policy_name":"coopguard sandbox CPU","policy_user_labels":{"coopguard-playbook":"contain"},"resource":{"labels":{"instance_id":"4410915023349531000","project_id":"coopguard-demo","zone":"us-central1-a"},"type":"gce_instance"},"resource_display_name":"claude-sandbox","resource_id":"","resource_name":"coopguard-demo claude-sandbox","resource_type_display_name":"VM Instance","scoping_project_id":"coopguard-demo","scoping_project_number":123456789012,"severity":"Critical","started_at":1795341600,"state":"open","summary":"CPU utilization for coopguard-demo claude-sandbox with metric labels {instance_name=claude-sandbox} is above the threshold of 0.900 with a value of 0.973.","threshold_value":"0.9","url":"https://console.cloud.google.com/monitoring/alerting/incidents/0.n1m3x8a2b7kq?project=coopguard-demo"},"version":"1.2"}`,
	"monitoring-incident-closed.json":               `{"incident":{"condition_name":"VM Instance - CPU utilization above 90%","ended_at":1795342200,"incident_id":"0.n1m3x8a2b7kq","observed_value":"0.412","policy_name":"coopguard sandbox CPU","policy_user_labels":{"coopguard-playbook":"contain"},"resource":{"labels":{"instance_id":"4410915023349531000","project_id":"coopguard-demo","zone":"us-central1-a"},"type":"gce_instance"},"resource_display_name":"claude-sandbox","scoping_project_id":"coopguard-demo","started_at":1795341600,"state":"closed","summary":"CPU utilization for coopguard-demo claude-sandbox returned to normal with a value of 0.412.","threshold_value":"0.9","url":"https://console.cloud.google.com/monitoring/alerting/incidents/0.n1m3x8a2b7kq?project=coopguard-demo"},"version":"1.2"}`,
	"monitoring-test-notification.json":             `{"incident":{"condition_name":"test condition","ended_at":null,"incident_id":"12345","policy_name":"Test policy","resource":{"labels":{"project_id":"coopguard-demo"},"type":"test_resource"},"resource_name":"Test resource","started_at":0,"state":"OPEN","summary":"This is a test notification.","url":"https://console.cloud.google.com/monitoring"},"version":"test"}`,
	"logentry-benign-instance-start.json":           `{"insertId":"-abc123def","logName":"projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Factivity","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"operator@example.com"},"methodName":"v1.compute.instances.start","resourceName":"projects/coopguard-demo/zones/us-central1-a/instances/claude-sandbox","serviceName":"compute.googleapis.com"},"resource":{"labels":{"instance_id":"4410915023349531000","project_id":"coopguard-demo","zone":"us-central1-a"},"type":"gce_instance"},"severity":"NOTICE","timestamp":"2026-11-22T08:00:00.000Z"}`,
	"logentry-secret-access-unknown-principal.json": `{"insertId":"7bq0s1d2e3f4","logName":"projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Fdata_access","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"someone@example.com"},"authorizationInfo":[{"granted":true,"permission":"secretmanager.versions.access","resource":"projects/123456789012/secrets/anthropic-api-key/versions/3"}],"methodName":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","requestMetadata":{"callerIp":"203.0.113.7"},"resourceName":"projects/123456789012/secrets/anthropic-api-key/versions/3","serviceName":"secretmanager.googleapis.com"},"receiveTimestamp":"2026-11-22T09:52:10.100Z","resource":{"labels":{"method":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","project_id":"coopguard-demo","service":"secretmanager.googleapis.com"},"type":"audited_resource"},"severity":"INFO","timestamp":"2026-11-22T09:52:09.870Z"}`,
	"logentry-setiampolicy-by-sandbox-sa.json":      `{"insertId":"1x9k2pe4ab7c","logName":"projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Factivity","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"cc-sandbox@coopguard-demo.iam.gserviceaccount.com"},"authorizationInfo":[{"granted":false,"permission":"resourcemanager.projects.setIamPolicy","resource":"projects/coopguard-demo"}],"methodName":"SetIamPolicy","requestMetadata":{"callerIp":"10.10.0.2","callerSuppliedUserAgent":"google-cloud-sdk gcloud/528.0.0"},"resourceName":"projects/coopguard-demo","serviceName":"cloudresourcemanager.googleapis.com","status":{"code":7,"message":"PERMISSION_DENIED"}},"receiveTimestamp":"2026-11-22T09:41:03.911Z","resource":{"labels":{"project_id":"coopguard-demo"},"type":"project"},"severity":"ERROR","timestamp":"2026-11-22T09:41:03.502Z"}`,
	"secretmanager-rotate-notification.json":        `{"attributes":{"dataFormat":"JSON_API_V1","eventType":"SECRET_ROTATE","secretId":"projects/123456789012/secrets/anthropic-api-key","timestamp":"2026-11-22T06:00:00.123456Z"},"data":{"createTime":"2026-08-01T10:00:00.000000Z","etag":"\"1620a1f9a8bd35\"","labels":{"coopguard-managed":"true"},"name":"projects/123456789012/secrets/anthropic-api-key","replication":{"automatic":{}},"rotation":{"nextRotationTime":"2027-02-20T06:00:00Z","rotationPeriod":"7776000s"},"topics":[{"name":"projects/coopguard-demo/topics/coopguard-rotation"}]}}`,
	"scheduler-rotation-message.json":               `{"attributes":{"coopguard-job":"rotate-keys"},"data":{"reason":"scheduled"}}`,
	"cloudevent-pubsub-binary-mode.http": `POST /HandleAlert HTTP/1.1
Host: localhost:8080
Content-Type: application/json
ce-id: 17342918237461
ce-source: //pubsub.googleapis.com/projects/coopguard-demo/topics/coopguard-alerts
ce-specversion: 1.0
ce-type: google.cloud.pubsub.topic.v1.messagePublished
ce-time: 2026-11-22T09:40:05.123Z

{"message":{"data":"<base64 of monitoring-incident-open.json>","attributes":{},"messageId":"17342918237461","publishTime":"2026-11-22T09:40:05.123Z"},"subscription":"projects/coopguard-demo/subscriptions/eventarc-us-central1-handlealert-sub-123"}
`,
}

// sample returns the named sample, from disk if present, else the inline copy.
func sample(tb testing.TB, name string) []byte {
	tb.Helper()
	if b, err := os.ReadFile(filepath.Join(samplesDir, name)); err == nil {
		return b
	}
	s, ok := inlineSamples[name]
	if !ok {
		tb.Fatalf("no sample %s", name)
	}
	return []byte(s)
}

// samplesWithPrefix returns every sample whose name starts with prefix,
// from disk and inline (duplicates are harmless as fuzz seeds).
func samplesWithPrefix(tb testing.TB, prefix string) [][]byte {
	tb.Helper()
	var out [][]byte
	for name, s := range inlineSamples {
		if strings.HasPrefix(name, prefix) {
			out = append(out, []byte(s))
		}
	}
	files, _ := filepath.Glob(filepath.Join(samplesDir, prefix+"*"))
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// wrappedMessage reads a sample shaped {attributes, data} (Secret Manager,
// Scheduler) into a PubSubMessage.
func wrappedMessage(tb testing.TB, raw []byte) PubSubMessage {
	tb.Helper()
	var w struct {
		Attributes map[string]string `json:"attributes"`
		Data       json.RawMessage   `json:"data"`
	}
	if err := json.Unmarshal(raw, &w); err != nil {
		tb.Fatalf("sample: %v", err)
	}
	return PubSubMessage{Attributes: w.Attributes, Data: w.Data, MessageID: "1"}
}

// pushBody returns the body of the binary-mode CloudEvent sample with its
// data placeholder replaced by the real base64 of the open incident.
func pushBody(tb testing.TB) []byte {
	tb.Helper()
	raw := strings.ReplaceAll(string(sample(tb, "cloudevent-pubsub-binary-mode.http")), "\r\n", "\n")
	_, body, ok := strings.Cut(raw, "\n\n")
	if !ok {
		tb.Fatal("http sample has no body")
	}
	enc := base64.StdEncoding.EncodeToString(sample(tb, "monitoring-incident-open.json"))
	return []byte(strings.Replace(strings.TrimSpace(body), "<base64 of monitoring-incident-open.json>", enc, 1))
}
