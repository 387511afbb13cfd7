package main

import (
	"context"
	"fmt"
	"strconv"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/functions/rotation"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// seedDemoRevocation readies the emulated Anthropic organisation when
// [coopguard.revoke] provider is "anthropic", so a drill on `coopguard
// serve` revokes for real: an Admin API key in the credential secret (when
// that secret is not there yet), and for every live version of every
// managed secret an active key in the organisation whose id is recorded
// in the store, as rotation records it.
func seedDemoRevocation(ctx context.Context, emu *emulator.Emulator, cfg *config.Config, st *store.Store) error {
	rv := cfg.Coopguard.Revoke
	if rv.Provider != config.RevokeAnthropic {
		return nil
	}
	p := cfg.Cloud.GCP.Project
	// The operator made the credential secret before deploy (which grants
	// on it): fill it unless it holds a credential already.
	if len(emu.SecretManager.Versions("projects/"+p+"/secrets/"+rv.CredentialSecret)) == 0 {
		emu.SecretManager.SeedVersions(p, rv.CredentialSecret, []byte(emu.Anthropic.AddAdminKey()))
	}
	if rv.NameKeysBy == config.NameByWorkspace {
		emu.Anthropic.CreateKey("coopguard demo sandbox", rv.WorkspaceID)
		return nil
	}
	for _, id := range cfg.Coopguard.Secrets {
		known, err := st.ProviderKeysOf(ctx, id)
		if err != nil {
			return err
		}
		for _, v := range emu.SecretManager.Versions("projects/" + p + "/secrets/" + id) {
			n := strconv.FormatInt(rotation.VersionNumber(v.GetName()), 10)
			if _, ok := known[n]; ok || v.GetState() == secretmanagerpb.SecretVersion_DESTROYED {
				continue
			}
			keyID, _ := emu.Anthropic.CreateKey(fmt.Sprintf("coopguard demo %s v%s", id, n), rv.WorkspaceID)
			if err := st.RecordProviderKey(ctx, store.ProviderKey{Secret: id, Version: n, Provider: rv.Provider, KeyID: keyID}); err != nil {
				return err
			}
		}
	}
	return nil
}
