// Package config loads coopguard's configuration: a TOML file compatible
// with cloudcoop's .cloudcoop/config.toml, overlaid by environment variables
// (which is how deployed functions are configured), then validated so that
// every problem is one error naming the key and the fix.
package config

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/BurntSushi/toml"
)

// ErrInvalid is wrapped by every validation error, so callers can tell bad
// configuration (fix the file) from I/O problems.
var ErrInvalid = errors.New("invalid configuration")

// Config is the whole configuration of coopguard.
type Config struct {
	Cloud     Cloud     `toml:"cloud"`
	VM        VM        `toml:"vm"`
	Coopguard Coopguard `toml:"coopguard"`
}

// Cloud holds cloudcoop's [cloud] tables.
type Cloud struct {
	GCP GCP `toml:"gcp"`
}

// GCP is cloudcoop's [cloud.gcp] table.
type GCP struct {
	Project        string `toml:"project" env:"COOPGUARD_PROJECT"`
	Zone           string `toml:"zone" env:"COOPGUARD_ZONE"`
	ServiceAccount string `toml:"service_account" env:"COOPGUARD_SERVICE_ACCOUNT"`
}

// VM is cloudcoop's [vm] table: the sandbox instance.
type VM struct {
	Name        string   `toml:"name" env:"COOPGUARD_VM_NAME"`
	MachineType string   `toml:"machine_type" env:"COOPGUARD_VM_MACHINE_TYPE"`
	DiskSizeGB  int64    `toml:"disk_size_gb" env:"COOPGUARD_VM_DISK_SIZE_GB"`
	Image       string   `toml:"image" env:"COOPGUARD_VM_IMAGE"`
	Tags        []string `toml:"tags" env:"COOPGUARD_VM_TAGS"`
}

// Coopguard is coopguard's own [coopguard] table.
type Coopguard struct {
	// DryRun makes every function report what it would do and change nothing.
	DryRun bool `toml:"dry_run" env:"COOPGUARD_DRY_RUN"`
	// Secrets are the Secret Manager secret ids of the configured
	// sandbox's (vm.name) managed keys; every other sandbox has its own,
	// derived from these and its name (SandboxSecrets). coopguard never
	// touches any other secret.
	Secrets []string `toml:"secrets" env:"COOPGUARD_SECRETS"`
	// SubnetCIDR is the sandbox subnet's primary range.
	SubnetCIDR string `toml:"subnet_cidr" env:"COOPGUARD_SUBNET_CIDR"`
	// Topics name coopguard's Pub/Sub topics.
	Topics Topics `toml:"topics"`
	// Playbooks maps an alert policy's display name to a playbook, for
	// policies that do not carry the coopguard-playbook label.
	Playbooks map[string]string `toml:"playbooks" env:"COOPGUARD_PLAYBOOKS"`
	// Rules are the detection rules for log-sink entries; empty means the
	// shipped defaults.
	Rules []Rule `toml:"rules" env:"COOPGUARD_RULES"`
	// Rotation is the key rotation policy of the managed secrets.
	Rotation Rotation `toml:"rotation"`
	// AgentStopTimeout bounds how long stop-agents reads the VM's
	// (unverified) report that the agents are stopped; nothing waits for it.
	AgentStopTimeout Duration `toml:"agent_stop_timeout" env:"COOPGUARD_AGENT_STOP_TIMEOUT"`
	// Canary is the decoy secret Provision makes per sandbox.
	Canary Canary `toml:"canary"`
	// Evidence is what incident reports gather from outside the VM.
	Evidence Evidence `toml:"evidence"`
	// Notify names who is told of incidents.
	Notify Notify `toml:"notify"`
	// Revoke revokes the managed key at its provider (revoke.go).
	Revoke Revoke `toml:"revoke"`
	// Fleet is where Provision creates sandbox projects (fleet.go).
	Fleet Fleet `toml:"fleet"`
	// Budget watches each sandbox's GCP and model spend (budget.go).
	Budget Budget `toml:"budget"`
}

