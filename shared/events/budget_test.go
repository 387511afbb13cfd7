package events

import (
	"errors"
	"testing"
	"time"
)

// budgetSample is a notification shaped as the reference documents it.
func budgetSample() PubSubMessage {
	return PubSubMessage{
		Data: []byte(`{"budgetDisplayName":"coopguard claude-sandbox","alertThresholdExceeded":1.5,"costAmount":310.25,` +
			`"costIntervalStart":"2026-12-01T08:00:00Z","budgetAmount":200.0,"budgetAmountType":"SPECIFIED_AMOUNT","currencyCode":"USD"}`),
		Attributes: map[string]string{"billingAccountId": "0A1B2C-3D4E5F-6A7B8C", "budgetId": "de72f49d-779b-4945-a127-4d6ce8def0bb", "schemaVersion": "1.0"},
	}
}

func TestDecodeBudget(t *testing.T) {
	n, err := DecodeBudget(budgetSample())
	if err != nil {
		t.Fatal(err)
	}
	want := BudgetNotification{BillingAccountID: "0A1B2C-3D4E5F-6A7B8C", BudgetID: "de72f49d-779b-4945-a127-4d6ce8def0bb", DisplayName: "coopguard claude-sandbox",
		CostAmount: 310.25, BudgetAmount: 200, CurrencyCode: "USD", BudgetAmountType: "SPECIFIED_AMOUNT",
		CostIntervalStart: time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC), AlertThresholdExceeded: 1.5}
	if n != want {
		t.Fatalf("decoded = %+v\nwant %+v", n, want)
	}
	if n.BudgetName() != "billingAccounts/0A1B2C-3D4E5F-6A7B8C/budgets/de72f49d-779b-4945-a127-4d6ce8def0bb" {
		t.Errorf("BudgetName = %s", n.BudgetName())
	}
}

func TestDecodeBudgetRefuses(t *testing.T) {
	mut := func(f func(*PubSubMessage)) PubSubMessage {
		m := budgetSample()
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		m.Attributes = attrs
		f(&m)
		return m
	}
	tests := map[string]PubSubMessage{
		"no schema version":   mut(func(m *PubSubMessage) { delete(m.Attributes, "schemaVersion") }),
		"another schema":      mut(func(m *PubSubMessage) { m.Attributes["schemaVersion"] = "2.0" }),
		"bad billing account": mut(func(m *PubSubMessage) { m.Attributes["billingAccountId"] = "x" }),
		"no budget id":        mut(func(m *PubSubMessage) { delete(m.Attributes, "budgetId") }),
		"no data":             mut(func(m *PubSubMessage) { m.Data = nil }),
		"not json":            mut(func(m *PubSubMessage) { m.Data = []byte("{") }),
		"no cost":             mut(func(m *PubSubMessage) { m.Data = []byte(`{"budgetAmount":1,"currencyCode":"USD"}`) }),
		"negative cost":       mut(func(m *PubSubMessage) { m.Data = []byte(`{"costAmount":-1,"budgetAmount":1,"currencyCode":"USD"}`) }),
		"no currency":         mut(func(m *PubSubMessage) { m.Data = []byte(`{"costAmount":1,"budgetAmount":1}`) }),
		"bad interval start": mut(func(m *PubSubMessage) {
			m.Data = []byte(`{"costAmount":1,"budgetAmount":1,"currencyCode":"USD","costIntervalStart":"soon"}`)
		}),
		"cost is a string": mut(func(m *PubSubMessage) { m.Data = []byte(`{"costAmount":"1","budgetAmount":1,"currencyCode":"USD"}`) }),
	}
	for name, m := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeBudget(m); !errors.Is(err, ErrUndecodable) {
				t.Errorf("err = %v, want ErrUndecodable", err)
			}
		})
	}
}

func FuzzDecodeBudget(f *testing.F) {
	f.Add(budgetSample().Data, "0A1B2C-3D4E5F-6A7B8C", "de72f49d", "1.0")
	f.Add([]byte(`{"costAmount":0,"budgetAmount":0,"currencyCode":"EUR"}`), "0A1B2C-3D4E5F-6A7B8C", "b", "1.0")
	f.Fuzz(func(t *testing.T, data []byte, account, budget, schema string) {
		m := PubSubMessage{Data: data, Attributes: map[string]string{"billingAccountId": account, "budgetId": budget, "schemaVersion": schema}}
		n, err := DecodeBudget(m)
		if err != nil {
			mustBeUndecodable(t, err)
			return
		}
		m2, err := EncodeBudget(n)
		if err != nil {
			t.Fatalf("EncodeBudget: %v", err)
		}
		n2, err := DecodeBudget(m2)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		assertEqual(t, n, n2)
	})
}
