package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"google.golang.org/grpc/codes"
)

func (w *world) provision(t *testing.T, body string) (int, provisioner.Report) {
	t.Helper()
	code, b := w.do(t, http.MethodPost, "/Provision", "application/json", strings.NewReader(body))
	var rep provisioner.Report
	if code == http.StatusOK || code == http.StatusBadGateway || code == http.StatusConflict {
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("Provision: %d %s: %v", code, b, err)
		}
	}
	return code, rep
}

func actions(rep provisioner.Report) map[string]provisioner.Action {
	out := map[string]provisioner.Action{}
	for _, r := range rep.Resources {
		out[r.Kind+"/"+r.Name] = r.Action
	}
	return out
}

func TestProvisionBuildsLockedDownSandbox(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	code, rep := w.provision(t, "")
	if code != http.StatusOK {
		t.Fatalf("Provision = %d, report %+v", code, rep)
	}
	if len(rep.Resources) < 14 {
		t.Fatalf("report lists %d resources, want every one: %+v", len(rep.Resources), rep.Resources)
	}
	for _, r := range rep.Resources {
		want := provisioner.Create
		if r.Kind == "secret" || r.Kind == "auditConfig" || (r.Kind == "secret-access" && r.Name == "anthropic-api-key") {
			// The demo project already has the key (converge adds rotation
			// and the sandbox account's access on it) and an IAM policy
			// (converge adds the audit config).
			want = provisioner.Update
		}
		if r.Kind == "sandbox-access" {
			// Deploy named the configured sandbox already.
			want = provisioner.None
		}
		if r.Action != want || r.Status != provisioner.StatusDone {
			t.Errorf("%s/%s: action %s status %s (%s), want %s done", r.Kind, r.Name, r.Action, r.Status, r.Error, want)
		}
	}
	p, zone := w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.Zone

	net, ok := w.emu.Compute.Network(p, "coopguard-claude-sandbox-net")
	if !ok || net.GetAutoCreateSubnetworks() {
		t.Errorf("network = %v, want a custom-mode VPC", net)
	}
	fws := map[string]*computepb.Firewall{}
	for _, f := range w.emu.Compute.Firewalls(p) {
		fws[f.GetName()] = f
	}
	deny := fws["coopguard-claude-sandbox-deny-ingress"]
	if deny.GetDirection() != "INGRESS" || len(deny.GetDenied()) != 1 || deny.GetDenied()[0].GetIPProtocol() != "all" || !slices.Contains(deny.GetSourceRanges(), "0.0.0.0/0") {
		t.Errorf("deny-ingress firewall = %v", deny)
	}
	iap := fws["coopguard-claude-sandbox-allow-iap-ssh"]
	if !slices.Equal(iap.GetSourceRanges(), []string{"35.235.240.0/20"}) || iap.GetAllowed()[0].GetIPProtocol() != "tcp" || !slices.Equal(iap.GetAllowed()[0].GetPorts(), []string{"22"}) {
		t.Errorf("IAP SSH firewall = %v", iap)
	}
	q := fws["coopguard-claude-sandbox-quarantine"]
	if q.GetDirection() != "EGRESS" || q.GetPriority() != 0 || !slices.Equal(q.GetTargetTags(), []string{"coopguard-quarantine"}) || q.GetDenied()[0].GetIPProtocol() != "all" {
		t.Errorf("quarantine firewall = %v", q)
	}

	inst, ok := w.emu.Compute.Instance(p, zone, "claude-sandbox")
	if !ok {
		t.Fatal("instance claude-sandbox not created")
	}
	if n := inst.GetNetworkInterfaces(); len(n) != 1 || len(n[0].GetAccessConfigs()) != 0 {
		t.Errorf("instance network interfaces = %v, want one with no external IP", n)
	}
	sh := inst.GetShieldedInstanceConfig()
	if !sh.GetEnableSecureBoot() || !sh.GetEnableVtpm() || !sh.GetEnableIntegrityMonitoring() {
		t.Errorf("shielded config = %v", sh)
	}
	if sa := inst.GetServiceAccounts(); len(sa) != 1 || sa[0].GetEmail() != w.cfg.Cloud.GCP.ServiceAccount {
		t.Errorf("service accounts = %v", sa)
	}
	if inst.GetLabels()["coopguard-sandbox"] != "claude-sandbox" {
		t.Errorf("labels = %v", inst.GetLabels())
	}
	md := map[string]string{}
	for _, it := range inst.GetMetadata().GetItems() {
		md[it.GetKey()] = it.GetValue()
	}
	if md["enable-oslogin"] != "TRUE" || md["block-project-ssh-keys"] != "TRUE" || md["coopguard-agents"] != "run" || !strings.Contains(md["startup-script"], "coopguard-watcher") {
		t.Errorf("metadata = %v", md)
	}

	sec, ok := w.emu.SecretManager.Secret("projects/" + p + "/secrets/anthropic-api-key")
	if !ok {
		t.Fatal("secret missing")
	}
	// The demo secret was seeded; converge adds rotation and the topic.
	if sec.GetRotation().GetRotationPeriod().AsDuration().Hours() != 90*24 || len(sec.GetTopics()) != 1 || sec.GetTopics()[0].GetName() != "projects/"+p+"/topics/coopguard-rotation" {
		t.Errorf("secret = %v, want 90d rotation notifying coopguard-rotation", sec)
	}
	// The CPU policy triggers the responder; the incident and dead-letter
	// policies tell the operator (TestIncidentNotifiesOperatorChannels).
	pols := slices.DeleteFunc(w.emu.Monitoring.AlertPolicies(p), func(p *monitoringpb.AlertPolicy) bool {
		return p.GetUserLabels()[provisioner.NotifyLabel] != ""
	})
	if len(pols) != 1 || pols[0].GetUserLabels()["coopguard-playbook"] != "contain" || pols[0].GetConditions()[0].GetConditionThreshold().GetThresholdValue() != 0.9 {
		t.Errorf("alert policies = %v", pols)
	}
	// Besides the operator's own channels, which the emulated project has.
	chans := slices.DeleteFunc(w.emu.Monitoring.NotificationChannels(p), func(ch *monitoringpb.NotificationChannel) bool {
		return slices.Contains(w.cfg.Coopguard.Notify.Channels, ch.GetName())
	})
	if len(chans) != 1 || chans[0].GetType() != "pubsub" || chans[0].GetLabels()["topic"] != "projects/"+p+"/topics/coopguard-alerts" {
		t.Errorf("channels = %v", chans)
	}
	if len(pols) == 1 && len(chans) == 1 && !slices.Equal(pols[0].GetNotificationChannels(), []string{chans[0].GetName()}) {
		t.Errorf("policy channels = %v, want %s", pols[0].GetNotificationChannels(), chans[0].GetName())
	}
	sinks := w.emu.Logging.Sinks("projects/" + p)
	if len(sinks) != 1 || sinks[0].GetDestination() != "pubsub.googleapis.com/projects/"+p+"/topics/coopguard-logs" || !strings.Contains(sinks[0].GetFilter(), w.cfg.Cloud.GCP.ServiceAccount) {
		t.Errorf("sinks = %v", sinks)
	}

	// A second identical call changes nothing and says so.
	before := w.emu.Faults.TotalMutations()
	code, rep = w.provision(t, "")
	if code != http.StatusOK {
		t.Fatalf("second Provision = %d", code)
	}
	for _, r := range rep.Resources {
		if r.Action != provisioner.None {
			t.Errorf("second converge: %s/%s action %s (%s), want none", r.Kind, r.Name, r.Action, r.Detail)
		}
	}
	if d := w.emu.Faults.TotalMutations() - before; d != 0 {
		t.Errorf("second converge made %d mutating calls, want 0", d)
	}
}

func TestProvisionDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	code, rep := w.provision(t, `{"dryRun": true}`)
	if code != http.StatusOK || !rep.DryRun {
		t.Fatalf("dry run = %d %+v", code, rep)
	}
	for _, r := range rep.Resources {
		if r.Status != provisioner.StatusPlanned {
			t.Errorf("%s/%s status %s, want planned", r.Kind, r.Name, r.Status)
		}
	}
	acts := actions(rep)
	if acts["instance/claude-sandbox"] != provisioner.Create || acts["secret/anthropic-api-key"] != provisioner.Update {
		t.Errorf("plan = %v, want instance create and secret update", acts)
	}
	if n := w.emu.Faults.TotalMutations(); n != 0 {
		t.Errorf("dry run made %d mutating calls: %v", n, w.emu.Faults.MutationSnapshot())
	}
	if _, ok := w.emu.Compute.Instance(w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.Zone, "claude-sandbox"); ok {
		t.Error("dry run created the instance")
	}
}

func TestProvisionConcurrentRequestsCreateOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() {
			code, _ := w.do(t, http.MethodPost, "/Provision", "application/json", strings.NewReader(`{"name":"box-a"}`))
			codes[i] = code
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Errorf("request %d = %d", i, c)
		}
	}
	m := w.emu.Faults.MutationSnapshot()
	for _, method := range []string{"compute.networks.insert", "compute.subnetworks.insert", "compute.routers.insert", "compute.instances.insert",
		"google.monitoring.v3.NotificationChannelService/CreateNotificationChannel",
		"google.logging.v2.ConfigServiceV2/CreateSink", "google.iam.admin.v1.IAM/CreateServiceAccount"} {
		if m[method] != 1 {
			t.Errorf("%s called %d times, want 1 (all: %v)", method, m[method], m)
		}
	}
	// CPU, incidents, dead-letter, deaf and weekly review: one create each.
	if n := m["google.monitoring.v3.AlertPolicyService/CreateAlertPolicy"]; n != 5 {
		t.Errorf("CreateAlertPolicy called %d times, want 5 (all: %v)", n, m)
	}
	if m["compute.firewalls.insert"] != 3 {
		t.Errorf("firewalls inserted %d times, want 3", m["compute.firewalls.insert"])
	}
	if n := len(w.emu.Compute.Instances(w.cfg.Cloud.GCP.Project)); n != 1 {
		t.Errorf("%d instances exist, want 1", n)
	}
}

