package main

import (
	"context"
	"io"
	"slices"
	"testing"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/functions/revoke"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/anthropic"
	"github.com/cloudcoop/coopguard/test/fixture"
)

// TestServeDemoRevokesAtTheEmulatedAdminAPI: with provider anthropic, the
// demo project's managed key is one the responder can revoke at the
// emulated Admin API, with the admin key only it may read; seeding twice
// adds nothing.
func TestServeDemoRevokesAtTheEmulatedAdminAPI(t *testing.T) {
	t.Parallel()
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	cfg := config.Demo()
	cfg.Coopguard.Revoke.Provider, cfg.Coopguard.Revoke.CredentialSecret = config.RevokeAnthropic, "coopguard-anthropic-admin"
	cfg.Coopguard.Revoke.URL = emu.AnthropicURL
	seedDemo(emu, &cfg)
	if err := emu.DeployConfig(&cfg); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// The store as serve opens it: its own Firestore emulator, which the
	// serve tests of this binary start and stop too.
	st, err := openServeStore(ctx, emu, &cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var recorded []string
	for range 2 {
		if err := seedDemoRevocation(ctx, emu, &cfg, st); err != nil {
			t.Fatal(err)
		}
		keys, err := st.ProviderKeysOf(ctx, "anthropic-api-key")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range keys {
			ids = append(ids, k.Version+"="+k.KeyID)
		}
		if recorded != nil && !slices.Equal(ids, recorded) {
			t.Fatalf("second seeding changed the records: %v, then %v", recorded, ids)
		}
		recorded = ids
	}
	if len(recorded) != 1 {
		t.Fatalf("records = %v, want version 1's key", recorded)
	}
	resp := fixture.DialAs(t, emu, cfg.Cloud.GCP.Project, emulator.Responder(cfg.Cloud.GCP.Project))
	res, err := revoke.New(cfg.Coopguard.Revoke, cfg.Cloud.GCP.Project, resp.Secrets, st, nil).Revoke(ctx, revoke.Request{Project: cfg.Cloud.GCP.Project, Secrets: cfg.Coopguard.Secrets, Incident: "drill-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Revoked) != 1 || len(res.Unnamed) != 0 {
		t.Fatalf("result = %+v", res)
	}
	if k, _ := emu.Anthropic.Key(res.Revoked[0]); k.Status != anthropic.StatusInactive {
		t.Errorf("key %s is %s", k.ID, k.Status)
	}
	sandbox := fixture.DialAs(t, emu, cfg.Cloud.GCP.Project, cfg.Cloud.GCP.ServiceAccount)
	_, err = sandbox.Secrets.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/" + cfg.Cloud.GCP.Project + "/secrets/coopguard-anthropic-admin/versions/latest"})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("the sandbox's account reading the admin key: %v, want PERMISSION_DENIED", err)
	}
}
