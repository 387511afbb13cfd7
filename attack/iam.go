package attack

import (
	"context"
	"fmt"
	"strings"

	admin "cloud.google.com/go/iam/admin/apiv1"
)

// agentIAM returns the official IAM API client the agent calls from its
// VM, as the sandbox's account, and makes sure the account exists there,
// as it does in the project.
func (w *World) agentIAM(_ context.Context) (*admin.IamClient, error) {
	sa := w.Cfg.Cloud.GCP.ServiceAccount
	id, _, _ := strings.Cut(sa, "@")
	if w.Emu.IAMAdmin.SeedServiceAccount(w.Cfg.Cloud.GCP.Project, id) != sa {
		return nil, fmt.Errorf("the emulated IAM API names the sandbox's account otherwise than %s", sa)
	}
	// From the VM, as the agent calls.
	return w.Agent.IAMAdmin, nil
}