func TestProvisionRepairsDrift(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if code, _ := w.provision(t, ""); code != http.StatusOK {
		t.Fatal("first provision failed")
	}
	ctx := context.Background()
	p := w.cfg.Cloud.GCP.Project
	// Someone widens SSH to the world and flips OS Login off.
	op, err := w.operator.Firewalls.Patch(ctx, &computepb.PatchFirewallRequest{Project: p, Firewall: "coopguard-claude-sandbox-allow-iap-ssh",
		FirewallResource: &computepb.Firewall{SourceRanges: []string{"0.0.0.0/0"}}})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := w.emu.Compute.Instance(p, w.cfg.Cloud.GCP.Zone, "claude-sandbox")
	items := []*computepb.Items{}
	for _, it := range inst.GetMetadata().GetItems() {
		if it.GetKey() == "enable-oslogin" {
			it.Value = proto.String("FALSE")
		}
		items = append(items, it)
	}
	op, err = w.operator.Instances.SetMetadata(ctx, &computepb.SetMetadataInstanceRequest{Project: p, Zone: w.cfg.Cloud.GCP.Zone, Instance: "claude-sandbox",
		MetadataResource: &computepb.Metadata{Fingerprint: inst.GetMetadata().Fingerprint, Items: items}})
	if err == nil {
		err = op.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	code, rep := w.provision(t, "")
	if code != http.StatusOK {
		t.Fatalf("repair = %d %+v", code, rep)
	}
	acts := actions(rep)
	if acts["firewall/coopguard-claude-sandbox-allow-iap-ssh"] != provisioner.Update || acts["instance/claude-sandbox"] != provisioner.Update {
		t.Errorf("actions = %v, want the firewall and instance updated", acts)
	}
	for _, f := range w.emu.Compute.Firewalls(p) {
		if f.GetName() == "coopguard-claude-sandbox-allow-iap-ssh" && !slices.Equal(f.GetSourceRanges(), []string{"35.235.240.0/20"}) {
			t.Errorf("SSH source ranges after repair = %v", f.GetSourceRanges())
		}
	}
	inst, _ = w.emu.Compute.Instance(p, w.cfg.Cloud.GCP.Zone, "claude-sandbox")
	for _, it := range inst.GetMetadata().GetItems() {
		if it.GetKey() == "enable-oslogin" && it.GetValue() != "TRUE" {
			t.Errorf("enable-oslogin after repair = %s", it.GetValue())
		}
	}
}

func TestProvisionRefusesForeignInstance(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p, zone := w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.Zone
	w.emu.Compute.SeedInstance(p, zone, &computepb.Instance{Name: proto.String("claude-sandbox"), Labels: map[string]string{"team": "prod"}})
	code, rep := w.provision(t, "")
	if code != http.StatusBadGateway && code != http.StatusConflict {
		t.Fatalf("Provision over a foreign VM = %d, want an error status", code)
	}
	var found bool
	for _, r := range rep.Resources {
		if r.Kind == "instance" {
			found = true
			if r.Status != provisioner.StatusFailed || !strings.Contains(r.Error, "not provisioned by coopguard") {
				t.Errorf("instance result = %+v, want a refusal", r)
			}
		}
	}
	if !found {
		t.Error("instance missing from report")
	}
	inst, _ := w.emu.Compute.Instance(p, zone, "claude-sandbox")
	if inst.GetLabels()["coopguard-sandbox"] != "" || len(inst.GetMetadata().GetItems()) != 0 {
		t.Errorf("foreign instance was changed: %v", inst)
	}
}

func TestProvisionRetriesTransientFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.emu.Faults.FailNext("compute.firewalls.insert", 2, faults.Fault{Code: codes.Unavailable})
	w.emu.Faults.FailNext("google.cloud.secretmanager.v1.SecretManagerService/UpdateSecret", 1, faults.Fault{Code: codes.Unavailable})
	code, rep := w.provision(t, "")
	if code != http.StatusOK {
		t.Fatalf("Provision with transient faults = %d: %+v", code, rep.Failed())
	}
}

func TestProvisionBadInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	tests := []struct {
		name   string
		method string
		body   string
		want   int
		says   string
	}{
		{"wrong method", http.MethodGet, "", http.StatusMethodNotAllowed, "not allowed"},
		{"unknown field", http.MethodPost, `{"nmae":"x"}`, http.StatusBadRequest, "unknown field"},
		{"bad name", http.MethodPost, `{"name":"Bad_Name"}`, http.StatusBadRequest, "RFC 1035"},
		{"bad project", http.MethodPost, `{"project":"Bad_Project"}`, http.StatusBadRequest, "not a valid project id"},
		{"not JSON", http.MethodPost, `name=x`, http.StatusBadRequest, "bad JSON"},
		{"two values", http.MethodPost, `{} {}`, http.StatusBadRequest, "more than one"},
		{"too large", http.MethodPost, `{"name":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge, "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := w.do(t, tt.method, "/Provision", "application/json", bytes.NewBufferString(tt.body))
			if code != tt.want || !strings.Contains(string(b), tt.says) {
				t.Errorf("= %d %s, want %d saying %q", code, b, tt.want, tt.says)
			}
		})
	}
	if n := w.emu.Faults.TotalMutations(); n != 0 {
		t.Errorf("bad requests made %d mutating calls", n)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	if code, _ := w.provision(t, ""); code != http.StatusOK {
		t.Fatal("provision failed")
	}
	code, b := w.do(t, http.MethodGet, "/Status", "", nil)
	if code != http.StatusOK {
		t.Fatalf("Status = %d %s", code, b)
	}
	var st functions.StatusReport
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Project != w.cfg.Cloud.GCP.Project || len(st.Instances) != 1 || st.Incidents == nil {
		t.Fatalf("status = %s", b)
	}
	in := st.Instances[0]
	inst, _ := w.emu.Compute.Instance(w.cfg.Cloud.GCP.Project, w.cfg.Cloud.GCP.Zone, "claude-sandbox")
	if in.Name != "claude-sandbox" || in.ID == "" || in.ID != strings.TrimSpace(jsonUint(inst.GetId())) || in.Status != "RUNNING" || in.ExternalIP || in.ServiceAccount != w.cfg.Cloud.GCP.ServiceAccount || in.Labels["coopguard-sandbox"] != "claude-sandbox" {
		t.Errorf("instance status = %+v", in)
	}
	if len(st.Secrets) != 1 || len(st.Secrets[0].Versions) != 1 || st.Secrets[0].Versions[0].State != secretmanagerpb.SecretVersion_ENABLED.String() {
		t.Errorf("secrets = %+v", st.Secrets)
	}
	if strings.Contains(string(b), "SECRET-PAYLOAD") || strings.Contains(w.logs.String(), "SECRET-PAYLOAD") {
		t.Error("a secret payload reached the Status response or the logs")
	}
	if code, _ := w.do(t, http.MethodPost, "/Status", "", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /Status = %d, want 405", code)
	}
}

func jsonUint(v uint64) string {
	b, _ := json.Marshal(v)
	return string(b)
}
