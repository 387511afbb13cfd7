// Package budgets is an in-process fake of the Cloud Billing Budget API
// (google.cloud.billing.budgets.v1.BudgetService) for tests and for the
// embedded emulated GCP of `coopguard serve`: budgets under
// billingAccounts/X with their filter, amount, threshold rules and
// notifications rule, and the programmatic notifications a budget with a
// Pub/Sub topic sends (Notify). The official client talks to it over a
// real gRPC connection.
//
// It follows the API reference
// (https://cloud.google.com/billing/docs/reference/budget/rpc/google.cloud.billing.budgets.v1)
// and the notification format
// (https://cloud.google.com/billing/docs/how-to/budgets-programmatic-notifications#notification_format),
// not coopguard's code; test/emulator/FIDELITY.md lists what is modelled.
package budgets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/billing/budgets/apiv1/budgetspb"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/cloudcoop/coopguard/test/emulator/paging"
)

// Publisher publishes one Pub/Sub message (the emulated Pub/Sub).
type Publisher func(ctx context.Context, topic string, data []byte, attrs map[string]string) error

// Server is the fake BudgetService. Create it with New; it is safe for
// concurrent use.
type Server struct {
	budgetspb.UnimplementedBudgetServiceServer

	now func() time.Time

	mu      sync.Mutex
	budgets map[string]*budgetspb.Budget // by name
	publish Publisher
}

// New returns a Server with no budgets; now is the clock.
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{now: now, budgets: map[string]*budgetspb.Budget{}}
}

// Register registers the BudgetService on g.
func (s *Server) Register(g *grpc.Server) { budgetspb.RegisterBudgetServiceServer(g, s) }

// SetPublisher makes Notify publish with p.
func (s *Server) SetPublisher(p Publisher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.publish = p
}

var (
	accountRE = regexp.MustCompile(`^billingAccounts/([0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6})$`)
	budgetRE  = regexp.MustCompile(`^billingAccounts/([0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6})/budgets/([a-f0-9-]+)$`)
	topicRE   = regexp.MustCompile(`^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$`)
	projectRE = regexp.MustCompile(`^projects/[a-z0-9-]+$`)
)

// limits: page size default and maximum 100 (ListBudgetsRequest.page_size).
var limits = paging.Limits{Default: 100, Max: 100}

// CreateBudget creates a budget under a billing account.
func (s *Server) CreateBudget(_ context.Context, req *budgetspb.CreateBudgetRequest) (*budgetspb.Budget, error) {
	if !accountRE.MatchString(req.GetParent()) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid parent %q: want billingAccounts/XXXXXX-XXXXXX-XXXXXX", req.GetParent())
	}
	b := proto.Clone(req.GetBudget()).(*budgetspb.Budget)
	if b == nil {
		return nil, status.Error(codes.InvalidArgument, "budget is required")
	}
	if err := validate(b); err != nil {
		return nil, err
	}
	b.Name = req.GetParent() + "/budgets/" + newID()
	b.Etag = newEtag()
	defaults(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.budgets[b.Name] = b
	return proto.Clone(b).(*budgetspb.Budget), nil
}

// GetBudget returns one budget.
func (s *Server) GetBudget(_ context.Context, req *budgetspb.GetBudgetRequest) (*budgetspb.Budget, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.find(req.GetName())
	if err != nil {
		return nil, err
	}
	return proto.Clone(b).(*budgetspb.Budget), nil
}

