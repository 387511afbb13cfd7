package provisioner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"cloud.google.com/go/billing/budgets/apiv1/budgetspb"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// budget is the sandbox's Cloud Billing budget: its monthly amount, over
// the costs of the project's resources labelled with the sandbox, with a
// threshold rule per notify percent and one at the cap, notifying
// coopguard's budgets topic (HandleBudget) and the operator's channels.
// It is recognised by its filter (BudgetSandbox), never by its name.
type budget struct {
	s *Sandbox
}

func (r *budget) Kind() string   { return "budget" }
func (r *budget) Name() string   { return BudgetDisplayName(r.s.Name) }
func (r *budget) Deps() []string { return []string{"topic/" + r.s.Topics.Budgets} }

// BudgetDisplayName is the display name of sandbox's budget (at most 60
// characters, as the Budget API allows).
func BudgetDisplayName(sandbox string) string {
	n := "coopguard " + sandbox
	if len(n) > 60 {
		n = n[:60]
	}
	return n
}

// BudgetSandbox returns the sandbox whose budget b is in project: a
// budget whose filter is exactly the project and the one label
// coopguard-sandbox=<name> that Provision sets. Any other budget is not
// coopguard's (ok false).
func BudgetSandbox(b *budgetspb.Budget, project string) (string, bool) {
	f := b.GetBudgetFilter()
	if len(f.GetProjects()) != 1 || f.GetProjects()[0] != "projects/"+project || len(f.GetLabels()) != 1 {
		return "", false
	}
	vals := f.GetLabels()[config.SandboxLabel].GetValues()
	if len(vals) != 1 {
		return "", false
	}
	name := vals[0].GetStringValue()
	if name == "" || b.GetDisplayName() != BudgetDisplayName(name) {
		return "", false
	}
	return name, true
}

// desired is the budget Provision wants.
func (r *budget) desired() *budgetspb.Budget {
	b := r.s.Budget
	units, frac := math.Modf(b.MonthlyAmount)
	label, _ := structpb.NewList([]any{r.s.Name})
	var rules []*budgetspb.ThresholdRule
	for _, p := range b.NotifyPercents {
		rules = append(rules, &budgetspb.ThresholdRule{ThresholdPercent: p / 100, SpendBasis: budgetspb.ThresholdRule_CURRENT_SPEND})
	}
	if b.CapPercent > 0 && !slices.Contains(b.NotifyPercents, b.CapPercent) {
		rules = append(rules, &budgetspb.ThresholdRule{ThresholdPercent: b.CapPercent / 100, SpendBasis: budgetspb.ThresholdRule_CURRENT_SPEND})
	}
	channels := r.s.NotifyChannels
	if len(channels) > 5 {
		channels = channels[:5] // the Budget API's limit
	}
	return &budgetspb.Budget{
		DisplayName: BudgetDisplayName(r.s.Name),
		BudgetFilter: &budgetspb.Filter{
			Projects: []string{"projects/" + r.s.Project},
			Labels:   map[string]*structpb.ListValue{config.SandboxLabel: label},
		},
		Amount: &budgetspb.BudgetAmount{BudgetAmount: &budgetspb.BudgetAmount_SpecifiedAmount{SpecifiedAmount: &money.Money{
			CurrencyCode: b.Currency, Units: int64(units), Nanos: int32(math.Round(frac * 1e9)),
		}}},
		ThresholdRules: rules,
		NotificationsRule: &budgetspb.NotificationsRule{
			PubsubTopic: r.s.TopicPath(r.s.Topics.Budgets), SchemaVersion: "1.0", MonitoringNotificationChannels: channels,
		},
	}
}

// find returns the sandbox's budget in the billing account, or nil.
func (r *budget) find(ctx context.Context, c *gcp.Clients) (*budgetspb.Budget, error) {
	account := r.s.Budget.BillingAccountName()
	it := c.Budgets.ListBudgets(ctx, &budgetspb.ListBudgetsRequest{Parent: account, Scope: "projects/" + r.s.Project})
	for {
		b, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list the budgets of %s for project %s: %w (the provisioner needs billing.budgets.list: grant it roles/billing.costsManager on the billing account)", account, r.s.Project, err)
		}
		if name, ok := BudgetSandbox(b, r.s.Project); ok && name == r.s.Name {
			return b, nil
		}
	}
}

func (r *budget) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	want := r.desired()
	have, err := r.find(ctx, c)
	if err != nil {
		return Change{}, err
	}
	detail := fmt.Sprintf("%v %s a month, notifying %s", r.s.Budget.MonthlyAmount, r.s.Budget.Currency, want.GetNotificationsRule().GetPubsubTopic())
	if have == nil {
		return Change{Action: Create, Detail: detail, Apply: func(ctx context.Context) error {
			_, err := c.Budgets.CreateBudget(ctx, &budgetspb.CreateBudgetRequest{Parent: r.s.Budget.BillingAccountName(), Budget: want})
			return err
		}}, nil
	}
	var paths []string
	if !sameMoney(have.GetAmount().GetSpecifiedAmount(), want.GetAmount().GetSpecifiedAmount()) {
		paths = append(paths, "amount")
	}
	if !sameRules(have.GetThresholdRules(), want.GetThresholdRules()) {
		paths = append(paths, "threshold_rules")
	}
	hn, wn := have.GetNotificationsRule(), want.GetNotificationsRule()
	if hn.GetPubsubTopic() != wn.GetPubsubTopic() || hn.GetSchemaVersion() != wn.GetSchemaVersion() ||
		!slices.Equal(hn.GetMonitoringNotificationChannels(), wn.GetMonitoringNotificationChannels()) || hn.GetDisableDefaultIamRecipients() {
		paths = append(paths, "notifications_rule")
	}
	if len(paths) == 0 {
		return Change{Action: None, Detail: detail}, nil
	}
	want.Name, want.Etag = have.GetName(), have.GetEtag()
	return Change{Action: Update, Detail: fmt.Sprintf("repair %v: %s", paths, detail), Apply: func(ctx context.Context) error {
		_, err := c.Budgets.UpdateBudget(ctx, &budgetspb.UpdateBudgetRequest{Budget: want, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		return err
	}}, nil
}

func sameMoney(a, b *money.Money) bool {
	return a.GetCurrencyCode() == b.GetCurrencyCode() && a.GetUnits() == b.GetUnits() && a.GetNanos() == b.GetNanos()
}

func sameRules(a, b []*budgetspb.ThresholdRule) bool {
	return slices.EqualFunc(a, b, func(x, y *budgetspb.ThresholdRule) bool {
		return math.Abs(x.GetThresholdPercent()-y.GetThresholdPercent()) < 1e-9 && x.GetSpendBasis() == y.GetSpendBasis()
	})
}
