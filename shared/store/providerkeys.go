package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/api/iterator"
)

// ProviderKeys holds one document per managed secret version whose key's
// provider id coopguard knows: the name by which revocation tells the
// provider which key to revoke, since coopguard never reads the key
// itself. Secret Manager versions carry no labels or annotations, and the
// secret's annotations can be changed by anyone who may update the
// secret; this collection is written only by coopguard's accounts.
const ProviderKeys = "providerKeys"

// ProviderKey is one recorded key.
type ProviderKey struct {
	// Secret is the managed secret's id, Version the version number.
	Secret  string `firestore:"secret"`
	Version string `firestore:"version"`
	// Provider is config's revoke provider (anthropic), KeyID the key's id
	// there (apikey_…).
	Provider   string    `firestore:"provider"`
	KeyID      string    `firestore:"keyId"`
	RecordedAt time.Time `firestore:"recordedAt"`
}

func providerKeyDoc(secret, version string) string { return secret + "~" + version }

// RecordProviderKey records that version of the managed secret holds the
// provider's key keyID. Recording the same again is no change.
func (s *Store) RecordProviderKey(ctx context.Context, k ProviderKey) error {
	if k.Secret == "" || k.Version == "" || k.KeyID == "" || strings.ContainsAny(k.Secret+k.Version, "/~") {
		return errors.New("record provider key: secret, version and key id are required")
	}
	if k.RecordedAt.IsZero() {
		k.RecordedAt = s.now()
	}
	_, err := s.fs.Collection(ProviderKeys).Doc(providerKeyDoc(k.Secret, k.Version)).Set(ctx, k)
	if err != nil {
		return fmt.Errorf("record the provider key of %s/%s: %w", k.Secret, k.Version, err)
	}
	return nil
}

// ProviderKeysOf returns the keys recorded for the versions of the managed
// secret, by version number.
func (s *Store) ProviderKeysOf(ctx context.Context, secret string) (map[string]ProviderKey, error) {
	out := map[string]ProviderKey{}
	it := s.fs.Collection(ProviderKeys).Where("secret", "==", secret).Documents(ctx)
	defer it.Stop()
	for {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read the provider keys of secret %s: %w", secret, err)
		}
		var k ProviderKey
		if err := snap.DataTo(&k); err != nil {
			return nil, fmt.Errorf("read the provider keys of secret %s: %w", secret, err)
		}
		out[k.Version] = k
	}
}
