package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/billing/budgets/apiv1/budgetspb"
	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator/anthropic"
)

const billingAccount = "0A1B2C-3D4E5F-6A7B8C"

// watchCosts sets [coopguard.budget]: a 100 USD monthly budget with the
// cap at 150%, model spend at most $5 an hour and $50 a day.
func watchCosts(c *config.Config) {
	c.Coopguard.Budget.BillingAccount = billingAccount
	c.Coopguard.Budget.MonthlyAmount = 100
	c.Coopguard.Budget.CapPercent = 150
	c.Coopguard.Budget.ModelUSDPerHour = 5
	c.Coopguard.Budget.ModelUSDPerDay = 50
}

// costWorld is a provisioned sandbox with its budget, its managed key
// known to coopguard by id (as rotation records it), and the Admin API.
type costWorld struct {
	*sandboxWorld
	keyID, keyValue string
	budget          string
}

func newCostWorld(t *testing.T) *costWorld {
	t.Helper()
	s := newSandbox(t, fastAgentTimeout, revokeAtAnthropic, watchCosts)
	s.emu.Anthropic.AcceptAdminKey(adminKey)
	s.emu.SecretManager.SeedVersions(s.cfg.Cloud.GCP.Project, adminSecret, []byte(adminKey+"\n"))
	id, value := s.emu.Anthropic.CreateKey("cloudcoop sandbox", "")
	if err := s.env.Store.RecordProviderKey(context.Background(), store.ProviderKey{Secret: "anthropic-api-key", Version: "1", Provider: "anthropic", KeyID: id}); err != nil {
		t.Fatal(err)
	}
	w := &costWorld{sandboxWorld: s, keyID: id, keyValue: value}
	for _, b := range s.emu.Budgets.Budgets() {
		if name, ok := provisioner.BudgetSandbox(b, s.cfg.Cloud.GCP.Project); ok && name == s.cfg.VM.Name {
			w.budget = b.GetName()
		}
	}
	if w.budget == "" {
		t.Fatal("Provision made no budget for the sandbox")
	}
	rw := &revokeWorld{sandboxWorld: s, keyID: id, keyValue: value}
	t.Cleanup(func() { rw.noKeyAnywhere(t) })
	return w
}

// notify delivers the notification Cloud Billing sends for budget name
// at cost (the emulated Budget API's message) to HandleBudget.
func (w *costWorld) notify(t *testing.T, id, name string, cost float64) {
	t.Helper()
	data, attrs, _, err := w.emu.Budgets.Message(name, cost)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := w.postPubSub(t, "/HandleBudget", events.PubSubMessage{MessageID: id, Data: data, Attributes: attrs}, false); code != http.StatusOK {
		t.Fatalf("HandleBudget = %d %s; logs:\n%s", code, body, w.logs)
	}
}

// watch runs one tick of the cost watch's Cloud Scheduler job.
func (w *costWorld) watch(t *testing.T, id string) {
	t.Helper()
	msg := events.PubSubMessage{MessageID: id, Attributes: map[string]string{events.AttrSchedulerJob: functions.WatchCostsJob}, Data: []byte(`{"reason":"scheduled"}`)}
	if code, body := w.postPubSub(t, "/WatchCosts", msg, false); code != http.StatusOK {
		t.Fatalf("WatchCosts = %d %s; logs:\n%s", code, body, w.logs)
	}
}

func (w *costWorld) quarantined(t *testing.T) bool {
	return slices.Contains(w.instance(t).GetTags().GetItems(), config.QuarantineTag)
}

// costIncidents are the incidents of source cost.
func (w *costWorld) costIncidents(t *testing.T) map[string]incident.Report {
	out := map[string]incident.Report{}
	for id, r := range w.incidents(t) {
		if r.Incident.Source == incident.SourceCost {
			out[id] = r
		}
	}
	return out
}

