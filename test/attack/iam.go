package attack

import (
	"context"
	"fmt"
	"strings"

	admin "cloud.google.com/go/iam/admin/apiv1"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// agentIAM dials the official IAM API client acting as the sandbox's
// account (coopguard's own client set has no IAM client: it never needs
// one), and makes sure the account exists there, as it does in the
// project.
func (w *World) agentIAM(ctx context.Context) (*admin.IamClient, error) {
	sa := w.Cfg.Cloud.GCP.ServiceAccount
	id, _, _ := strings.Cut(sa, "@")
	if w.Emu.IAMAdmin.SeedServiceAccount(w.Cfg.Cloud.GCP.Project, id) != sa {
		return nil, fmt.Errorf("the emulated IAM API names the sandbox's account otherwise than %s", sa)
	}
	opts := append(gcp.EmulatedGRPC(w.Emu.GRPCAddr), gcp.EmulatedIdentity(sa))
	c, err := admin.NewIamClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("dial the emulated IAM API: %w", err)
	}
	w.closers = append(w.closers, func() { c.Close() })
	return c, nil
}
