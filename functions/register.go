package functions

import (
	"context"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// Function is one coopguard function under the name deploy uses: HTTP
// triggered, or triggered by a CloudEvent (Pub/Sub through Eventarc). It
// runs on the Env it is given (Handlers binds it).
type Function struct {
	Name string
	// HTTP is set for an HTTP function, Event for an event function.
	HTTP  func(*Env, http.ResponseWriter, *http.Request)
	Event func(*Env, context.Context, event.Event) error
}

// handlers are the functions' code by entry point; which account runs each
// and on which trigger is config.Jobs' (functions/register_test.go checks
// that every declared function has its handler, of its trigger's kind).
var handlers = map[string]Function{
	"Provision":       {HTTP: (*Env).Provision},
	"Status":          {HTTP: (*Env).Status},
	"Resolve":         {HTTP: (*Env).Resolve},
	"Posture":         {HTTP: (*Env).Posture},
	"HandleAlert":     {Event: (*Env).HandleAlert},
	"HandleLogEntry":  {Event: (*Env).HandleLogEntry},
	"RotateKeys":      {Event: (*Env).RotateKeys},
	"FinishIncidents": {Event: (*Env).FinishIncidents},
	"HandleBudget":    {Event: (*Env).HandleBudget},
	"WatchCosts":      {Event: (*Env).WatchCosts},
	"Review":          {Event: (*Env).Review},
	"ReviewReport":    {HTTP: (*Env).ReviewReport},
}

// Registered lists every coopguard function, in config.Jobs' order: init
// registers them with the functions framework (deployed), and `coopguard
// serve` and the tests serve them (Handlers) on an Env of their own. A
// declared function without a handler is left out (and fails
// register_test.go).
var Registered = func() []Function {
	var out []Function
	for _, d := range config.Functions() {
		if f, ok := handlers[d.Name]; ok {
			f.Name = d.Name
			out = append(out, f)
		}
	}
	return out
}()

// Handler is a registered function bound to an Env: what a server serves
// at /Name.
type Handler struct {
	Name string
	// HTTP is set for an HTTP function, Event for an event function.
	HTTP  http.HandlerFunc
	Event func(context.Context, event.Event) error
}

// Handlers returns every registered function bound to e.
func Handlers(e *Env) []Handler {
	return bind(func(context.Context) (*Env, error) { return e, nil })
}

// bind binds every registered function to the Env env returns: a failure
// answers 500 (HTTP) or returns the error, so Pub/Sub redelivers.
func bind(env func(context.Context) (*Env, error)) []Handler {
	out := make([]Handler, 0, len(Registered))
	for _, f := range Registered {
		h := Handler{Name: f.Name}
		if f.HTTP != nil {
			h.HTTP = func(w http.ResponseWriter, r *http.Request) {
				e, err := env(r.Context())
				if err != nil {
					writeError(w, http.StatusInternalServerError, "coopguard is not configured: %v", err)
					return
				}
				f.HTTP(e, w, r)
			}
		} else {
			h.Event = func(ctx context.Context, ev event.Event) error {
				e, err := env(ctx)
				if err != nil {
					return err
				}
				return f.Event(e, ctx, ev)
			}
		}
		out = append(out, h)
	}
	return out
}

// init registers every coopguard function with the functions framework,
// each on the Env of the deployed process: built from the process
// environment (COOPGUARD_CONFIG, see Open) on first use, and again on the
// next use if that failed.
func init() {
	var (
		mu  sync.Mutex
		env *Env
	)
	deployed := func(ctx context.Context) (*Env, error) {
		mu.Lock()
		defer mu.Unlock()
		if env != nil {
			return env, nil
		}
		e, err := Open(context.WithoutCancel(ctx), os.Getenv("COOPGUARD_CONFIG"), logger.Default())
		if err != nil {
			return nil, err
		}
		env = e
		return e, nil
	}
	for _, h := range bind(deployed) {
		if h.HTTP != nil {
			functions.HTTP(h.Name, h.HTTP)
		} else {
			functions.CloudEvent(h.Name, h.Event)
		}
	}
}
