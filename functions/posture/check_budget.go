package posture

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/billing/budgets/apiv1/budgetspb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// budgetExists: the sandbox's GCP spend is watched by the Cloud Billing
// budget Provision makes ([coopguard.budget]), recognised by its filter
// (the project and the sandbox's label), notifying coopguard's budgets
// topic. Without one, a runaway agent's bill is seen on the invoice.
type budgetExists struct{}

func (budgetExists) Name() string { return "budget" }

func (budgetExists) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	b := in.Config.Coopguard.Budget
	if b.BillingAccount == "" {
		return fail("no Cloud Billing budget watches the sandbox's GCP spend: coopguard.budget.billing_account is not set",
			"set coopguard.budget.billing_account (gcloud billing projects describe "+in.Project()+") and monthly_amount, then coopguard provision")
	}
	account := b.BillingAccountName()
	topic := in.Sandbox.TopicPath(in.Sandbox.Topics.Budgets)
	it := c.Budgets.ListBudgets(ctx, &budgetspb.ListBudgetsRequest{Parent: account, Scope: "projects/" + in.Project()})
	for {
		bud, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return fail(fmt.Sprintf("%s has no budget for sandbox %s (filter: project %s, label coopguard-sandbox=%s)", account, in.Sandbox.Name, in.Project(), in.Sandbox.Name),
				"coopguard provision (it makes the budget; the provisioner needs billing.budgets.create on the billing account)")
		}
		if err != nil {
			return readError(fmt.Errorf("list the budgets of %s: %w", account, err), "billing.budgets.list")
		}
		if name, ok := provisioner.BudgetSandbox(bud, in.Project()); !ok || name != in.Sandbox.Name {
			continue
		}
		if got := bud.GetNotificationsRule().GetPubsubTopic(); got != topic {
			return fail(fmt.Sprintf("budget %s notifies %q, not coopguard's topic %s: its thresholds reach no one", bud.GetName(), got, topic),
				"coopguard provision (it repairs the budget)")
		}
		amt := bud.GetAmount().GetSpecifiedAmount()
		return pass("budget %d %s a month, notifying %s", amt.GetUnits(), amt.GetCurrencyCode(), in.Sandbox.Topics.Budgets)
	}
}
