package config

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

var (
	// rfc1035 is the name syntax of Compute Engine resources.
	rfc1035    = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	zoneSyntax = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+-[a-z]$`)
	projectID  = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	saEmail    = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]@[-a-z0-9.]+\.gserviceaccount\.com$`)
	secretID   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	topicID    = regexp.MustCompile(`^[A-Za-z][-A-Za-z0-9_.~+%]{2,254}$`)
	channel    = regexp.MustCompile(`^projects/([^/]+)/notificationChannels/([^/]+)$`)
)

// Playbook names accepted in config.
var playbooks = map[string]bool{"contain": true, "quarantine": true, "notify": true}

// Validate checks every value and returns all problems joined, each naming
// its key (and environment variable) and how to fix it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, env, format string, args ...any) {
		where := key
		if env != "" {
			where += " (env " + env + ")"
		}
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, where, fmt.Sprintf(format, args...)))
	}
	g := c.Cloud.GCP
	switch {
	case g.Project == "":
		bad("cloud.gcp.project", "COOPGUARD_PROJECT", "is required: set it to the GCP project id of the sandbox")
	case !projectID.MatchString(g.Project):
		bad("cloud.gcp.project", "COOPGUARD_PROJECT", "%q is not a project id (6-30 lowercase letters, digits, hyphens)", g.Project)
	}
	if !zoneSyntax.MatchString(g.Zone) {
		bad("cloud.gcp.zone", "COOPGUARD_ZONE", "%q is not a zone: want e.g. us-central1-a", g.Zone)
	}
	switch sa := g.ServiceAccount; {
	case sa == "":
		bad("cloud.gcp.service_account", "COOPGUARD_SERVICE_ACCOUNT", "is required: create a dedicated least-privilege service account for the sandbox VM and set its email here")
	case strings.HasSuffix(sa, "-compute@developer.gserviceaccount.com"):
		bad("cloud.gcp.service_account", "COOPGUARD_SERVICE_ACCOUNT", "%q is the default Compute Engine service account, which holds Editor on the project: create a dedicated service account for the sandbox instead", sa)
	case !saEmail.MatchString(sa):
		bad("cloud.gcp.service_account", "COOPGUARD_SERVICE_ACCOUNT", "%q is not a service account email (NAME@PROJECT.iam.gserviceaccount.com)", sa)
	}
	if !rfc1035.MatchString(c.VM.Name) {
		bad("vm.name", "COOPGUARD_VM_NAME", "%q is not a valid instance name: 1-63 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (RFC 1035)", c.VM.Name)
	}
	if !rfc1035.MatchString(c.VM.MachineType) {
		bad("vm.machine_type", "COOPGUARD_VM_MACHINE_TYPE", "%q is not a machine type name, e.g. e2-standard-4", c.VM.MachineType)
	}
	if c.VM.DiskSizeGB < 10 || c.VM.DiskSizeGB > 65536 {
		bad("vm.disk_size_gb", "COOPGUARD_VM_DISK_SIZE_GB", "%d is out of range: want 10 to 65536", c.VM.DiskSizeGB)
	}
	if c.VM.Image == "" {
		bad("vm.image", "COOPGUARD_VM_IMAGE", "is required, e.g. projects/debian-cloud/global/images/family/debian-12")
	}
	for _, t := range c.VM.Tags {
		if !rfc1035.MatchString(t) {
			bad("vm.tags", "COOPGUARD_VM_TAGS", "%q is not a valid network tag (RFC 1035)", t)
		}
		if t == QuarantineTag {
			bad("vm.tags", "COOPGUARD_VM_TAGS", "%q is reserved: it cuts the VM's egress and is set only by the quarantine playbook", t)
		}
	}
	if len(c.Coopguard.Secrets) == 0 {
		bad("coopguard.secrets", "COOPGUARD_SECRETS", "is empty: name at least the API key's secret, e.g. anthropic-api-key")
	}
	for _, s := range c.Coopguard.Secrets {
		if !secretID.MatchString(s) {
			bad("coopguard.secrets", "COOPGUARD_SECRETS", "%q is not a secret id (letters, digits, '-' and '_')", s)
		}
	}
	if p, err := netip.ParsePrefix(c.Coopguard.SubnetCIDR); err != nil || !p.Addr().Is4() || !p.Addr().IsPrivate() {
		bad("coopguard.subnet_cidr", "COOPGUARD_SUBNET_CIDR", "%q is not a private IPv4 range, e.g. 10.10.0.0/24", c.Coopguard.SubnetCIDR)
	}
	tp := c.Coopguard.Topics
	for key, v := range map[string]string{"alerts": tp.Alerts, "logs": tp.Logs, "rotation": tp.Rotation, "incidents": tp.Incidents, "followup": tp.FollowUp, "review": tp.Review} {
		if !topicID.MatchString(v) {
			bad("coopguard.topics."+key, "COOPGUARD_TOPIC_"+strings.ToUpper(key), "%q is not a Pub/Sub topic id", v)
		}
	}
	for policy, pb := range c.Coopguard.Playbooks {
		if !playbooks[pb] {
			bad("coopguard.playbooks", "COOPGUARD_PLAYBOOKS", "policy %q names playbook %q: want contain, quarantine or notify", policy, pb)
		}
	}
	for i, r := range c.Coopguard.Rules {
		key := fmt.Sprintf("coopguard.rules[%d]", i)
		if r.Name == "" || r.Expression == "" {
			bad(key, "COOPGUARD_RULES", "needs a name and an expression")
		}
		if !playbooks[r.Playbook] {
			bad(key, "COOPGUARD_RULES", "rule %q names playbook %q: want contain, quarantine or notify", r.Name, r.Playbook)
		}
	}
	rot := c.Coopguard.Rotation
	if rot.MaxAge.Duration < 3600e9 {
		bad("coopguard.rotation.max_age", "COOPGUARD_ROTATION_MAX_AGE", "%s is too short: Secret Manager's rotation period is at least 1h", rot.MaxAge)
	}
	if rot.KeepDisabled < 0 {
		bad("coopguard.rotation.keep_disabled", "COOPGUARD_ROTATION_KEEP_DISABLED", "must not be negative")
	}
	if u := rot.KeySourceURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://127.0.0.1") && !strings.HasPrefix(u, "http://localhost") {
		bad("coopguard.rotation.key_source_url", "COOPGUARD_ROTATION_KEY_SOURCE_URL", "%q must be an https:// URL: the credential must not travel in clear text", u)
	}
	if rot.KeySourceURL != "" && !secretID.MatchString(rot.KeySourceCredentialSecret) {
		bad("coopguard.rotation.key_source_credential_secret", "COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET", "is required with key_source_url: the secret id that holds the key source's credential")
	}
	if can := c.Coopguard.Canary; can.Enabled {
		switch {
		case !secretID.MatchString(can.Secret):
			bad("coopguard.canary.secret", "COOPGUARD_CANARY_SECRET", "%q is not a secret id (letters, digits, '-' and '_'), e.g. anthropic-admin-api-key; or set coopguard.canary.enabled = false", can.Secret)
		case len(c.CanarySecret(c.VM.Name)) > 255:
			bad("coopguard.canary.secret", "COOPGUARD_CANARY_SECRET", "is too long: with the sandbox name it exceeds Secret Manager's 255 characters")
		case slices.ContainsFunc(c.Coopguard.Secrets, func(s string) bool { return s == can.Secret || s == c.CanarySecret(c.VM.Name) }):
			bad("coopguard.canary.secret", "COOPGUARD_CANARY_SECRET", "%q is also in coopguard.secrets: the decoy must be a secret nothing legitimate reads, pick another name", can.Secret)
		}
	}
	switch c.Coopguard.Evidence.NATLogs {
	case NATLogsAll, NATLogsErrors, NATLogsOff:
	default:
		bad("coopguard.evidence.nat_logs", "COOPGUARD_EVIDENCE_NAT_LOGS", "%q is not a NAT logging setting: want \"all\" (every connection), \"errors\" (dropped connections only) or \"off\"", c.Coopguard.Evidence.NATLogs)
	}
	for _, ch := range c.Coopguard.Notify.Channels {
		m := channel.FindStringSubmatch(ch)
		switch {
		case m == nil:
			bad("coopguard.notify.channels", "COOPGUARD_NOTIFY_CHANNELS", "%q is not a notification channel name: want projects/PROJECT/notificationChannels/ID (gcloud beta monitoring channels list --format='value(name)')", ch)
		case m[1] != g.Project && !isNumber(m[1]):
			bad("coopguard.notify.channels", "COOPGUARD_NOTIFY_CHANNELS", "%q is in project %s: alert policies notify channels of their own project, create the channel in %s", ch, m[1], g.Project)
		}
	}
	c.validateRevoke(bad)
	c.validateFleet(bad)
	c.validateBudget(bad)
	if c.Coopguard.AgentStopTimeout.Duration <= 0 {
		bad("coopguard.agent_stop_timeout", "COOPGUARD_AGENT_STOP_TIMEOUT", "must be positive, e.g. 20s")
	}
	return errors.Join(errs...)
}

// isNumber reports whether s is a project number.
func isNumber(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// QuarantineTag is the network tag whose priority-0 firewall rule denies all
// egress: adding it to the VM cuts it off.
const QuarantineTag = "coopguard-quarantine"

// SandboxLabel is the instance label that marks a VM as provisioned by
// coopguard; the responder acts on no instance without it.
const SandboxLabel = "coopguard-sandbox"

// Region returns the region of the configured zone.
func (c *Config) Region() string {
	z := c.Cloud.GCP.Zone
	if i := strings.LastIndex(z, "-"); i > 0 {
		return z[:i]
	}
	return z
}

// CanarySecret returns the id of sandbox's decoy secret,
// "<coopguard.canary.secret>-<sandbox>", or "" when the canary is off.
// Provision creates it; detection and posture find it by the same name.
func (c *Config) CanarySecret(sandbox string) string {
	if !c.Coopguard.Canary.Enabled {
		return ""
	}
	return c.Coopguard.Canary.Secret + "-" + sandbox
}

// ValidName reports whether s is a valid Compute Engine resource name.
func ValidName(s string) bool { return rfc1035.MatchString(s) }

// ValidProjectID reports whether s is a valid GCP project id.
func ValidProjectID(s string) bool { return projectID.MatchString(s) }
