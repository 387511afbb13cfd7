package attack

import (
	"context"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
)

// actorStolen is the sandbox's account through its token, taken off the
// VM and used from outside Google Cloud.
const actorStolen = "the sandbox's service account, its token used from outside Google Cloud"

// originScenarios are the drills on where a call by the sandbox's account
// comes from.
func originScenarios() []Scenario {
	return []Scenario{
		{Name: "gcp.initial-access.use-compute-sa-outside-gcp", Kind: Attack, Actor: actorStolen, Counterpart: "own-key-read",
			// Stratus Red Team's technique sets labels on the VM with the
			// stolen token; the sandbox's account holds no Compute role, so
			// the drill makes the call it can make and an attacker wants.
			Summary: "reads the sandbox's key with the VM's token from outside Google Cloud (Stratus Red Team's technique): AccessSecretVersion, allowed, so only where it came from tells",
			Act: func(ctx context.Context, w *World) error {
				s := w.secretName(w.Cfg.Coopguard.Secrets[0]) + "/versions/latest"
				_, err := w.Stolen.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: s})
				return allowed(err, "AccessSecretVersion on "+s)
			}},
	}
}
