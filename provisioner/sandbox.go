package provisioner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/google/uuid"
	"sync"

	"github.com/cloudcoop/coopguard/shared/config"
)

// IAPRange is the source range of Identity-Aware Proxy's TCP forwarding:
// the only source allowed to reach the VM's SSH port.
const IAPRange = "35.235.240.0/20"

// Sandbox is the desired state of one sandbox, derived from config: every
// name coopguard gives a resource is decided here.
type Sandbox struct {
	// Project is the sandbox's project: coopguard's own (Home), or a
	// project of its own (project.go).
	Project string
	// Home is coopguard's project (cloud.gcp.project): its topics, its
	// job accounts and their custom roles are there.
	Home string
	// CreateProject lets Provision create Project under Folder, linked to
	// BillingAccount ([coopguard.fleet]), when it does not exist.
	CreateProject  bool
	Folder         string
	BillingAccount string
	Zone           string
	Region         string
	Name           string // the VM's name, also the coopguard-sandbox label value
	// ServiceAccount is the account the VM runs as: cloud.gcp.service_account
	// for the configured sandbox (vm.name), and the sandbox's own account
	// (ServiceAccountID) for any other, so no two sandboxes share one.
	ServiceAccount string
	// OwnAccount is true when ServiceAccount is derived from the name:
	// Provision then creates it and grants it what a sandbox needs.
	OwnAccount  bool
	MachineType string
	DiskSizeGB  int64
	Image       string
	Tags        []string
	SubnetCIDR  string
	// Secrets are the sandbox's own managed secrets
	// (config.SandboxSecrets): coopguard.secrets for the configured
	// sandbox, "<secret>-<name>" for any other.
	Secrets []string
	// OwnSecrets is true when Secrets are derived from the name: Provision
	// then also names them in deploy's managed-secrets condition of each
	// coopguard job (secretsAccess), which deploy wrote for the configured
	// ones.
	OwnSecrets bool
	// Canary is the id of the sandbox's decoy secret, "" when off.
	Canary         string
	Topics         config.Topics
	RotationPeriod int64 // seconds
	SinkFilter     string
	// NATLogs is the Cloud NAT logging to configure: all, errors or off.
	NATLogs string
	// NotifyChannels are the operator's notification channels
	// ([coopguard.notify] channels) that the incident and dead-letter
	// policies notify.
	NotifyChannels []string
	// Budget is [coopguard.budget]: with a billing account, the sandbox
	// gets a Cloud Billing budget (budget.go).
	Budget config.Budget
	// run names this converge in its Compute request ids: retries within
	// it apply once, while a later converge that recreates a deleted
	// resource is a new request (Compute answers a known request id with
	// its old operation, recreating nothing).
	run string

	// channel is the notification channel's resource name, known once the
	// channel resource has been observed or created; the alert policy
	// (which depends on it) reads it.
	mu      sync.Mutex
	channel string

	// adoption is set when the VM is an existing one coopguard adopted
	// (adopt.go): it then gets only what needs no restart.
	adoption *Adoption
	// granted is set once the provisioner's own grant in the sandbox's
	// project has been converged (grantPhase), so it runs once.
	granted bool
}

// Adopted returns what adoption learnt of the VM, or nil when coopguard
// built it (or builds it).
func (s *Sandbox) Adopted() *Adoption { return s.adoption }

// NewSandbox derives the desired state from cfg; name overrides the VM name
// when not empty. sinkFilter is the log sink's filter (the detection rules
// decide what it must catch). The sandbox is in coopguard's own project
// (cloud.gcp.project); SandboxIn names another.
func NewSandbox(cfg *config.Config, name, sinkFilter string) (*Sandbox, error) {
	return SandboxIn(cfg, "", name, sinkFilter)
}