// Notify is the [coopguard.notify] table: the operator's own Cloud
// Monitoring notification channels (email, Slack, PagerDuty, SMS,
// webhooks), which Provision's incident and dead-letter alert policies
// notify. coopguard never creates or changes them.
type Notify struct {
	// Channels are full channel names,
	// projects/PROJECT/notificationChannels/ID, in the sandbox's project.
	Channels []string `toml:"channels" env:"COOPGUARD_NOTIFY_CHANNELS"`
}

// Evidence is the [coopguard.evidence] table.
type Evidence struct {
	// NATLogs is the Cloud NAT logging Provision configures, which shows
	// in a report where the VM connected to: "all" (every connection and
	// drop), "errors" (drops only) or "off". NAT logs are billed as Cloud
	// Logging ingestion (README).
	NATLogs string `toml:"nat_logs" env:"COOPGUARD_EVIDENCE_NAT_LOGS"`
}

// NAT logging settings of [coopguard.evidence] nat_logs.
const (
	NATLogsAll    = "all"
	NATLogsErrors = "errors"
	NATLogsOff    = "off"
)

// Canary is the [coopguard.canary] table: a decoy secret (honeytoken) per
// sandbox that the sandbox's account may read and nothing legitimate ever
// reads, so any access to it is an attack.
type Canary struct {
	// Enabled makes Provision create it (the default).
	Enabled bool `toml:"enabled" env:"COOPGUARD_CANARY_ENABLED"`
	// Secret is the plausible name the sandbox's decoy secret id starts
	// with: the id is "<secret>-<sandbox name>" (see CanarySecret).
	Secret string `toml:"secret" env:"COOPGUARD_CANARY_SECRET"`
}

// Topics names coopguard's Pub/Sub topics (ids in the configured project).
type Topics struct {
	Alerts    string `toml:"alerts" env:"COOPGUARD_TOPIC_ALERTS"`
	Logs      string `toml:"logs" env:"COOPGUARD_TOPIC_LOGS"`
	Rotation  string `toml:"rotation" env:"COOPGUARD_TOPIC_ROTATION"`
	Incidents string `toml:"incidents" env:"COOPGUARD_TOPIC_INCIDENTS"`
	// FollowUp carries the Cloud Scheduler job's minute ticks to
	// FinishIncidents, which finishes contained incidents' follow-ups.
	FollowUp string `toml:"followup" env:"COOPGUARD_TOPIC_FOLLOWUP"`
	// Budgets receives the sandboxes' Cloud Billing budget notifications
	// (HandleBudget).
	Budgets string `toml:"budgets" env:"COOPGUARD_TOPIC_BUDGETS"`
	// CostWatch carries the Cloud Scheduler job's ticks to WatchCosts,
	// which reads the model provider's usage report.
	CostWatch string `toml:"costwatch" env:"COOPGUARD_TOPIC_COSTWATCH"`
	// Review carries the weekly Cloud Scheduler job to Review.
	Review string `toml:"review" env:"COOPGUARD_TOPIC_REVIEW"`
}

// Rule is one detection rule: a CEL expression over a log entry.
type Rule struct {
	Name       string `toml:"name" json:"name"`
	Expression string `toml:"expression" json:"expression"`
	Playbook   string `toml:"playbook" json:"playbook"`
	Severity   string `toml:"severity" json:"severity"`
}

// Rotation is the [coopguard.rotation] table.
type Rotation struct {
	MaxAge       Duration `toml:"max_age" env:"COOPGUARD_ROTATION_MAX_AGE"`
	Grace        Duration `toml:"grace" env:"COOPGUARD_ROTATION_GRACE"`
	KeepDisabled int      `toml:"keep_disabled" env:"COOPGUARD_ROTATION_KEEP_DISABLED"`
	// DestroyAfter destroys disabled versions older than this; zero (the
	// default) never destroys anything.
	DestroyAfter Duration `toml:"destroy_after" env:"COOPGUARD_ROTATION_DESTROY_AFTER"`
	// KeySourceURL is an HTTPS endpoint that mints a new key; empty means
	// rotation is reported as due but not performed.
	KeySourceURL string `toml:"key_source_url" env:"COOPGUARD_ROTATION_KEY_SOURCE_URL"`
	// KeySourceCredentialSecret is the secret id holding the credential sent
	// to KeySourceURL.
	KeySourceCredentialSecret string `toml:"key_source_credential_secret" env:"COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET"`
}