// ListBudgets lists a billing account's budgets, optionally only those
// whose filter names the project in scope.
func (s *Server) ListBudgets(_ context.Context, req *budgetspb.ListBudgetsRequest) (*budgetspb.ListBudgetsResponse, error) {
	if !accountRE.MatchString(req.GetParent()) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid parent %q: want billingAccounts/XXXXXX-XXXXXX-XXXXXX", req.GetParent())
	}
	if sc := req.GetScope(); sc != "" && !projectRE.MatchString(sc) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid scope %q: only a project (projects/PROJECT) is supported", sc)
	}
	s.mu.Lock()
	var all []*budgetspb.Budget
	for name, b := range s.budgets {
		if !strings.HasPrefix(name, req.GetParent()+"/") {
			continue
		}
		if sc := req.GetScope(); sc != "" && !slices.Contains(b.GetBudgetFilter().GetProjects(), sc) {
			continue
		}
		all = append(all, proto.Clone(b).(*budgetspb.Budget))
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	page, next, err := paging.Page(limits, all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &budgetspb.ListBudgetsResponse{Budgets: page, NextPageToken: next}, nil
}

// UpdateBudget replaces the budget's fields named by update_mask (all
// writable fields without one); a non-empty etag must match.
func (s *Server) UpdateBudget(_ context.Context, req *budgetspb.UpdateBudgetRequest) (*budgetspb.Budget, error) {
	in := req.GetBudget()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "budget is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.find(in.GetName())
	if err != nil {
		return nil, err
	}
	if in.GetEtag() != "" && in.GetEtag() != cur.Etag {
		return nil, status.Errorf(codes.Aborted, "The etag %q does not match the budget's current etag: read the budget again and retry", in.GetEtag())
	}
	next := proto.Clone(cur).(*budgetspb.Budget)
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = []string{"display_name", "budget_filter", "amount", "threshold_rules", "notifications_rule"}
	}
	for _, p := range paths {
		switch p {
		case "display_name":
			next.DisplayName = in.GetDisplayName()
		case "budget_filter":
			next.BudgetFilter = in.GetBudgetFilter()
		case "amount":
			next.Amount = in.GetAmount()
		case "threshold_rules":
			next.ThresholdRules = in.GetThresholdRules()
		case "notifications_rule":
			next.NotificationsRule = in.GetNotificationsRule()
		case "notifications_rule.pubsub_topic":
			if next.NotificationsRule == nil {
				next.NotificationsRule = &budgetspb.NotificationsRule{}
			}
			next.NotificationsRule.PubsubTopic = in.GetNotificationsRule().GetPubsubTopic()
		default:
			return nil, status.Errorf(codes.InvalidArgument, "update_mask: %q is not a writable field of a budget", p)
		}
	}
	if err := validate(next); err != nil {
		return nil, err
	}
	defaults(next)
	next.Etag = newEtag()
	s.budgets[next.Name] = next
	return proto.Clone(next).(*budgetspb.Budget), nil
}

// DeleteBudget deletes a budget.
func (s *Server) DeleteBudget(_ context.Context, req *budgetspb.DeleteBudgetRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.find(req.GetName()); err != nil {
		return nil, err
	}
	delete(s.budgets, req.GetName())
	return &emptypb.Empty{}, nil
}

// find returns the budget name; callers hold s.mu.
func (s *Server) find(name string) (*budgetspb.Budget, error) {
	if !budgetRE.MatchString(name) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid budget name %q: want billingAccounts/ACCOUNT/budgets/ID", name)
	}
	b, ok := s.budgets[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Budget %s not found.", name)
	}
	return b, nil
}

// validate checks what the reference requires of a budget.
func validate(b *budgetspb.Budget) error {
	bad := func(format string, args ...any) error {
		return status.Errorf(codes.InvalidArgument, format, args...)
	}
	if len([]rune(b.GetDisplayName())) > 60 {
		return bad("display_name must be at most 60 characters")
	}
	amt := b.GetAmount()
	switch {
	case amt == nil || (amt.GetSpecifiedAmount() == nil && amt.GetLastPeriodAmount() == nil):
		return bad("amount is required: a specified_amount or last_period_amount")
	case amt.GetSpecifiedAmount() != nil && (amt.GetSpecifiedAmount().GetUnits() < 0 || amt.GetSpecifiedAmount().GetNanos() < 0):
		return bad("amount.specified_amount must not be negative")
	}
	for _, r := range b.GetThresholdRules() {
		if r.GetThresholdPercent() < 0 {
			return bad("threshold_rules.threshold_percent must be non-negative, got %v", r.GetThresholdPercent())
		}
	}
	f := b.GetBudgetFilter()
	for _, p := range f.GetProjects() {
		if !projectRE.MatchString(p) {
			return bad("budget_filter.projects: %q is not of the form projects/PROJECT", p)
		}
	}
	if len(f.GetLabels()) > 1 {
		return bad("budget_filter.labels: only one label is allowed")
	}
	for k, v := range f.GetLabels() {
		if len(v.GetValues()) != 1 || v.GetValues()[0].GetStringValue() == "" {
			return bad("budget_filter.labels[%q]: exactly one string value is allowed", k)
		}
	}
	n := b.GetNotificationsRule()
	if t := n.GetPubsubTopic(); t != "" {
		if !topicRE.MatchString(t) {
			return bad("notifications_rule.pubsub_topic: %q is not of the form projects/PROJECT/topics/TOPIC", t)
		}
		if n.GetSchemaVersion() != "1.0" {
			return bad("notifications_rule.schema_version: only \"1.0\" is accepted with a pubsub_topic, got %q", n.GetSchemaVersion())
		}
	}
	if len(n.GetMonitoringNotificationChannels()) > 5 {
		return bad("notifications_rule.monitoring_notification_channels: at most 5")
	}
	if len(b.GetThresholdRules()) > 0 && n.GetDisableDefaultIamRecipients() && len(n.GetMonitoringNotificationChannels()) == 0 {
		return bad("threshold rules need an email recipient: keep the default IAM recipients or name a monitoring notification channel")
	}
	return nil
}

