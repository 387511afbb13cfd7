package config

import (
	"regexp"
	"slices"
	"strings"
)

// Budget is the [coopguard.budget] table: what each sandbox may spend,
// on GCP (a Cloud Billing budget per sandbox, whose notifications
// HandleBudget reads) and at the model provider (the Admin API's usage
// report, which WatchCosts reads). Every amount is per sandbox.
type Budget struct {
	// BillingAccount is the Cloud Billing account paying for the
	// sandboxes' project (XXXXXX-XXXXXX-XXXXXX, with or without
	// "billingAccounts/"); empty turns GCP budgets off (posture fails).
	BillingAccount string `toml:"billing_account" env:"COOPGUARD_BUDGET_BILLING_ACCOUNT"`
	// MonthlyAmount is each sandbox's monthly GCP budget, in Currency.
	MonthlyAmount float64 `toml:"monthly_amount" env:"COOPGUARD_BUDGET_MONTHLY_AMOUNT"`
	// Currency is the billing account's currency (ISO 4217): a budget's
	// amount must be in it.
	Currency string `toml:"currency" env:"COOPGUARD_BUDGET_CURRENCY"`
	// NotifyPercents are the percents of MonthlyAmount that notify the
	// operator when passed.
	NotifyPercents []float64 `toml:"notify_percents" env:"COOPGUARD_BUDGET_NOTIFY_PERCENTS"`
	// CapPercent is the percent of MonthlyAmount past which the sandbox
	// is quarantined; 0 sets no cap.
	CapPercent float64 `toml:"cap_percent" env:"COOPGUARD_BUDGET_CAP_PERCENT"`
	// ModelUSDPerHour and ModelUSDPerDay bound the sandbox's model spend
	// (its managed key's, priced from the usage report); past either the
	// sandbox is quarantined. 0 sets no limit.
	ModelUSDPerHour float64 `toml:"model_usd_per_hour" env:"COOPGUARD_BUDGET_MODEL_USD_PER_HOUR"`
	ModelUSDPerDay  float64 `toml:"model_usd_per_day" env:"COOPGUARD_BUDGET_MODEL_USD_PER_DAY"`
	// InputUSDPerMTok and OutputUSDPerMTok price the usage report's
	// tokens (USD per million): the report counts tokens, not money, per
	// key. Cache writes and reads are priced from the input price as
	// Anthropic's pricing page does (1.25x, 2x for one hour, 0.1x).
	InputUSDPerMTok  float64 `toml:"input_usd_per_mtok" env:"COOPGUARD_BUDGET_INPUT_USD_PER_MTOK"`
	OutputUSDPerMTok float64 `toml:"output_usd_per_mtok" env:"COOPGUARD_BUDGET_OUTPUT_USD_PER_MTOK"`
}

// defaultBudget is the table's default: no GCP budget until a billing
// account is named, no model limit, list prices of a mid-size model.
func defaultBudget() Budget {
	return Budget{Currency: "USD", NotifyPercents: []float64{50, 90, 100}, InputUSDPerMTok: 3, OutputUSDPerMTok: 15}
}

var (
	// billingAccountID is a Cloud Billing account id, XXXXXX-XXXXXX-XXXXXX.
	billingAccountID = regexp.MustCompile(`^[0-9A-F]{6}-[0-9A-F]{6}-[0-9A-F]{6}$`)
	currencyCode     = regexp.MustCompile(`^[A-Z]{3}$`)
)

// BillingAccountName is the billing account as the Budget API names it
// (billingAccounts/X), or "" when budgets are off.
func (b Budget) BillingAccountName() string {
	if b.BillingAccount == "" {
		return ""
	}
	return "billingAccounts/" + strings.TrimPrefix(b.BillingAccount, "billingAccounts/")
}

// ModelLimits reports whether a model spend limit is set.
func (b Budget) ModelLimits() bool { return b.ModelUSDPerHour > 0 || b.ModelUSDPerDay > 0 }