// Duration is a time.Duration written as "90d", "24h" or "15m" in TOML and env.
type Duration struct{ time.Duration }

// UnmarshalText parses a duration, accepting a "d" suffix for days.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration in Go's notation.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults returns a Config with every optional value set.
func Defaults() Config {
	return Config{
		VM: VM{
			Name:        "claude-sandbox",
			MachineType: "e2-standard-4",
			DiskSizeGB:  50,
			Image:       "projects/debian-cloud/global/images/family/debian-12",
		},
		Coopguard: Coopguard{
			Secrets:    []string{"anthropic-api-key"},
			SubnetCIDR: "10.10.0.0/24",
			Topics: Topics{
				Alerts:    "coopguard-alerts",
				Logs:      "coopguard-logs",
				Rotation:  "coopguard-rotation",
				Incidents: "coopguard-incidents",
				FollowUp:  "coopguard-followup",
				Budgets:   "coopguard-budgets",
				CostWatch: "coopguard-costwatch",
				Review:    "coopguard-review",
			},
			Rotation: Rotation{
				MaxAge: Duration{90 * 24 * time.Hour},
				Grace:  Duration{24 * time.Hour},
			},
			AgentStopTimeout: Duration{20 * time.Second},
			Canary:           Canary{Enabled: true, Secret: "anthropic-admin-api-key"},
			Evidence:         Evidence{NATLogs: NATLogsAll},
			Revoke:           defaultRevoke(),
			Budget:           defaultBudget(),
		},
	}
}

// DemoChannel is the demo operator's notification channel.
const DemoChannel = "projects/coopguard-local/notificationChannels/4200000000000000001"

// DemoBillingAccount is the demo project's (emulated) billing account.
const DemoBillingAccount = "0A1B2C-3D4E5F-6A7B8C"

// Demo returns the built-in configuration that `coopguard serve` uses on the
// emulated GCP when no file is given.
func Demo() Config {
	c := Defaults()
	c.Cloud.GCP = GCP{
		Project:        "coopguard-local",
		Zone:           "us-central1-a",
		ServiceAccount: "cc-sandbox@coopguard-local.iam.gserviceaccount.com",
	}
	c.Coopguard.AgentStopTimeout = Duration{5 * time.Second}
	// The operator's email channel, which the emulated project has from
	// the start (test/emulator DeployConfig seeds it).
	c.Coopguard.Notify.Channels = []string{DemoChannel}
	// A budget per sandbox, on the emulated billing account.
	c.Coopguard.Budget.BillingAccount = DemoBillingAccount
	c.Coopguard.Budget.MonthlyAmount = 100
	c.Coopguard.Budget.CapPercent = 150
	return c
}

// Lookuper returns an environment variable; tests pass a map's lookup so
// they never touch the real environment.
type Lookuper func(key string) (string, bool)

// Load reads the TOML file at path (if path is not empty), overlays the
// environment through lookup (os.LookupEnv when nil) and validates.
func Load(path string, lookup Lookuper) (*Config, error) {
	c := Defaults()
	if path != "" {
		if err := decodeFile(path, &c); err != nil {
			return nil, err
		}
	}
	return finish(c, lookup)
}

// FromBase overlays the environment on base and validates; `serve` uses it
// with Demo as the base.
func FromBase(base Config, lookup Lookuper) (*Config, error) {
	return finish(base, lookup)
}

func finish(c Config, lookup Lookuper) (*Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	if err := applyEnv(&c, lookup); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func decodeFile(path string, c *Config) error {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("%w: %s: %s", ErrInvalid, path, perr.Message)
		}
		return fmt.Errorf("config: read %s: %w", path, err)
	}
	// cloudcoop's file has tables coopguard does not use; only keys of
	// coopguard's own tables are checked for typos.
	for _, k := range md.Undecoded() {
		if len(k) > 0 && (k[0] == "coopguard") {
			return fmt.Errorf("%w: %s: unknown key %q: check the spelling against README's configuration table", ErrInvalid, path, k.String())
		}
	}
	return nil
}