// SandboxIn is NewSandbox for the sandbox named name in project ("" is
// coopguard's own project). A sandbox is addressed by (project, name):
// only vm.name in coopguard's own project is the configured sandbox
// (cloud.gcp.service_account); any other has its own account, in its own
// project.
func SandboxIn(cfg *config.Config, project, name, sinkFilter string) (*Sandbox, error) {
	if name == "" {
		name = cfg.VM.Name
	}
	if project == "" {
		project = cfg.Cloud.GCP.Project
	}
	if !config.ValidName(name) {
		return nil, fmt.Errorf("%w: name %q is not a valid instance name: 1-63 lowercase letters, digits and hyphens, starting with a letter (RFC 1035)", config.ErrInvalid, name)
	}
	if !config.ValidProjectID(project) {
		return nil, fmt.Errorf("%w: project %q is not a valid project id: 6-30 lowercase letters, digits and hyphens, starting with a letter", config.ErrInvalid, project)
	}
	configured := name == cfg.VM.Name && project == cfg.Cloud.GCP.Project
	sa, own := cfg.Cloud.GCP.ServiceAccount, false
	if !configured || sa == "" {
		id, err := ServiceAccountID(name)
		if err != nil {
			return nil, err
		}
		sa, own = config.AccountEmail(id, project), true
	}
	if err := cfg.SandboxSecretsConflict(name); err != nil {
		return nil, err
	}
	return &Sandbox{
		OwnAccount:     own,
		run:            uuid.NewString(),
		Project:        project,
		Home:           cfg.Cloud.GCP.Project,
		Folder:         cfg.Coopguard.Fleet.Folder,
		BillingAccount: cfg.Coopguard.Fleet.BillingAccount,
		Zone:           cfg.Cloud.GCP.Zone,
		Region:         cfg.Region(),
		Name:           name,
		ServiceAccount: sa,
		MachineType:    cfg.VM.MachineType,
		DiskSizeGB:     cfg.VM.DiskSizeGB,
		Image:          cfg.VM.Image,
		Tags:           cfg.VM.Tags,
		SubnetCIDR:     cfg.Coopguard.SubnetCIDR,
		Secrets:        cfg.SandboxSecrets(name),
		OwnSecrets:     name != cfg.VM.Name,
		Canary:         cfg.CanarySecret(name),
		Topics:         cfg.Coopguard.Topics,
		RotationPeriod: int64(cfg.Coopguard.Rotation.MaxAge.Seconds()),
		SinkFilter:     sinkFilter,
		NATLogs:        cfg.Coopguard.Evidence.NATLogs,
		NotifyChannels: cfg.Coopguard.Notify.Channels,
		Budget:         cfg.Coopguard.Budget,
	}, nil
}

// Network is the dedicated VPC's name.
func (s *Sandbox) Network() string { return derive(s.Name, "net") }

// Subnet is the sandbox subnet's name.
func (s *Sandbox) Subnet() string { return derive(s.Name, "subnet") }

// Router is the Cloud Router's name.
func (s *Sandbox) Router() string { return derive(s.Name, "router") }

// EgressRoute is the name of the network's route out (0.0.0.0/0 to the
// default internet gateway, route.go), which replaces GCP's generated one.
func (s *Sandbox) EgressRoute() string { return derive(s.Name, "egress") }

// NAT is the Cloud NAT's name on the router.
func (s *Sandbox) NAT() string { return derive(s.Name, "nat") }

// FirewallDenyIngress is the explicit deny-all-ingress rule's name.
func (s *Sandbox) FirewallDenyIngress() string { return derive(s.Name, "deny-ingress") }

// FirewallIAPSSH is the IAP-only SSH rule's name.
func (s *Sandbox) FirewallIAPSSH() string { return derive(s.Name, "allow-iap-ssh") }

// FirewallQuarantine is the deny-all-egress rule for the quarantine tag.
func (s *Sandbox) FirewallQuarantine() string { return derive(s.Name, "quarantine") }

// AlertPolicyName is the CPU alert policy's display name.
func (s *Sandbox) AlertPolicyName() string { return AlertPolicyName(s.Name) }

// AlertPolicyName is the display name of the CPU alert policy Provision
// makes for the sandbox named sandbox: the only policy whose incidents
// HandleAlert acts on for that sandbox's VM.
func AlertPolicyName(sandbox string) string { return "coopguard " + sandbox + " CPU" }

