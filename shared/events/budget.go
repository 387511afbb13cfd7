package events

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"time"
)

// Attribute names Cloud Billing sets on a budget notification
// (https://cloud.google.com/billing/docs/how-to/budgets-programmatic-notifications#notification_format).
const (
	AttrBillingAccountID = "billingAccountId"
	AttrBudgetID         = "budgetId"
	AttrSchemaVersion    = "schemaVersion"
)

// BudgetSchemaVersion is the only notification schema (NotificationsRule
// accepts "1.0" only).
const BudgetSchemaVersion = "1.0"

// BudgetNotification is one Cloud Billing budget notification: its
// attributes and its JSON data.
type BudgetNotification struct {
	// BillingAccountID and BudgetID name the budget
	// (billingAccounts/<BillingAccountID>/budgets/<BudgetID>).
	BillingAccountID string
	BudgetID         string
	// DisplayName is the budget's display name.
	DisplayName string
	// CostAmount is the cost so far in the period, BudgetAmount the
	// budget, both in CurrencyCode.
	CostAmount   float64
	BudgetAmount float64
	CurrencyCode string
	// BudgetAmountType is SPECIFIED_AMOUNT or LAST_PERIOD_AMOUNT.
	BudgetAmountType string
	// CostIntervalStart is the start of the period the cost covers.
	CostIntervalStart time.Time
	// AlertThresholdExceeded is the highest threshold passed (1.0 = 100%);
	// 0 when none has been.
	AlertThresholdExceeded float64
	// ForecastThresholdExceeded is the highest forecast threshold passed,
	// 0 when none.
	ForecastThresholdExceeded float64
}

// BudgetName is the budget's resource name.
func (n BudgetNotification) BudgetName() string {
	return "billingAccounts/" + n.BillingAccountID + "/budgets/" + n.BudgetID
}

// budgetJSON is the notification's data as documented.
type budgetJSON struct {
	BudgetDisplayName         string   `json:"budgetDisplayName"`
	AlertThresholdExceeded    *float64 `json:"alertThresholdExceeded,omitempty"`
	ForecastThresholdExceeded *float64 `json:"forecastThresholdExceeded,omitempty"`
	CostAmount                *float64 `json:"costAmount"`
	CostIntervalStart         string   `json:"costIntervalStart"`
	BudgetAmount              *float64 `json:"budgetAmount"`
	BudgetAmountType          string   `json:"budgetAmountType"`
	CurrencyCode              string   `json:"currencyCode"`
}

var (
	billingAccountSyntax = regexp.MustCompile(`^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$`)
	budgetIDSyntax       = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	currencySyntax       = regexp.MustCompile(`^[A-Z]{3}$`)
)

// DecodeBudget decodes a budget notification from its Pub/Sub message.
// It needs the attributes billingAccountId, budgetId and schemaVersion 1.0
// and the data's costAmount, budgetAmount and currencyCode; amounts must
// be finite and not negative.
func DecodeBudget(msg PubSubMessage) (BudgetNotification, error) {
	const format = "budget notification"
	var n BudgetNotification
	if msg.Attributes[AttrSchemaVersion] != BudgetSchemaVersion {
		return n, undecodable(format, "attribute schemaVersion is not %q", BudgetSchemaVersion)
	}
	n.BillingAccountID, n.BudgetID = msg.Attributes[AttrBillingAccountID], msg.Attributes[AttrBudgetID]
	if !billingAccountSyntax.MatchString(n.BillingAccountID) {
		return n, undecodable(format, "attribute billingAccountId is not a billing account id")
	}
	if !budgetIDSyntax.MatchString(n.BudgetID) {
		return n, undecodable(format, "attribute budgetId is not a budget id")
	}
	if err := checkSize(format, msg.Data); err != nil {
		return n, err
	}
	var d budgetJSON
	if err := json.NewDecoder(bytes.NewReader(msg.Data)).Decode(&d); err != nil {
		return n, jsonError(format, err)
	}
	switch {
	case d.CostAmount == nil:
		return n, undecodable(format, "costAmount is missing")
	case d.BudgetAmount == nil:
		return n, undecodable(format, "budgetAmount is missing")
	case !currencySyntax.MatchString(d.CurrencyCode):
		return n, undecodable(format, "currencyCode is not a currency code")
	}
	for name, v := range map[string]*float64{"costAmount": d.CostAmount, "budgetAmount": d.BudgetAmount, "alertThresholdExceeded": d.AlertThresholdExceeded, "forecastThresholdExceeded": d.ForecastThresholdExceeded} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0) || *v < 0) {
			return n, undecodable(format, "%s is not a finite amount of 0 or more", name)
		}
	}
	n.DisplayName, n.CurrencyCode, n.BudgetAmountType = d.BudgetDisplayName, d.CurrencyCode, d.BudgetAmountType
	n.CostAmount, n.BudgetAmount = *d.CostAmount, *d.BudgetAmount
	if d.AlertThresholdExceeded != nil {
		n.AlertThresholdExceeded = *d.AlertThresholdExceeded
	}
	if d.ForecastThresholdExceeded != nil {
		n.ForecastThresholdExceeded = *d.ForecastThresholdExceeded
	}
	if d.CostIntervalStart != "" {
		t, err := time.Parse(time.RFC3339Nano, d.CostIntervalStart)
		if err != nil {
			return n, undecodable(format, "costIntervalStart is not an RFC 3339 time")
		}
		n.CostIntervalStart = t.UTC()
	}
	return n, nil
}

// EncodeBudget is DecodeBudget's inverse: the message Cloud Billing sends
// for n (tests and drills publish it).
func EncodeBudget(n BudgetNotification) (PubSubMessage, error) {
	d := budgetJSON{BudgetDisplayName: n.DisplayName, CostAmount: &n.CostAmount, BudgetAmount: &n.BudgetAmount,
		BudgetAmountType: n.BudgetAmountType, CurrencyCode: n.CurrencyCode}
	if n.AlertThresholdExceeded > 0 {
		d.AlertThresholdExceeded = &n.AlertThresholdExceeded
	}
	if n.ForecastThresholdExceeded > 0 {
		d.ForecastThresholdExceeded = &n.ForecastThresholdExceeded
	}
	if !n.CostIntervalStart.IsZero() {
		d.CostIntervalStart = n.CostIntervalStart.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return PubSubMessage{}, err
	}
	return PubSubMessage{Data: b, Attributes: map[string]string{
		AttrBillingAccountID: n.BillingAccountID, AttrBudgetID: n.BudgetID, AttrSchemaVersion: BudgetSchemaVersion,
	}}, nil
}
