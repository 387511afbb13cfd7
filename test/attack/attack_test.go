package attack

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestScenarios plays every drill on a freshly provisioned sandbox: each
// attack ends contained, each benign counterpart changes nothing.
func TestScenarios(t *testing.T) {
	for _, s := range Scenarios() {
		t.Run(s.Name, func(t *testing.T) {
			logs := &fixture.Buffer{}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			w, err := Start(ctx, Options{Log: logs})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			// Benign drills wait only until the sink's entries are
			// answered, so a short deadline does not make them pass.
			r, err := Run(ctx, w, s, RunOptions{})
			var out bytes.Buffer
			if r != nil {
				r.Print(&out)
			}
			if err != nil {
				t.Fatalf("%v\n%s\nfunctions' log:\n%s", err, out.String(), logs)
			}
			if !r.Passed() {
				t.Fatalf("%s\nfunctions' log:\n%s", out.String(), logs)
			}
			if s.Kind == Attack && (r.Routed == 0 || len(r.Audit) == 0) {
				t.Errorf("contained without the chain (audit %d, routed %d):\n%s", len(r.Audit), r.Routed, out.String())
			}
			// The storm's 500 look-alikes stop at the sink: only the
			// genuine audit entries of the refused call reach the responder.
			if s.Name == "junk-storm" && r.Routed > 2 {
				t.Errorf("the sink routed %d entries of a storm of look-alikes and one refused call, want only the genuine ones", r.Routed)
			}
			if strings.Contains(out.String()+logs.String(), "sk-drill-") {
				t.Errorf("a key payload appeared in the drill's output or log")
			}
			t.Log("\n" + out.String())
		})
	}
}
