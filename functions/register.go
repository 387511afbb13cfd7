package functions

import (
	"context"
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"
)

// Function is one coopguard function under the name deploy uses: HTTP
// triggered, or triggered by a CloudEvent (Pub/Sub through Eventarc).
type Function struct {
	Name string
	// HTTP is set for an HTTP function, Event for an event function.
	HTTP  func(http.ResponseWriter, *http.Request)
	Event func(context.Context, event.Event) error
}

// Registered lists every coopguard function. This is the one place that
// lists them: init registers them with the functions framework (deployed),
// and `coopguard serve` serves them behind its own request checks.
var Registered = []Function{
	{Name: "Provision", HTTP: Provision},
	{Name: "Status", HTTP: Status},
	{Name: "Resolve", HTTP: Resolve},
	{Name: "Posture", HTTP: Posture},
	{Name: "HandleAlert", Event: HandleAlert},
	{Name: "HandleLogEntry", Event: HandleLogEntry},
	{Name: "RotateKeys", Event: RotateKeys},
	{Name: "FinishIncidents", Event: FinishIncidents},
}

// init registers every coopguard function with the functions framework.
func init() {
	for _, f := range Registered {
		if f.HTTP != nil {
			functions.HTTP(f.Name, f.HTTP)
		} else {
			functions.CloudEvent(f.Name, f.Event)
		}
	}
}
