package budgets_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	billing "cloud.google.com/go/billing/budgets/apiv1"
	"cloud.google.com/go/billing/budgets/apiv1/budgetspb"
	"google.golang.org/api/iterator"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/cloudcoop/coopguard/test/emulator/budgets"
	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
)

const account = "billingAccounts/0A1B2C-3D4E5F-6A7B8C"

func budget(project, topic string) *budgetspb.Budget {
	lv, _ := structpb.NewList([]any{"claude-sandbox"})
	return &budgetspb.Budget{
		DisplayName: "coopguard claude-sandbox",
		BudgetFilter: &budgetspb.Filter{
			Projects: []string{"projects/" + project},
			Labels:   map[string]*structpb.ListValue{"coopguard-sandbox": lv},
		},
		Amount:            &budgetspb.BudgetAmount{BudgetAmount: &budgetspb.BudgetAmount_SpecifiedAmount{SpecifiedAmount: &money.Money{CurrencyCode: "USD", Units: 100}}},
		ThresholdRules:    []*budgetspb.ThresholdRule{{ThresholdPercent: 0.5}, {ThresholdPercent: 0.9}, {ThresholdPercent: 1.5}},
		NotificationsRule: &budgetspb.NotificationsRule{PubsubTopic: topic, SchemaVersion: "1.0"},
	}
}

