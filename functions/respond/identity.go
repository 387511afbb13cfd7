package respond

import (
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
)

// sandboxAccount is the service account coopguard gave the sandbox named
// name: cloud.gcp.service_account for the configured one, the account
// Provision derives from the name for any other. It comes from config,
// never from the VM, which the attacker may have changed; "" when the
// name is not one Provision accepts.
func sandboxAccount(cfg *config.Config, name string) string {
	sb, err := provisioner.NewSandbox(cfg, name, "")
	if err != nil {
		return ""
	}
	return sb.ServiceAccount
}
