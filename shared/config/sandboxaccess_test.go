package config

import "testing"

// TestSandboxCondition: the condition names each sandbox once, in the
// order added, and only in its own project and zone; widening names one
// more and leaves a condition naming it already as it is.
func TestSandboxCondition(t *testing.T) {
	expr := SandboxCondition("p1", "us-central1-a", []string{"b", "a", "b"})
	want := `resource.name == "projects/p1/zones/us-central1-a/instances/b" || resource.name == "projects/p1/zones/us-central1-a/disks/b" || ` +
		`resource.name == "projects/p1/zones/us-central1-a/instances/a" || resource.name == "projects/p1/zones/us-central1-a/disks/a"`
	if expr != want {
		t.Fatalf("expression = %s\nwant %s", expr, want)
	}
	for _, tt := range []struct {
		project, zone, name string
		want                bool
	}{
		{"p1", "us-central1-a", "a", true},
		{"p1", "us-central1-a", "b", true},
		{"p1", "us-central1-a", "c", false},
		// A prefix of a named sandbox is another sandbox.
		{"p1", "us-central1-a", "", false},
		{"p2", "us-central1-a", "a", false},
		{"p1", "us-central1-b", "a", false},
	} {
		if got := SandboxNamed(expr, tt.project, tt.zone, tt.name); got != tt.want {
			t.Errorf("SandboxNamed(%s, %s, %q) = %v, want %v", tt.project, tt.zone, tt.name, got, tt.want)
		}
	}
	if got := WidenSandboxCondition(expr, "p1", "us-central1-a", "a"); got != expr {
		t.Errorf("widened by a named sandbox: %s", got)
	}
	wider := WidenSandboxCondition(expr, "p1", "us-central1-a", "c")
	if !SandboxNamed(wider, "p1", "us-central1-a", "c") || !SandboxNamed(wider, "p1", "us-central1-a", "a") {
		t.Errorf("widened by c: %s", wider)
	}
	if SandboxCondition("p1", "z", nil) != "" {
		t.Error("no sandbox: want an empty expression")
	}
	if SandboxConditionTitle != "coopguard-sandboxes" || SecretsConditionPrefix != "coopguard-managed-secrets-" || SecretsConditionTitle("reader") != "coopguard-managed-secrets-reader" {
		t.Errorf("titles from the templates: %q %q %q", SandboxConditionTitle, SecretsConditionPrefix, SecretsConditionTitle("reader"))
	}
}