// validateBudget checks [coopguard.budget].
func (c *Config) validateBudget(bad func(key, env, format string, args ...any)) {
	b := c.Coopguard.Budget
	if acct := strings.TrimPrefix(b.BillingAccount, "billingAccounts/"); b.BillingAccount != "" && !billingAccountID.MatchString(acct) {
		bad("coopguard.budget.billing_account", "COOPGUARD_BUDGET_BILLING_ACCOUNT", "%q is not a billing account id: want XXXXXX-XXXXXX-XXXXXX (gcloud billing accounts list)", b.BillingAccount)
	}
	if b.BillingAccount != "" && b.MonthlyAmount <= 0 {
		bad("coopguard.budget.monthly_amount", "COOPGUARD_BUDGET_MONTHLY_AMOUNT", "is required with a billing account: each sandbox's monthly GCP budget, e.g. 200")
	}
	if b.MonthlyAmount < 0 {
		bad("coopguard.budget.monthly_amount", "COOPGUARD_BUDGET_MONTHLY_AMOUNT", "%v is negative: want the monthly amount per sandbox, e.g. 200", b.MonthlyAmount)
	}
	if !currencyCode.MatchString(b.Currency) {
		bad("coopguard.budget.currency", "COOPGUARD_BUDGET_CURRENCY", "%q is not a currency code: want the billing account's, e.g. USD or EUR", b.Currency)
	}
	for _, p := range b.NotifyPercents {
		if p <= 0 || p > 1000 {
			bad("coopguard.budget.notify_percents", "COOPGUARD_BUDGET_NOTIFY_PERCENTS", "%v is out of range: want percents of monthly_amount above 0 and at most 1000, e.g. [50, 90, 100]", p)
		}
	}
	switch {
	case b.CapPercent < 0 || b.CapPercent > 1000:
		bad("coopguard.budget.cap_percent", "COOPGUARD_BUDGET_CAP_PERCENT", "%v is out of range: want 0 (no cap) or a percent of monthly_amount up to 1000, e.g. 150", b.CapPercent)
	case b.CapPercent > 0 && len(b.NotifyPercents) > 0 && b.CapPercent < slices.Min(b.NotifyPercents):
		bad("coopguard.budget.cap_percent", "COOPGUARD_BUDGET_CAP_PERCENT", "%v is below every notify percent: the cap quarantines, so put it at or above the last warning (e.g. 150 with notify_percents [50, 90, 100])", b.CapPercent)
	}
	if b.ModelUSDPerHour < 0 {
		bad("coopguard.budget.model_usd_per_hour", "COOPGUARD_BUDGET_MODEL_USD_PER_HOUR", "%v is negative: want 0 (no limit) or USD per hour, e.g. 5", b.ModelUSDPerHour)
	}
	if b.ModelUSDPerDay < 0 {
		bad("coopguard.budget.model_usd_per_day", "COOPGUARD_BUDGET_MODEL_USD_PER_DAY", "%v is negative: want 0 (no limit) or USD per day, e.g. 50", b.ModelUSDPerDay)
	}
	if b.ModelUSDPerHour > 0 && b.ModelUSDPerDay > 0 && b.ModelUSDPerDay < b.ModelUSDPerHour {
		bad("coopguard.budget.model_usd_per_day", "COOPGUARD_BUDGET_MODEL_USD_PER_DAY", "%v is below model_usd_per_hour (%v): a day's limit must allow at least one hour's", b.ModelUSDPerDay, b.ModelUSDPerHour)
	}
	if b.InputUSDPerMTok <= 0 || b.OutputUSDPerMTok <= 0 {
		bad("coopguard.budget.input_usd_per_mtok", "COOPGUARD_BUDGET_INPUT_USD_PER_MTOK", "prices must be above 0 (input %v, output %v USD per million tokens): set the model's list prices", b.InputUSDPerMTok, b.OutputUSDPerMTok)
	}
	if b.ModelLimits() && c.Coopguard.Revoke.Provider != RevokeAnthropic {
		bad("coopguard.budget.model_usd_per_hour", "COOPGUARD_BUDGET_MODEL_USD_PER_HOUR", "model spend limits read Anthropic's Admin API usage report with [coopguard.revoke]'s admin key: set coopguard.revoke.provider = \"anthropic\" and its credential_secret, or set the limits to 0")
	}
}
