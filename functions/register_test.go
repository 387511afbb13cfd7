package functions

import (
	"testing"

	"github.com/cloudcoop/coopguard/shared/config"
)

// TestEveryDeclaredFunctionHasItsHandler: config.Jobs declares each
// function once; a declared function without a handler would be deployed
// and answer nothing, a handler no job declares would never be deployed,
// and an HTTP function must have an HTTP handler, an event function an
// event handler.
func TestEveryDeclaredFunctionHasItsHandler(t *testing.T) {
	declared := config.Functions()
	if len(declared) == 0 {
		t.Fatal("config.Jobs declares no function")
	}
	seen := map[string]bool{}
	for _, d := range declared {
		if seen[d.Name] {
			t.Errorf("config.Jobs declares %s twice", d.Name)
		}
		seen[d.Name] = true
		h, ok := handlers[d.Name]
		switch {
		case !ok:
			t.Errorf("config.Jobs declares %s, but functions/register.go has no handler for it: add it to handlers", d.Name)
		case d.HTTP() && (h.HTTP == nil || h.Event != nil):
			t.Errorf("%s is declared HTTP-triggered: its handler must be an HTTP handler", d.Name)
		case !d.HTTP() && (h.Event == nil || h.HTTP != nil):
			t.Errorf("%s is declared triggered by topic %q: its handler must be an event handler", d.Name, d.Topic)
		}
	}
	for name := range handlers {
		if !seen[name] {
			t.Errorf("functions/register.go has a handler for %s, which no job of config.Jobs declares: it would never be deployed", name)
		}
	}
	if len(Registered) != len(declared) {
		t.Errorf("Registered has %d functions, config.Jobs declares %d", len(Registered), len(declared))
	}
}
