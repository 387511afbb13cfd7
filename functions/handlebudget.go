package functions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"cloud.google.com/go/billing/budgets/apiv1/budgetspb"
	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/googleapis/gax-go/v2/apierror"

	"github.com/cloudcoop/coopguard/functions/costs"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// HandleBudget handles a Cloud Billing budget notification (several a
// day per budget). A notification of the configured billing account about
// a budget Provision made for a sandbox (read back from the Budget API,
// whose filter names the sandbox) is judged by costs.Budget: past the cap
// it quarantines the sandbox, past a notify percent it notifies; each
// threshold once per billing month (the incident id names them). A
// notification of another billing account, of a budget coopguard did not
// make, or undecodable, is logged and acknowledged: nothing is acted on.
func (e *Env) HandleBudget(ctx context.Context, ev event.Event) error {
	received := time.Now()
	ctx, msg, done, err := e.beginEvent(ctx, ev)
	if done {
		return err
	}
	log := logger.FromContext(ctx)
	n, err := events.DecodeBudget(msg)
	if err != nil {
		return acknowledge(ctx, "undecodable budget notification", err)
	}
	b := e.Config.Coopguard.Budget
	if want := b.BillingAccountName(); want == "" || "billingAccounts/"+n.BillingAccountID != want {
		log.Warn("budget notification of a billing account coopguard does not watch: acknowledged, no action",
			"billingAccount", n.BillingAccountID, "budget", n.BudgetID, "watched", firstNonEmpty(want, "none (coopguard.budget.billing_account is not set)"))
		return nil
	}
	clients := e.ClientsOf(config.AccountCosts)
	bud, err := clients.Budgets.GetBudget(ctx, &budgetspb.GetBudgetRequest{Name: n.BudgetName()})
	if retry.IsNotFound(err) {
		log.Warn("budget notification of a budget that does not exist (any more): acknowledged, no action", "budget", n.BudgetName())
		return nil
	}
	if err != nil {
		return fmt.Errorf("read budget %s: %w (redelivered)", n.BudgetName(), err)
	}
	project := e.Config.Cloud.GCP.Project
	sandbox, ok := provisioner.BudgetSandbox(bud, project)
	if !ok {
		log.Warn("budget notification of a budget coopguard did not make for a sandbox of "+project+": acknowledged, no action",
			"budget", n.BudgetName(), "displayName", bud.GetDisplayName())
		return nil
	}
	v := costs.Budget(n, b)
	if v.Playbook == "" {
		log.Info("sandbox spend under every budget threshold; no action", "sandbox", sandbox,
			"cost", n.CostAmount, "budget", n.BudgetAmount, "currency", n.CurrencyCode)
		return nil
	}
	inst, err := clients.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: project, Zone: e.Config.Cloud.GCP.Zone, Instance: sandbox})
	var ae *apierror.APIError
	if errors.As(err, &ae) && ae.HTTPCode() == http.StatusNotFound {
		log.Warn("budget of a sandbox whose VM does not exist: acknowledged, no action", "sandbox", sandbox, "budget", n.BudgetName())
		return nil
	}
	if err != nil {
		return fmt.Errorf("read sandbox VM %s: %w (redelivered)", sandbox, err)
	}
	period := n.CostIntervalStart
	if period.IsZero() {
		period = received
	}
	severity := "WARNING"
	if v.Playbook == incident.PlaybookQuarantine {
		severity = "ERROR"
	}
	inc := incident.Incident{
		ID:         fmt.Sprintf("budget-%s-%s-%g", sandbox, period.UTC().Format("200601"), v.Threshold),
		Source:     sourceOf(msg, incident.SourceCost),
		Trigger:    v.Trigger,
		Playbook:   v.Playbook,
		Severity:   severity,
		Project:    project,
		Zone:       e.Config.Cloud.GCP.Zone,
		InstanceID: strconv.FormatUint(inst.GetId(), 10),
		Summary: fmt.Sprintf("sandbox %s's GCP spend this month is %.2f %s, %.0f%% of its %.2f %s budget (%s at %g%%)",
			sandbox, n.CostAmount, n.CurrencyCode, v.Percent, n.BudgetAmount, n.CurrencyCode, map[string]string{incident.PlaybookQuarantine: "cap", incident.PlaybookNotify: "threshold"}[v.Playbook], v.Threshold),
		StartedAt: received,
		EventID:   msg.MessageID,
		DryRun:    msg.Attributes[AttrDryRun] == "true",
	}
	_, err = e.Costs.Respond(ctx, inc, received)
	return err
}