// IncidentPolicyName is the display name of the log-match policy that
// tells the operator's channels of the sandbox's incidents.
func (s *Sandbox) IncidentPolicyName() string { return "coopguard " + s.Name + " incidents" }

// ChannelName is the notification channel's display name.
func (s *Sandbox) ChannelName() string { return "coopguard alerts (" + s.Topics.Alerts + ")" }

// Sink is the log sink's name.
func (s *Sandbox) Sink() string { return derive(s.Name, "sink") }

// TopicPath returns the full name of one of coopguard's topics: in its
// own project (Home), wherever the sandbox is.
func (s *Sandbox) TopicPath(id string) string { return "projects/" + s.home() + "/topics/" + id }

func (s *Sandbox) networkURL() string {
	if s.adoption != nil {
		return s.adoption.NetworkURL
	}
	return "projects/" + s.Project + "/global/networks/" + s.Network()
}

func (s *Sandbox) subnetURL() string {
	return "projects/" + s.Project + "/regions/" + s.Region + "/subnetworks/" + s.Subnet()
}

func (s *Sandbox) setChannel(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.channel = name
}

func (s *Sandbox) channelName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.channel
}

// Resources lists the sandbox's resources with their dependencies. The VM
// comes last: it must not boot before its firewalls lock it down.
func (s *Sandbox) Resources() []Resource {
	if s.adoption != nil {
		return s.adoptedResources()
	}
	rs := append(s.ownAccountResources(),
		&network{s},
		&egressRoute{s},
		&subnetwork{s},
		&firewall{s, denyIngress},
		&firewall{s, iapSSH},
		&router{s},
	)
	return append(append(rs, s.guardResources()...), &instance{s})
}

// guardResources are what guards the VM whoever built it (Provision, or
// cloudcoop for an adopted VM): the quarantine rule, the topics, alerting,
// the sink, the audit config, coopguard's access to the VM, the secrets
// and their access, the canary and the metric descriptors.
func (s *Sandbox) guardResources() []Resource {
	rs := []Resource{
		&firewall{s, quarantineEgress},
		&topic{s, s.Topics.Alerts},
		&topic{s, s.Topics.Logs},
		&topic{s, s.Topics.Rotation},
		&topic{s, s.Topics.Incidents},
		&channel{s},
		&alertPolicy{s},
		&incidentPolicy{s},
		&deadLetterPolicy{s},
		&deafPolicy{s},
		&reviewPolicy{s},
		&logSink{s},
		&auditConfig{s},
		&sandboxAccess{s},
	}
	if s.OwnSecrets {
		rs = append(rs, &secretsAccess{s})
	}
	for _, id := range s.Secrets {
		rs = append(rs, &secret{s, id}, &secretAccess{s, id, "secret/" + id})
	}
	if s.Canary != "" {
		c := &canary{s}
		rs = append(rs, c, &secretAccess{s, s.Canary, ID(c)})
	}
	for _, d := range MetricDescriptors() {
		rs = append(rs, &metricDescriptor{s, d})
	}
	if s.Budget.BillingAccount != "" {
		rs = append(rs, &topic{s, s.Topics.Budgets}, &budget{s})
	}
	return rs
}

// derive makes a resource name "coopguard-<sandbox>-<suffix>" that stays
// within RFC 1035's 63 characters, shortening long sandbox names with a
// hash so that two sandboxes never share a name.
func derive(sandbox, suffix string) string {
	n := "coopguard-" + sandbox + "-" + suffix
	if len(n) <= 63 {
		return n
	}
	h := sha256.Sum256([]byte(sandbox))
	keep := 63 - len("coopguard-") - len(suffix) - 1 - 7
	return "coopguard-" + sandbox[:keep] + "-" + hex.EncodeToString(h[:])[:6] + "-" + suffix
}

// requestID is the Compute requestId of one mutation of this converge.
func (s *Sandbox) requestID(parts ...string) *string {
	return gcp.RequestID(append(parts, s.run)...)
}
