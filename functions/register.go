package functions

import "github.com/GoogleCloudPlatform/functions-framework-go/functions"

// init registers every coopguard function with the functions framework,
// under the names deploy uses. This is the one place that lists them.
func init() {
	functions.HTTP("Provision", Provision)
	functions.HTTP("Status", Status)
	functions.HTTP("Resolve", Resolve)
	functions.HTTP("Posture", Posture)
	functions.CloudEvent("HandleAlert", HandleAlert)
	functions.CloudEvent("HandleLogEntry", HandleLogEntry)
	functions.CloudEvent("RotateKeys", RotateKeys)
}