// TestBudgetDrill: a budget notification past the cap quarantines the
// sandbox; past a notify percent it notifies only; under every
// threshold, of another billing account, or of a budget coopguard did
// not make, nothing changes.
func TestBudgetDrill(t *testing.T) {
	t.Parallel()
	w := newCostWorld(t)
	ctx := context.Background()

	// Benign: under every threshold.
	w.notify(t, "b-1", w.budget, 40)
	// Benign: the operator's own budget in the same account, past its
	// every threshold.
	own, err := w.operator.Budgets.CreateBudget(ctx, &budgetspb.CreateBudgetRequest{Parent: "billingAccounts/" + billingAccount, Budget: &budgetspb.Budget{
		DisplayName: "coopguard " + w.cfg.VM.Name, // a look-alike name: the filter decides
		Amount:      w.emu.Budgets.Budgets()[0].GetAmount(), ThresholdRules: []*budgetspb.ThresholdRule{{ThresholdPercent: 1}},
		NotificationsRule: &budgetspb.NotificationsRule{PubsubTopic: "projects/" + w.cfg.Cloud.GCP.Project + "/topics/coopguard-budgets", SchemaVersion: "1.0"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.notify(t, "b-2", own.GetName(), 1000)
	// Benign: another billing account's notification, shaped right.
	other, err := events.EncodeBudget(events.BudgetNotification{BillingAccountID: "FFFFFF-000000-111111", BudgetID: strings.TrimPrefix(w.budget, "billingAccounts/"+billingAccount+"/budgets/"),
		CostAmount: 1000, BudgetAmount: 100, CurrencyCode: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	other.MessageID = "b-3"
	if code, body := w.postPubSub(t, "/HandleBudget", other, false); code != http.StatusOK {
		t.Fatalf("HandleBudget = %d %s", code, body)
	}
	if got := w.costIncidents(t); len(got) != 0 || w.quarantined(t) {
		t.Fatalf("benign notifications opened %v (quarantined %v); logs:\n%s", got, w.quarantined(t), w.logs)
	}
	for _, want := range []string{"billing account coopguard does not watch", "budget coopguard did not make"} {
		if !strings.Contains(w.logs.String(), want) {
			t.Errorf("the logs do not say %q", want)
		}
	}

	// Past 90%: notify, the sandbox untouched; the same again: nothing new.
	w.notify(t, "b-4", w.budget, 95)
	w.notify(t, "b-5", w.budget, 96)
	got := w.costIncidents(t)
	if len(got) != 1 || w.quarantined(t) {
		t.Fatalf("past 90%%: incidents %v, quarantined %v", got, w.quarantined(t))
	}
	for _, r := range got {
		if r.Incident.Playbook != incident.PlaybookNotify || r.Incident.Trigger != "budget-threshold-passed" {
			t.Errorf("past 90%%: %s %s", r.Incident.Playbook, r.Incident.Trigger)
		}
	}

	// Past the cap: quarantined, the summary naming the cost.
	w.notify(t, "b-6", w.budget, 160)
	if !w.quarantined(t) {
		t.Fatalf("past the cap the sandbox is not quarantined; logs:\n%s", w.logs)
	}
	var capped bool
	for _, r := range w.costIncidents(t) {
		if r.Incident.Trigger == "budget-cap-passed" {
			capped = true
			if r.Incident.Playbook != incident.PlaybookQuarantine || !strings.Contains(r.Incident.Summary, "160.00 USD") {
				t.Errorf("cap incident: %s %q", r.Incident.Playbook, r.Incident.Summary)
			}
		}
	}
	if !capped {
		t.Error("no budget-cap-passed incident")
	}
	if w.instance(t).GetStatus() != "RUNNING" {
		t.Errorf("quarantine stopped the VM: %s", w.instance(t).GetStatus())
	}
}

// TestKeyUsedWhileVMStoppedDrill: the emulated usage report shows the
// sandbox's key used after its VM stopped: the key is used elsewhere, so
// the sandbox is contained and the key revoked. Use while the VM ran, and
// a key coopguard does not manage, change nothing.
func TestKeyUsedWhileVMStoppedDrill(t *testing.T) {
	t.Parallel()
	w := newCostWorld(t)
	ctx := context.Background()
	now := w.emu.Clock.Now()
	w.emu.Anthropic.RecordUsage(anthropic.Usage{KeyID: w.keyID, At: now.Add(-5 * time.Minute), Model: "claude-sonnet-4-5", UncachedInput: 2000, Output: 500})
	stranger, _ := w.emu.Anthropic.CreateKey("someone else's", "")
	w.emu.Anthropic.RecordUsage(anthropic.Usage{KeyID: stranger, At: now.Add(-time.Minute), Model: "claude-sonnet-4-5", Output: 1e6})
	w.watch(t, "w-1")
	if got := w.costIncidents(t); len(got) != 0 {
		t.Fatalf("use while the VM ran opened %v", got)
	}
	if !strings.Contains(w.logs.String(), "coopguard does not manage") {
		t.Error("the logs do not state the unmanaged key was ignored")
	}

	// The operator stops the VM (90 s on GCP's clock); ten minutes later
	// the key is used again.
	g := w.cfg.Cloud.GCP
	op, err := w.operator.Instances.Stop(ctx, &computepb.StopInstanceRequest{Project: g.Project, Zone: g.Zone, Instance: w.cfg.VM.Name})
	if err != nil {
		t.Fatal(err)
	}
	if err := op.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	w.emu.Clock.Advance(10 * time.Minute)
	w.emu.Anthropic.RecordUsage(anthropic.Usage{KeyID: w.keyID, At: w.emu.Clock.Now().Add(-3 * time.Minute), Model: "claude-sonnet-4-5", UncachedInput: 100, Output: 10})
	w.watch(t, "w-2")
	w.watch(t, "w-3") // the next tick reads the same use: nothing new
	got := w.costIncidents(t)
	if len(got) != 1 {
		t.Fatalf("cost incidents = %v, want one; logs:\n%s", got, w.logs)
	}
	for _, r := range got {
		if r.Incident.Playbook != incident.PlaybookContain || r.Incident.Trigger != "model-key-used-while-vm-off" || !strings.Contains(r.Incident.Summary, w.keyID) {
			t.Errorf("incident %s %s %q", r.Incident.Playbook, r.Incident.Trigger, r.Incident.Summary)
		}
		if a := action(r, "revoke-key"); a.Result != incident.ResultDone {
			t.Errorf("revoke-key %s %q", a.Result, a.Reason)
		}
	}
	if k, _ := w.emu.Anthropic.Key(w.keyID); k.Status != anthropic.StatusInactive {
		t.Errorf("the key is %s, want inactive (revoked)", k.Status)
	}
	if k, _ := w.emu.Anthropic.Key(stranger); k.Status != anthropic.StatusActive {
		t.Errorf("a key coopguard does not manage is %s", k.Status)
	}
}

// TestModelSpendDrill: spend past the hourly limit quarantines, naming
// the figure; spend under it changes nothing.
func TestModelSpendDrill(t *testing.T) {
	t.Parallel()
	w := newCostWorld(t)
	now := w.emu.Clock.Now()
	// $4 of output at $15 per million tokens: under the $5 limit.
	w.emu.Anthropic.RecordUsage(anthropic.Usage{KeyID: w.keyID, At: now.Add(-time.Minute), Model: "claude-sonnet-4-5", Output: 266_666})
	w.watch(t, "s-1")
	if got := w.costIncidents(t); len(got) != 0 || w.quarantined(t) {
		t.Fatalf("spend under the limit opened %v", got)
	}
	// Another $3.50 in the same hour: $7.50 in total.
	w.emu.Anthropic.RecordUsage(anthropic.Usage{KeyID: w.keyID, At: now, Model: "claude-sonnet-4-5", Output: 233_334})
	w.watch(t, "s-2")
	got := w.costIncidents(t)
	if len(got) != 1 || !w.quarantined(t) {
		t.Fatalf("past the hourly limit: incidents %v, quarantined %v; logs:\n%s", got, w.quarantined(t), w.logs)
	}
	for _, r := range got {
		if r.Incident.Trigger != "model-spend-per-hour" || r.Incident.Playbook != incident.PlaybookQuarantine || !strings.Contains(r.Incident.Summary, "$7.50") {
			t.Errorf("incident %s %s %q", r.Incident.Trigger, r.Incident.Playbook, r.Incident.Summary)
		}
	}
	// Quarantine leaves the VM running (egress cut, key revoked).
	if st := w.instance(t).GetStatus(); st != "RUNNING" {
		t.Errorf("quarantine stopped the VM: %s", st)
	}
}
