package provisioner

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// canary is the sandbox's decoy secret (a honeytoken): a plausible name,
// one version holding a generated value shaped like an Anthropic API key
// that is valid nowhere. The sandbox's account may read it (secretAccess);
// nothing legitimate ever does, so any read of it is an attack. Its labels
// name the sandbox, not its purpose: an agent that can read them must not
// learn it is a decoy.
type canary struct {
	s *Sandbox
}

func (r *canary) Kind() string   { return "canary-secret" }
func (r *canary) Name() string   { return r.s.Canary }
func (r *canary) Deps() []string { return nil }

func (r *canary) path() string { return "projects/" + r.s.Project + "/secrets/" + r.s.Canary }

func (r *canary) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	_, err := c.Secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: r.path()})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: "decoy secret with a generated key-shaped value (not shown)", Apply: func(ctx context.Context) error {
			_, err := c.Secrets.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
				Parent:   "projects/" + r.s.Project,
				SecretId: r.s.Canary,
				Secret: &secretmanagerpb.Secret{
					Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
					Labels:      map[string]string{"coopguard-sandbox": r.s.Name},
				},
			})
			if err != nil && !retry.IsAlreadyExists(err) {
				return err
			}
			return r.addValueIfEmpty(ctx, c)
		}}, nil
	case err != nil:
		return Change{}, err
	}
	empty, err := r.empty(ctx, c)
	if err != nil {
		return Change{}, err
	}
	if empty {
		return Change{Action: Update, Detail: "add the decoy value (not shown)", Apply: func(ctx context.Context) error { return r.addValueIfEmpty(ctx, c) }}, nil
	}
	return Change{Action: None, Detail: "decoy secret with its value"}, nil
}

// empty reports whether the decoy has no version yet (a create whose
// value was never added).
func (r *canary) empty(ctx context.Context, c *gcp.Clients) (bool, error) {
	it := c.Secrets.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: r.path(), PageSize: 1})
	switch _, err := it.Next(); {
	case err == nil:
		return false, nil
	case errors.Is(err, iterator.Done):
		return true, nil
	default:
		return false, fmt.Errorf("list the versions of decoy secret %s: %w", r.s.Canary, err)
	}
}

// addValueIfEmpty adds the generated value unless a version exists, so a
// retried apply never stacks decoys.
func (r *canary) addValueIfEmpty(ctx context.Context, c *gcp.Clients) error {
	empty, err := r.empty(ctx, c)
	if err != nil || !empty {
		return err
	}
	_, err = c.Secrets.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
		Parent:  r.path(),
		Payload: &secretmanagerpb.SecretPayload{Data: []byte(decoyKey())},
	})
	if err != nil {
		// The error names the secret, never the value.
		return fmt.Errorf("add the decoy value to secret %s: %w", r.s.Canary, err)
	}
	return nil
}

// decoyKey returns a fresh random value in the shape of an Anthropic API
// key ("sk-ant-api03-", 93 URL-safe characters, "AA"). It is random, so no
// provider has issued it: valid nowhere, and different in every sandbox.
func decoyKey() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, 93)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "sk-ant-api03-" + string(b) + "AA"
}
