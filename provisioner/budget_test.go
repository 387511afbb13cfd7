package provisioner_test

import (
	"context"
	"testing"

	"cloud.google.com/go/billing/budgets/apiv1/budgetspb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestConvergeMakesAndRepairsTheBudget: with a billing account, Provision
// makes the sandbox's budget (its project and label, the amount, a rule
// per notify percent and the cap, coopguard's budgets topic); a second
// converge changes nothing; a budget whose cap rule was removed is
// repaired; another budget in the account is left alone.
func TestConvergeMakesAndRepairsTheBudget(t *testing.T) {
	ctx := context.Background()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	cfg := config.Demo()
	cfg.Coopguard.Budget.BillingAccount = "0A1B2C-3D4E5F-6A7B8C"
	cfg.Coopguard.Budget.MonthlyAmount = 200.5
	cfg.Coopguard.Budget.CapPercent = 150
	if err := emu.DeployConfig(&cfg); err != nil {
		t.Fatal(err)
	}
	clients, err := emu.ClientsAs(ctx, cfg.Cloud.GCP.Project, emulator.Provisioner(cfg.Cloud.GCP.Project))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clients.Close() })
	other, err := clients.Budgets.CreateBudget(ctx, &budgetspb.CreateBudgetRequest{Parent: "billingAccounts/0A1B2C-3D4E5F-6A7B8C", Budget: &budgetspb.Budget{
		DisplayName: "the operator's own", Amount: &budgetspb.BudgetAmount{BudgetAmount: &budgetspb.BudgetAmount_LastPeriodAmount{LastPeriodAmount: &budgetspb.LastPeriodAmount{}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := provisioner.New(&cfg, clients, nil)
	if _, err := p.Converge(ctx, provisioner.Options{}); err != nil {
		t.Fatal(err)
	}
	var mine *budgetspb.Budget
	for _, b := range emu.Budgets.Budgets() {
		if name, ok := provisioner.BudgetSandbox(b, cfg.Cloud.GCP.Project); ok && name == cfg.VM.Name {
			mine = b
		}
	}
	if mine == nil {
		t.Fatalf("no budget for sandbox %s among %v", cfg.VM.Name, emu.Budgets.Budgets())
	}
	if a := mine.GetAmount().GetSpecifiedAmount(); a.GetUnits() != 200 || a.GetNanos() != 5e8 || a.GetCurrencyCode() != "USD" {
		t.Errorf("amount = %v", a)
	}
	if r := mine.GetThresholdRules(); len(r) != 4 || r[3].GetThresholdPercent() != 1.5 {
		t.Errorf("threshold rules = %v, want 0.5, 0.9, 1.0 and the cap 1.5", r)
	}
	if got := mine.GetNotificationsRule().GetPubsubTopic(); got != "projects/"+cfg.Cloud.GCP.Project+"/topics/coopguard-budgets" {
		t.Errorf("topic = %s", got)
	}
	rep, err := p.Converge(ctx, provisioner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Resources {
		if r.Kind == "budget" && r.Action != provisioner.None {
			t.Errorf("second converge: budget %s", r.Action)
		}
	}
	mine.ThresholdRules = mine.ThresholdRules[:3]
	if _, err := clients.Budgets.UpdateBudget(ctx, &budgetspb.UpdateBudgetRequest{Budget: mine, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"threshold_rules"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Converge(ctx, provisioner.Options{}); err != nil {
		t.Fatal(err)
	}
	got, err := clients.Budgets.GetBudget(ctx, &budgetspb.GetBudgetRequest{Name: mine.GetName()})
	if err != nil || len(got.GetThresholdRules()) != 4 {
		t.Errorf("after repair: %v, %v; want the cap rule back", got.GetThresholdRules(), err)
	}
	if o, err := clients.Budgets.GetBudget(ctx, &budgetspb.GetBudgetRequest{Name: other.GetName()}); err != nil || o.GetEtag() != other.GetEtag() {
		t.Errorf("the operator's own budget changed: %v, %v", o, err)
	}
}
