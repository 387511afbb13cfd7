package config

import (
	"errors"
	"strings"
	"testing"
)

func TestBudgetValidation(t *testing.T) {
	anthropic := map[string]string{"COOPGUARD_REVOKE_PROVIDER": "anthropic", "COOPGUARD_REVOKE_CREDENTIAL_SECRET": "coopguard-anthropic-admin"}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"the demo's budget", nil, ""},
		{"off", with(nil, "COOPGUARD_BUDGET_BILLING_ACCOUNT", "", "COOPGUARD_BUDGET_MONTHLY_AMOUNT", "0", "COOPGUARD_BUDGET_CAP_PERCENT", "0"), ""},
		{"gcp budget", with(nil, "COOPGUARD_BUDGET_BILLING_ACCOUNT", "0A1B2C-3D4E5F-6A7B8C", "COOPGUARD_BUDGET_MONTHLY_AMOUNT", "200", "COOPGUARD_BUDGET_CAP_PERCENT", "150"), ""},
		{"billing account as a name", with(nil, "COOPGUARD_BUDGET_BILLING_ACCOUNT", "billingAccounts/0A1B2C-3D4E5F-6A7B8C", "COOPGUARD_BUDGET_MONTHLY_AMOUNT", "200"), ""},
		{"model limits", with(anthropic, "COOPGUARD_BUDGET_MODEL_USD_PER_HOUR", "5", "COOPGUARD_BUDGET_MODEL_USD_PER_DAY", "50"), ""},
		{"bad billing account", with(nil, "COOPGUARD_BUDGET_BILLING_ACCOUNT", "my-account", "COOPGUARD_BUDGET_MONTHLY_AMOUNT", "200"), "coopguard.budget.billing_account"},
		{"no amount", with(nil, "COOPGUARD_BUDGET_BILLING_ACCOUNT", "0A1B2C-3D4E5F-6A7B8C", "COOPGUARD_BUDGET_MONTHLY_AMOUNT", "0"), "coopguard.budget.monthly_amount"},
		{"not a number", with(nil, "COOPGUARD_BUDGET_MONTHLY_AMOUNT", "lots"), "COOPGUARD_BUDGET_MONTHLY_AMOUNT"},
		{"bad currency", with(nil, "COOPGUARD_BUDGET_CURRENCY", "dollars"), "coopguard.budget.currency"},
		{"notify percent zero", with(nil, "COOPGUARD_BUDGET_NOTIFY_PERCENTS", "0, 90"), "coopguard.budget.notify_percents"},
		{"cap below warnings", with(nil, "COOPGUARD_BUDGET_CAP_PERCENT", "40"), "coopguard.budget.cap_percent"},
		{"negative hourly", with(anthropic, "COOPGUARD_BUDGET_MODEL_USD_PER_HOUR", "-1"), "coopguard.budget.model_usd_per_hour"},
		{"day below hour", with(anthropic, "COOPGUARD_BUDGET_MODEL_USD_PER_HOUR", "10", "COOPGUARD_BUDGET_MODEL_USD_PER_DAY", "5"), "coopguard.budget.model_usd_per_day"},
		{"limits need the admin api", with(nil, "COOPGUARD_BUDGET_MODEL_USD_PER_HOUR", "5"), "coopguard.revoke.provider"},
		{"zero price", with(nil, "COOPGUARD_BUDGET_OUTPUT_USD_PER_MTOK", "0"), "coopguard.budget.input_usd_per_mtok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromBase(Demo(), mapLookup(tt.env))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Coopguard.Budget.BillingAccount != "" && c.Coopguard.Budget.BillingAccountName() != "billingAccounts/0A1B2C-3D4E5F-6A7B8C" {
					t.Errorf("BillingAccountName = %s", c.Coopguard.Budget.BillingAccountName())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) && !strings.Contains(err.Error(), "COOPGUARD_") {
				t.Errorf("err = %v: neither invalid configuration nor naming the variable", err)
			}
		})
	}
}
