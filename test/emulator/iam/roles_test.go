package iam

import "testing"

// TestViewerChangesNoVM: roles/viewer reads a VM but makes none of the
// changes that harden or expose it (https://cloud.google.com/iam/docs/roles-overview#basic:
// viewer is read-only).
func TestViewerChangesNoVM(t *testing.T) {
	viewer := Predefined["roles/viewer"]
	if !viewer.Grants("compute.instances.get") {
		t.Error("roles/viewer cannot read a VM")
	}
	for _, p := range []string{"compute.instances.deleteAccessConfig", "compute.instances.updateShieldedInstanceConfig",
		"compute.instances.setServiceAccount", "compute.instances.stop", "compute.instances.start"} {
		if viewer.Grants(p) {
			t.Errorf("roles/viewer grants %s", p)
		}
	}
}
