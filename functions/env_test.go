package functions

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestEnvsGetTheirConfigsRules: NewEnv's compiled rules are shared between
// Envs of the same rules (compiled once per process), and an Env whose
// config names other rules, or the same rule with another playbook, gets
// those rules, not another Env's.
func TestEnvsGetTheirConfigsRules(t *testing.T) {
	emu, err := emulator.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	clients, err := emu.Clients(context.Background(), config.Demo().Cloud.GCP.Project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clients.Close() })
	newEnv := func(rules ...config.Rule) *Env {
		t.Helper()
		cfg, err := config.FromBase(config.Demo(), func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		cfg.Coopguard.Rules = rules
		e, err := NewEnv(cfg, clients, logger.New(io.Discard, slog.LevelError))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	custom := config.Rule{Name: "only-this", Expression: `entry.?protoPayload.?methodName.orValue("") == "x"`, Playbook: "notify", Severity: "INFO"}
	contain := custom
	contain.Playbook = "contain"

	defaults, again := newEnv(), newEnv()
	if defaults.Rules != again.Rules {
		t.Error("two Envs of the default rules compiled them twice")
	}
	if !slices.Equal(defaults.Rules.Rules(), detect.DefaultRules()) {
		t.Errorf("an Env without rules in its config has %v, want the default rules", ruleNames(defaults.Rules.Rules()))
	}
	for _, want := range []config.Rule{custom, contain} {
		e := newEnv(want)
		got := e.Rules.Rules()
		if len(got) != 1 || got[0] != (detect.Rule{Name: want.Name, Expression: want.Expression, Playbook: want.Playbook, Severity: want.Severity}) {
			t.Errorf("an Env of config rule %+v has rules %+v", want, got)
		}
		if e.Rules == defaults.Rules {
			t.Errorf("an Env of config rule %+v shares the default rules' Engine", want)
		}
	}
}

func ruleNames(rules []detect.Rule) []string {
	var out []string
	for _, r := range rules {
		out = append(out, r.Name)
	}
	return out
}
