package provisioner_test

import (
	"context"
	"testing"

	"cloud.google.com/go/iam/apiv1/iampb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
)

// TestConvergeTurnsOnAuditLogs: Provision turns on ADMIN_READ and
// DATA_WRITE for allServices and DATA_READ for Secret Manager, lifts the
// sandbox's account from their exemptions, keeps the project's other audit
// configs and bindings, and changes nothing the second time.
func TestConvergeTurnsOnAuditLogs(t *testing.T) {
	emu, p := setup(t)
	cfg := config.Demo()
	project, sa := cfg.Cloud.GCP.Project, "serviceAccount:"+cfg.Cloud.GCP.ServiceAccount
	emu.ResourceManager.UpdatePolicy(project, func(pol *iampb.Policy) {
		pol.AuditConfigs = append(pol.AuditConfigs,
			&iampb.AuditConfig{Service: "storage.googleapis.com", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_DATA_READ}}},
			&iampb.AuditConfig{Service: "allServices", AuditLogConfigs: []*iampb.AuditLogConfig{{LogType: iampb.AuditLogConfig_ADMIN_READ, ExemptedMembers: []string{sa, "user:quiet@example.com"}}}})
	})
	bindings := func() int { pol, _ := emu.ResourceManager.Policy(project); return len(pol.GetBindings()) }
	before := bindings()
	if _, err := p.Converge(context.Background(), provisioner.Options{}); err != nil {
		t.Fatal(err)
	}
	pol, _ := emu.ResourceManager.Policy(project)
	for _, l := range provisioner.AuditedLogs {
		if !provisioner.Audited(pol, l.Service, l.Type, sa) {
			t.Errorf("%s for %s is off for the sandbox's account after converge: %v", l.Type, l.Service, pol.GetAuditConfigs())
		}
	}
	if !provisioner.Audited(pol, "storage.googleapis.com", iampb.AuditLogConfig_DATA_READ, "user:x@example.com") {
		t.Errorf("the project's own storage DATA_READ config was dropped: %v", pol.GetAuditConfigs())
	}
	if provisioner.Audited(pol, "compute.googleapis.com", iampb.AuditLogConfig_ADMIN_READ, "user:quiet@example.com") {
		t.Errorf("another member's exemption was dropped: %v", pol.GetAuditConfigs())
	}
	if provisioner.Audited(pol, "compute.googleapis.com", iampb.AuditLogConfig_DATA_READ, sa) {
		t.Errorf("DATA_READ turned on for every service; only Secret Manager's is needed: %v", pol.GetAuditConfigs())
	}
	if got := bindings(); got < before {
		t.Errorf("bindings went from %d to %d", before, got)
	}
	rep, err := p.Converge(context.Background(), provisioner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Resources {
		if r.Kind == "auditConfig" && r.Action != provisioner.None {
			t.Errorf("second converge: auditConfig %s, want no change", r.Action)
		}
	}
}