// TestBudgetsCRUD pins FIDELITY.md's Budget API rows through the official
// client: server-assigned names under the billing account, service
// defaults, list by project scope, update by mask and etag, delete, and
// the validation the reference states.
func TestBudgetsCRUD(t *testing.T) {
	ctx := context.Background()
	fake := budgets.New(nil)
	c := grpctest.Client(t, grpctest.Serve(t, fake.Register), billing.NewBudgetClient)
	b, err := c.CreateBudget(ctx, &budgetspb.CreateBudgetRequest{Parent: account, Budget: budget("p", "projects/coopguard-p/topics/coopguard-budgets")})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.GetName()) <= len(account+"/budgets/") || b.GetEtag() == "" || b.GetBudgetFilter().GetCalendarPeriod() != budgetspb.CalendarPeriod_MONTH ||
		b.GetThresholdRules()[0].GetSpendBasis() != budgetspb.ThresholdRule_CURRENT_SPEND {
		t.Fatalf("created = %v", b)
	}
	if _, err := c.CreateBudget(ctx, &budgetspb.CreateBudgetRequest{Parent: account, Budget: budget("q", "")}); err != nil {
		t.Fatal(err)
	}
	list := func(scope string) []string {
		var names []string
		it := c.ListBudgets(ctx, &budgetspb.ListBudgetsRequest{Parent: account, Scope: scope})
		for {
			x, err := it.Next()
			if err == iterator.Done {
				return names
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, x.GetName())
		}
	}
	if got := list(""); len(got) != 2 {
		t.Errorf("list = %v, want both", got)
	}
	if got := list("projects/p"); len(got) != 1 || got[0] != b.GetName() {
		t.Errorf("list scope p = %v, want %s", got, b.GetName())
	}
	if got, err := c.GetBudget(ctx, &budgetspb.GetBudgetRequest{Name: b.GetName()}); err != nil || got.GetDisplayName() != b.GetDisplayName() {
		t.Errorf("get = %v, %v", got, err)
	}

	stale := b.GetEtag()
	up := &budgetspb.Budget{Name: b.GetName(), DisplayName: "renamed", Etag: stale}
	got, err := c.UpdateBudget(ctx, &budgetspb.UpdateBudgetRequest{Budget: up, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
	if err != nil || got.GetDisplayName() != "renamed" || got.GetAmount().GetSpecifiedAmount().GetUnits() != 100 || got.GetEtag() == stale {
		t.Fatalf("update = %v, %v", got, err)
	}
	_, err = c.UpdateBudget(ctx, &budgetspb.UpdateBudgetRequest{Budget: up, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
	grpctest.WantCode(t, err, codes.Aborted)

	bad := map[string]*budgetspb.CreateBudgetRequest{
		"bad parent": {Parent: "billingAccounts/nope", Budget: budget("p", "")},
		"no amount":  {Parent: account, Budget: &budgetspb.Budget{DisplayName: "x"}},
		"schema version missing": {Parent: account, Budget: func() *budgetspb.Budget {
			x := budget("p", "projects/coopguard-p/topics/t-budgets")
			x.NotificationsRule.SchemaVersion = ""
			return x
		}()},
		"two labels": {Parent: account, Budget: func() *budgetspb.Budget {
			x := budget("p", "")
			lv, _ := structpb.NewList([]any{"b"})
			x.BudgetFilter.Labels["other"] = lv
			return x
		}()},
		"thresholds with no email recipient": {Parent: account, Budget: func() *budgetspb.Budget {
			x := budget("p", "projects/coopguard-p/topics/t-budgets")
			x.NotificationsRule.DisableDefaultIamRecipients = true
			return x
		}()},
		"negative threshold": {Parent: account, Budget: func() *budgetspb.Budget {
			x := budget("p", "")
			x.ThresholdRules = []*budgetspb.ThresholdRule{{ThresholdPercent: -1}}
			return x
		}()},
	}
	for name, req := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := c.CreateBudget(ctx, req)
			grpctest.WantCode(t, err, codes.InvalidArgument)
		})
	}
	if err := c.DeleteBudget(ctx, &budgetspb.DeleteBudgetRequest{Name: b.GetName()}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetBudget(ctx, &budgetspb.GetBudgetRequest{Name: b.GetName()})
	grpctest.WantCode(t, err, codes.NotFound)
}

// TestNotify pins the notification format rows: attributes
// billingAccountId, budgetId, schemaVersion 1.0; data with costAmount,
// budgetAmount, currencyCode, costIntervalStart (the billing month's
// start, Pacific time) and alertThresholdExceeded only once a rule is
// passed (the highest one).
func TestNotify(t *testing.T) {
	ctx := context.Background()
	fake := budgets.New(func() time.Time { return time.Date(2026, 12, 6, 14, 0, 0, 0, time.UTC) })
	c := grpctest.Client(t, grpctest.Serve(t, fake.Register), billing.NewBudgetClient)
	b, err := c.CreateBudget(ctx, &budgetspb.CreateBudgetRequest{Parent: account, Budget: budget("p", "projects/coopguard-p/topics/coopguard-budgets")})
	if err != nil {
		t.Fatal(err)
	}
	type sent struct {
		topic string
		data  budgets.Notification
		raw   map[string]any
		attrs map[string]string
	}
	var got []sent
	fake.SetPublisher(func(_ context.Context, topic string, data []byte, attrs map[string]string) error {
		var n budgets.Notification
		var raw map[string]any
		if err := json.Unmarshal(data, &n); err != nil {
			t.Fatal(err)
		}
		_ = json.Unmarshal(data, &raw)
		got = append(got, sent{topic, n, raw, attrs})
		return nil
	})
	for _, cost := range []float64{10, 95.5} {
		if err := fake.Notify(ctx, b.GetName(), cost); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 {
		t.Fatalf("published %d, want 2", len(got))
	}
	first, second := got[0], got[1]
	if first.topic != "projects/coopguard-p/topics/coopguard-budgets" || first.attrs["billingAccountId"] != "0A1B2C-3D4E5F-6A7B8C" ||
		account+"/budgets/"+first.attrs["budgetId"] != b.GetName() || first.attrs["schemaVersion"] != "1.0" {
		t.Errorf("topic/attributes = %s %v", first.topic, first.attrs)
	}
	if _, ok := first.raw["alertThresholdExceeded"]; ok {
		t.Errorf("under every threshold, alertThresholdExceeded is present: %v", first.raw)
	}
	n := second.data
	if n.AlertThresholdExceeded == nil || *n.AlertThresholdExceeded != 0.9 || n.CostAmount != 95.5 || n.BudgetAmount != 100 ||
		n.CurrencyCode != "USD" || n.BudgetAmountType != "SPECIFIED_AMOUNT" || n.CostIntervalStart != "2026-12-01T08:00:00Z" || n.BudgetDisplayName != "coopguard claude-sandbox" {
		t.Errorf("data = %+v", n)
	}
	other, _ := c.CreateBudget(ctx, &budgetspb.CreateBudgetRequest{Parent: account, Budget: budget("q", "")})
	if err := fake.Notify(ctx, other.GetName(), 1); err == nil {
		t.Error("a budget without a topic notified")
	}
}
