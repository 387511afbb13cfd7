package audit

// The Cloud Billing Budget API's methods and the permissions they need
// (https://cloud.google.com/billing/docs/how-to/budget-api-overview#permissions,
// https://cloud.google.com/billing/docs/reference/budget/rpc/google.cloud.billing.budgets.v1).
// The emulated Budget API is served on its own address, not behind the
// gate (IAM on billing accounts is not modelled: FIDELITY.md); these rows
// are what deploy reads to put the permissions in the calling job's role.
func init() {
	const svc, pkg = "billingbudgets.googleapis.com", "google.cloud.billing.budgets.v1.BudgetService."
	for method, perm := range map[string]string{
		"CreateBudget": "billing.budgets.create", "GetBudget": "billing.budgets.get", "ListBudgets": "billing.budgets.list",
		"UpdateBudget": "billing.budgets.update", "DeleteBudget": "billing.budgets.delete",
	} {
		t := AdminRead
		if method == "CreateBudget" || method == "UpdateBudget" || method == "DeleteBudget" {
			t = AdminWrite
		}
		GRPC["/google.cloud.billing.budgets.v1.BudgetService/"+method] = Row{Service: svc, Method: pkg + method, Perms: []string{perm}, Type: t, Resource: []string{"name", "parent", "budget.name"}}
	}
}
