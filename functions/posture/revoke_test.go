package posture_test

import (
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/fixture"
)

func TestRevokeKeyNamed(t *testing.T) {
	w := newWorld(t)
	st := fixture.OpenStore(t, w.emu)
	tests := []struct {
		name     string
		revoke   config.Revoke
		record   bool // the key id of version 1 is recorded
		noStore  bool
		status   posture.Status
		evidence string
	}{
		{"off says the copies keep working", config.Revoke{}, false, false, posture.Pass, "copies the agents hold still work"},
		{"https endpoint names its keys", config.Revoke{Provider: config.RevokeHTTPS, URL: "https://keys.example.com/revoke"}, false, false, posture.Pass, "names the keys"},
		{"workspace", config.Revoke{Provider: config.RevokeAnthropic, NameKeysBy: config.NameByWorkspace, WorkspaceID: "wrkspc_1"}, false, false, posture.Pass, "wrkspc_1"},
		{"a version without a key id cannot be named", config.Revoke{Provider: config.RevokeAnthropic, NameKeysBy: config.NameByKeyID}, false, false, posture.Fail, "anthropic-api-key/1"},
		{"every live version named", config.Revoke{Provider: config.RevokeAnthropic, NameKeysBy: config.NameByKeyID}, true, false, posture.Pass, "apikey_01posture"},
		{"no store", config.Revoke{Provider: config.RevokeAnthropic, NameKeysBy: config.NameByKeyID}, true, true, posture.Error, "no incident store"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.record {
				if err := st.RecordProviderKey(w.ctx, store.ProviderKey{Secret: "anthropic-api-key", Version: "1", Provider: "anthropic", KeyID: "apikey_01posture"}); err != nil {
					t.Fatal(err)
				}
			}
			w.cfg.Coopguard.Revoke = tt.revoke
			in := w.input(t)
			if !tt.noStore {
				in.KeyIDs = st
			}
			rep := posture.Run(w.ctx, w.clients, in)
			r := result(t, rep, "revoke-key-named")
			if r.Status != tt.status || !strings.Contains(r.Evidence, tt.evidence) {
				t.Errorf("%s: %q (fix %q), want %s mentioning %q", r.Status, r.Evidence, r.Fix, tt.status, tt.evidence)
			}
			if r.Status == posture.Fail && !strings.Contains(r.Fix, "key_id") {
				t.Errorf("fix %q does not say how to name the key", r.Fix)
			}
			if strings.Contains(r.Evidence+r.Fix, keyValue) {
				t.Error("the key appears in the result")
			}
		})
	}
}
