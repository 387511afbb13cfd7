package gcp

import (
	"testing"

	"github.com/google/uuid"
)

// TestRequestIDIsAUUID pins that every requestId is a canonical UUID
// (Compute refuses anything else with 400), derived deterministically
// from its parts, so a retry sends the same one.
func TestRequestIDIsAUUID(t *testing.T) {
	cases := [][]string{
		{"p", "vm", "inc-1", "stop"},
		{"p", "vm", "inc-1", "snapshot", "disk"},
		{""},
	}
	for _, parts := range cases {
		id := *RequestID(parts...)
		u, err := uuid.Parse(id)
		if err != nil || u.String() != id {
			t.Errorf("RequestID(%q) = %q: not a canonical UUID (%v)", parts, id, err)
			continue
		}
		if u.Version() != 5 || u == uuid.Nil {
			t.Errorf("RequestID(%q) = %q: version %d, want a name-based (v5) UUID", parts, id, u.Version())
		}
		if again := *RequestID(parts...); again != id {
			t.Errorf("RequestID(%q) not deterministic: %q then %q", parts, id, again)
		}
	}
	if *RequestID("a", "bc") == *RequestID("ab", "c") {
		t.Error("parts are not separated: ab|c and a|bc share a requestId")
	}
}
