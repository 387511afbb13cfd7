package functions

import (
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
)

// sinkFilter returns the log sink filter for a sandbox.
func sinkFilter(cfg *config.Config) func(sb *provisioner.Sandbox) string {
	return func(sb *provisioner.Sandbox) string {
		return `protoPayload.authenticationInfo.principalEmail="` + sb.ServiceAccount + `"`
	}
}
