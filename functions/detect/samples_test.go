package detect

import (
	"os"
	"path/filepath"
	"testing"
)

// samplesDir is the shared sample folder relative to this package's
// directory: /work/main/functions/detect → /work/shared/samples.
const samplesDir = "../../../shared/samples"

// inlineSamples copy the log entry samples so tests work without that folder.
var inlineSamples = map[string]string{
	"logentry-benign-instance-start.json":           `{"insertId":"-abc123def","logName":"projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Factivity","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"operator@example.com"},"methodName":"v1.compute.instances.start","resourceName":"projects/coopguard-demo/zones/us-central1-a/instances/claude-sandbox","serviceName":"compute.googleapis.com"},"resource":{"labels":{"instance_id":"4410915023349531000","project_id":"coopguard-demo","zone":"us-central1-a"},"type":"gce_instance"},"severity":"NOTICE","timestamp":"2026-11-22T08:00:00.000Z"}`,
	"logentry-secret-access-unknown-principal.json": `{"insertId":"7bq0s1d2e3f4","logName":"projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Fdata_access","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"someone@example.com"},"authorizationInfo":[{"granted":true,"permission":"secretmanager.versions.access","resource":"projects/123456789012/secrets/anthropic-api-key/versions/3"}],"methodName":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","requestMetadata":{"callerIp":"203.0.113.7"},"resourceName":"projects/123456789012/secrets/anthropic-api-key/versions/3","serviceName":"secretmanager.googleapis.com"},"receiveTimestamp":"2026-11-22T09:52:10.100Z","resource":{"labels":{"method":"google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion","project_id":"coopguard-demo","service":"secretmanager.googleapis.com"},"type":"audited_resource"},"severity":"INFO","timestamp":"2026-11-22T09:52:09.870Z"}`,
	"logentry-setiampolicy-by-sandbox-sa.json":      `{"insertId":"1x9k2pe4ab7c","logName":"projects/coopguard-demo/logs/cloudaudit.googleapis.com%2Factivity","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"cc-sandbox@coopguard-demo.iam.gserviceaccount.com"},"authorizationInfo":[{"granted":false,"permission":"resourcemanager.projects.setIamPolicy","resource":"projects/coopguard-demo"}],"methodName":"SetIamPolicy","requestMetadata":{"callerIp":"10.10.0.2","callerSuppliedUserAgent":"google-cloud-sdk gcloud/528.0.0"},"resourceName":"projects/coopguard-demo","serviceName":"cloudresourcemanager.googleapis.com","status":{"code":7,"message":"PERMISSION_DENIED"}},"receiveTimestamp":"2026-11-22T09:41:03.911Z","resource":{"labels":{"project_id":"coopguard-demo"},"type":"project"},"severity":"ERROR","timestamp":"2026-11-22T09:41:03.502Z"}`,
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
