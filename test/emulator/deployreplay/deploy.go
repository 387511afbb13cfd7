package deployreplay

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/shared/config"
)

// Settings are the environment deploy.sh reads, for a coopguard config
// deployed into a project numbered number: what an operator sets when
// running `make deploy` for it, plus the dry run's stand-ins for what a
// real deploy reads from GCP (the project number; no sandbox named yet in
// the coopguard-sandboxes condition of a fresh project).
func Settings(cfg *config.Config, number string) []string {
	zone := cfg.Cloud.GCP.Zone
	region := zone
	if i := strings.LastIndex(zone, "-"); i > 0 {
		region = zone[:i]
	}
	t := cfg.Coopguard.Topics
	return []string{
		"PROJECT=" + cfg.Cloud.GCP.Project,
		"REGION=" + region,
		// The functions are not deployed: no go.mod to read a runtime from.
		"RUNTIME=go126",
		"DRY_RUN_PROJECT_NUMBER=" + number,
		"DRY_RUN_SANDBOXES=",
		"COOPGUARD_ZONE=" + zone,
		"COOPGUARD_SERVICE_ACCOUNT=" + cfg.Cloud.GCP.ServiceAccount,
		"COOPGUARD_VM_NAME=" + cfg.VM.Name,
		"COOPGUARD_SECRETS=" + strings.Join(cfg.Coopguard.Secrets, ","),
		"COOPGUARD_TOPIC_ALERTS=" + t.Alerts,
		"COOPGUARD_TOPIC_LOGS=" + t.Logs,
		"COOPGUARD_TOPIC_ROTATION=" + t.Rotation,
		"COOPGUARD_TOPIC_INCIDENTS=" + t.Incidents,
		"COOPGUARD_TOPIC_FOLLOWUP=" + t.FollowUp,
		"COOPGUARD_ROTATION_KEY_SOURCE_URL=" + cfg.Coopguard.Rotation.KeySourceURL,
		"COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET=" + cfg.Coopguard.Rotation.KeySourceCredentialSecret,
		"COOPGUARD_REVOKE_PROVIDER=" + cfg.Coopguard.Revoke.Provider,
		"COOPGUARD_REVOKE_CREDENTIAL_SECRET=" + cfg.Coopguard.Revoke.CredentialSecret,
		"COOPGUARD_FLEET_FOLDER=" + cfg.Coopguard.Fleet.Folder,
		"COOPGUARD_FLEET_BILLING_ACCOUNT=" + cfg.Coopguard.Fleet.BillingAccount,
	}
}

// listings caches the dry runs by their settings: a run of bash costs
// about a second, and the tests deploy the same few configs many times.
var listings sync.Map // settings key → *listing

type listing struct {
	once  sync.Once
	steps []deploy.Step
	err   error
}

// Listing returns deploy.sh's dry-run listing for settings (run once per
// process for each distinct settings).
func Listing(ctx context.Context, settings []string) ([]deploy.Step, error) {
	v, _ := listings.LoadOrStore(strings.Join(settings, "\x00"), &listing{})
	l := v.(*listing)
	l.once.Do(func() {
		l.steps, l.err = deploy.DryRunEmbedded(ctx, settings...)
		if l.err != nil {
			l.err = fmt.Errorf("deployreplay: %w", l.err)
		}
	})
	return l.steps, l.err
}

// Deploy deploys cfg into t as deploy.sh would: its dry-run listing for
// cfg, replayed.
func Deploy(ctx context.Context, t Target, cfg *config.Config) error {
	if t.Project != cfg.Cloud.GCP.Project {
		return fmt.Errorf("deployreplay: target project %s is not the config's %s", t.Project, cfg.Cloud.GCP.Project)
	}
	steps, err := Listing(ctx, Settings(cfg, t.Number))
	if err != nil {
		return err
	}
	return Replay(ctx, t, steps)
}