// defaults fills what the service sets: the filter's default period and
// credit treatment.
func defaults(b *budgetspb.Budget) {
	if b.BudgetFilter == nil {
		b.BudgetFilter = &budgetspb.Filter{}
	}
	if b.BudgetFilter.GetUsagePeriod() == nil {
		b.BudgetFilter.UsagePeriod = &budgetspb.Filter_CalendarPeriod{CalendarPeriod: budgetspb.CalendarPeriod_MONTH}
	}
	if b.BudgetFilter.CreditTypesTreatment == budgetspb.Filter_CREDIT_TYPES_TREATMENT_UNSPECIFIED {
		b.BudgetFilter.CreditTypesTreatment = budgetspb.Filter_INCLUDE_ALL_CREDITS
	}
	for _, r := range b.ThresholdRules {
		if r.SpendBasis == budgetspb.ThresholdRule_BASIS_UNSPECIFIED {
			r.SpendBasis = budgetspb.ThresholdRule_CURRENT_SPEND
		}
	}
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func newEtag() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Notification is the data of a budget notification, as documented.
type Notification struct {
	BudgetDisplayName string `json:"budgetDisplayName"`
	// AlertThresholdExceeded is the highest threshold rule (1.0 = 100%)
	// the cost has passed, absent when none has.
	AlertThresholdExceeded    *float64 `json:"alertThresholdExceeded,omitempty"`
	ForecastThresholdExceeded *float64 `json:"forecastThresholdExceeded,omitempty"`
	CostAmount                float64  `json:"costAmount"`
	CostIntervalStart         string   `json:"costIntervalStart"`
	BudgetAmount              float64  `json:"budgetAmount"`
	BudgetAmountType          string   `json:"budgetAmountType"`
	CurrencyCode              string   `json:"currencyCode"`
}

// pacific is where billing months start (the documented sample's
// costIntervalStart is 08:00Z, midnight US Pacific).
var pacific = time.FixedZone("PST", -8*60*60)

// Message builds the notification budget name would send with the cost so
// far this period: its data and attributes (billingAccountId, budgetId,
// schemaVersion).
func (s *Server) Message(name string, cost float64) ([]byte, map[string]string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.find(name)
	if err != nil {
		return nil, nil, "", err
	}
	m := budgetMatch(name)
	amount, currency := 0.0, "USD"
	if sa := b.GetAmount().GetSpecifiedAmount(); sa != nil {
		amount, currency = moneyValue(sa), sa.GetCurrencyCode()
	}
	now := s.now().In(pacific)
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, pacific).UTC()
	n := Notification{
		BudgetDisplayName: b.GetDisplayName(), CostAmount: cost, CostIntervalStart: start.Format(time.RFC3339),
		BudgetAmount: amount, BudgetAmountType: "SPECIFIED_AMOUNT", CurrencyCode: currency,
	}
	if b.GetAmount().GetLastPeriodAmount() != nil {
		n.BudgetAmountType = "LAST_PERIOD_AMOUNT"
	}
	var crossed *float64
	for _, r := range b.GetThresholdRules() {
		t := r.GetThresholdPercent()
		if r.GetSpendBasis() == budgetspb.ThresholdRule_CURRENT_SPEND && amount > 0 && cost >= t*amount && (crossed == nil || t > *crossed) {
			crossed = &t
		}
	}
	n.AlertThresholdExceeded = crossed
	data, err := json.Marshal(n)
	if err != nil {
		return nil, nil, "", err
	}
	attrs := map[string]string{"billingAccountId": m[1], "budgetId": m[2], "schemaVersion": "1.0"}
	return data, attrs, b.GetNotificationsRule().GetPubsubTopic(), nil
}

// Notify publishes budget name's notification with the cost so far to its
// topic, as Cloud Billing does several times a day. A budget without a
// topic sends nothing (an error here, so a test notices).
func (s *Server) Notify(ctx context.Context, name string, cost float64) error {
	data, attrs, topic, err := s.Message(name, cost)
	if err != nil {
		return err
	}
	s.mu.Lock()
	pub := s.publish
	s.mu.Unlock()
	if topic == "" {
		return fmt.Errorf("budgets: %s has no pubsub_topic: it sends no programmatic notification", name)
	}
	if pub == nil {
		return fmt.Errorf("budgets: no publisher set")
	}
	return pub(ctx, topic, data, attrs)
}

// Budgets returns copies of every budget, by name.
func (s *Server) Budgets() []*budgetspb.Budget {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*budgetspb.Budget
	for _, b := range s.budgets {
		out = append(out, proto.Clone(b).(*budgetspb.Budget))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func budgetMatch(name string) []string { return budgetRE.FindStringSubmatch(name) }

func moneyValue(m *money.Money) float64 {
	return float64(m.GetUnits()) + float64(m.GetNanos())/1e9
}
