// Package gcp builds the set of official Cloud client libraries that every
// coopguard function and the provisioner receive. The same set talks to real
// GCP (Application Default Credentials) or, with Emulated options, to the
// emulated GCP on loopback.
package gcp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	artifactregistry "cloud.google.com/go/artifactregistry/apiv1"
	billing "cloud.google.com/go/billing/apiv1"
	billingbudgets "cloud.google.com/go/billing/budgets/apiv1"
	compute "cloud.google.com/go/compute/apiv1"
	iamadmin "cloud.google.com/go/iam/admin/apiv1"
	logging "cloud.google.com/go/logging/apiv2"
	monitoring "cloud.google.com/go/monitoring/apiv3/v2"
	"cloud.google.com/go/pubsub/v2"
	resourcemanager "cloud.google.com/go/resourcemanager/apiv3"
	run "cloud.google.com/go/run/apiv2"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	serviceusage "cloud.google.com/go/serviceusage/apiv1"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Options are extra client options per service (endpoints, credentials).
type Options struct {
	Compute       []option.ClientOption
	SecretManager []option.ClientOption
	Monitoring    []option.ClientOption
	Logging       []option.ClientOption
	PubSub        []option.ClientOption
	// ResourceManager reads the project's IAM policy; Run reads the Cloud
	// Run services that coopguard's functions are (posture checks).
	ResourceManager []option.ClientOption
	Run             []option.ClientOption
	// ServiceUsage and ArtifactRegistry read whether images are scanned
	// (posture).
	ServiceUsage     []option.ClientOption
	ArtifactRegistry []option.ClientOption
	// IAM is the IAM API (service accounts, roles).
	IAM []option.ClientOption
	// Billing is Cloud Billing (a sandbox project's billing account).
	Billing []option.ClientOption
	// Budgets is the Cloud Billing Budget API (a budget per sandbox).
	Budgets []option.ClientOption

	// CallTimeout bounds every Compute REST request (default 30 s). The
	// Compute client sends its list calls without the caller's context, so
	// without it a hung list would hang its handler.
	CallTimeout time.Duration
	// Limits are the per-API rate budgets (default DefaultLimits).
	Limits *Limits
	// Identity, on the emulated GCP only, is the principal every call is
	// made as: each request carries the access token "emulated:<Identity>"
	// (see EmulatedToken). Real GCP ignores it: credentials come from ADC.
	Identity string
	// Token, on the emulated GCP only, replaces Identity's token with one
	// the emulated metadata server handed a VM, so the calls come from
	// that VM's network (see test/emulator VMClients).
	Token string
}

// EmulatedToken is the OAuth access token the emulated GCP reads as
// principal (an email): "emulated:<email>". gcloud's --access-token-file
// and any official client can send it.
func EmulatedToken(principal string) string { return "emulated:" + principal }

// emulatedToken is the access token of an emulated identity: Token when
// set, else Identity's "emulated:<email>".
func (o Options) emulatedToken() string {
	if o.Token != "" {
		return o.Token
	}
	return EmulatedToken(o.Identity)
}

// Emulated returns options that point every client at the emulated GCP:
// computeURL is the Compute REST fake's base URL, grpcAddr the host:port
// serving Secret Manager, Monitoring, Logging, Resource Manager and Cloud
// Run, pubsubAddr pstest's.
func Emulated(computeURL, grpcAddr, pubsubAddr string) Options {
	grpcOpts := EmulatedGRPC
	return Options{
		Compute:       []option.ClientOption{option.WithEndpoint(computeURL), option.WithoutAuthentication(), option.WithTelemetryDisabled()},
		SecretManager: grpcOpts(grpcAddr),
		Monitoring:    grpcOpts(grpcAddr),
		Logging:       grpcOpts(grpcAddr),
		PubSub:        grpcOpts(pubsubAddr),

		ResourceManager: grpcOpts(grpcAddr),
		Run:             grpcOpts(grpcAddr),

		ServiceUsage:     grpcOpts(grpcAddr),
		ArtifactRegistry: grpcOpts(grpcAddr),
		IAM:              grpcOpts(grpcAddr),
		Billing:          grpcOpts(grpcAddr),
		// The emulator serves the Budget API on an address of its own
		// (Emulator.BudgetsAddr, which its OptionsAs sets); without it
		// the client still dials no real endpoint.
		Budgets: grpcOpts(grpcAddr),
	}
}

// EmulatedGRPC returns the options that connect a gRPC client to a fake at
// addr: no credentials, plain text, no telemetry.
func EmulatedGRPC(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithTelemetryDisabled(),
	}
}

// Clients is the set of GCP clients coopguard uses. Close releases them.
type Clients struct {
	Project string

	Instances *compute.InstancesClient
	Disks     *compute.DisksClient
	Snapshots *compute.SnapshotsClient
	// Images reads which disk a shared image was made from (detection).
	Images      *compute.ImagesClient
	Networks    *compute.NetworksClient
	Subnetworks *compute.SubnetworksClient
	Firewalls   *compute.FirewallsClient
	Routers     *compute.RoutersClient
	// Routes manages the sandbox network's egress route (Provision) and
	// reads the network's routes (posture).
	Routes *compute.RoutesClient
	// ZoneOperations finds and waits for an operation an earlier attempt
	// started (by its requestId), so a retry resumes it.
	ZoneOperations *compute.ZoneOperationsClient

	Secrets *secretmanager.Client

	AlertPolicies *monitoring.AlertPolicyClient
	Channels      *monitoring.NotificationChannelClient
	Metrics       *monitoring.MetricClient

	Logging   *logging.Client
	LogConfig *logging.ConfigClient

	PubSub *pubsub.Client

	// Projects reads the project's IAM policy (bindings, audit configs).
	Projects *resourcemanager.ProjectsClient
	// Services reads the Cloud Run services of coopguard's functions.
	Services *run.ServicesClient
	// ServiceUsage reads whether an API is enabled; Repositories lists
	// Artifact Registry repositories (posture's image-scanning check).
	ServiceUsage *serviceusage.Client
	Repositories *artifactregistry.Client
	// IAMAdmin manages the sandbox's service account (Provision) and
	// reads custom roles (posture).
	IAMAdmin *iamadmin.IamClient
	// Folders reads the folder sandbox projects are created under;
	// Billing links a sandbox project to the fleet's billing account.
	Folders *resourcemanager.FoldersClient
	Billing *billing.CloudBillingClient
	// Budgets creates and reads the sandboxes' Cloud Billing budgets
	// (Provision, posture).
	Budgets *billingbudgets.BudgetClient

	closers  []func() error
	limiters *limiters
}

// Throttles reports how many calls each API made through the limits and
// how long they waited for them.
func (c *Clients) Throttles() []Throttle { return c.limiters.throttles() }

// New dials every client for project. On error the clients made so far are
// closed.
func New(ctx context.Context, project string, o Options) (_ *Clients, err error) {
	if project == "" {
		return nil, errors.New("gcp.New: project is empty: set cloud.gcp.project")
	}
	limits := DefaultLimits
	if o.Limits != nil {
		limits = *o.Limits
	}
	c := &Clients{Project: project, limiters: newLimiters(limits)}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	// Every gRPC client goes through the rate limits.
	withLimits := func(opts []option.ClientOption) []option.ClientOption {
		return append(slices.Clone(opts), option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(c.limiters.unaryInterceptor())))
	}
	o.SecretManager, o.Monitoring, o.Logging, o.PubSub = withLimits(o.SecretManager), withLimits(o.Monitoring), withLimits(o.Logging), withLimits(o.PubSub)
	o.ResourceManager, o.Run, o.IAM = withLimits(o.ResourceManager), withLimits(o.Run), withLimits(o.IAM)
	o.ServiceUsage, o.ArtifactRegistry = withLimits(o.ServiceUsage), withLimits(o.ArtifactRegistry)
	o.Billing, o.Budgets = withLimits(o.Billing), withLimits(o.Budgets)
	if o.Identity != "" || o.Token != "" {
		id := option.WithGRPCDialOption(grpc.WithPerRPCCredentials(emulatedCreds(o.emulatedToken())))
		for _, opts := range []*[]option.ClientOption{&o.SecretManager, &o.Monitoring, &o.Logging, &o.PubSub, &o.ResourceManager, &o.Run, &o.IAM, &o.ServiceUsage, &o.ArtifactRegistry, &o.Billing, &o.Budgets} {
			*opts = append(*opts, id)
		}
	}
	hc, err := computeHTTPClient(ctx, o, c.limiters.get("compute"))
	if err != nil {
		return nil, fmt.Errorf("gcp.New: compute HTTP client: %w", err)
	}
	o.Compute = append(slices.Clone(o.Compute), option.WithHTTPClient(hc))
	var errs []error
	dial(&errs, c, "compute instances", &c.Instances, func() (*compute.InstancesClient, error) { return compute.NewInstancesRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute disks", &c.Disks, func() (*compute.DisksClient, error) { return compute.NewDisksRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute snapshots", &c.Snapshots, func() (*compute.SnapshotsClient, error) { return compute.NewSnapshotsRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute images", &c.Images, func() (*compute.ImagesClient, error) { return compute.NewImagesRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute networks", &c.Networks, func() (*compute.NetworksClient, error) { return compute.NewNetworksRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute subnetworks", &c.Subnetworks, func() (*compute.SubnetworksClient, error) { return compute.NewSubnetworksRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute firewalls", &c.Firewalls, func() (*compute.FirewallsClient, error) { return compute.NewFirewallsRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute routers", &c.Routers, func() (*compute.RoutersClient, error) { return compute.NewRoutersRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute routes", &c.Routes, func() (*compute.RoutesClient, error) { return compute.NewRoutesRESTClient(ctx, o.Compute...) })
	dial(&errs, c, "compute zone operations", &c.ZoneOperations, func() (*compute.ZoneOperationsClient, error) {
		return compute.NewZoneOperationsRESTClient(ctx, o.Compute...)
	})
	dial(&errs, c, "secret manager", &c.Secrets, func() (*secretmanager.Client, error) { return secretmanager.NewClient(ctx, o.SecretManager...) })
	dial(&errs, c, "monitoring alert policies", &c.AlertPolicies, func() (*monitoring.AlertPolicyClient, error) {
		return monitoring.NewAlertPolicyClient(ctx, o.Monitoring...)
	})
	dial(&errs, c, "monitoring notification channels", &c.Channels, func() (*monitoring.NotificationChannelClient, error) {
		return monitoring.NewNotificationChannelClient(ctx, o.Monitoring...)
	})
	dial(&errs, c, "monitoring metrics", &c.Metrics, func() (*monitoring.MetricClient, error) { return monitoring.NewMetricClient(ctx, o.Monitoring...) })
	dial(&errs, c, "logging", &c.Logging, func() (*logging.Client, error) { return logging.NewClient(ctx, o.Logging...) })
	dial(&errs, c, "logging config", &c.LogConfig, func() (*logging.ConfigClient, error) { return logging.NewConfigClient(ctx, o.Logging...) })
	dial(&errs, c, "pubsub", &c.PubSub, func() (*pubsub.Client, error) { return pubsub.NewClient(ctx, project, o.PubSub...) })
	dial(&errs, c, "resource manager projects", &c.Projects, func() (*resourcemanager.ProjectsClient, error) {
		return resourcemanager.NewProjectsClient(ctx, o.ResourceManager...)
	})
	dial(&errs, c, "cloud run services", &c.Services, func() (*run.ServicesClient, error) { return run.NewServicesClient(ctx, o.Run...) })
	dial(&errs, c, "service usage", &c.ServiceUsage, func() (*serviceusage.Client, error) { return serviceusage.NewClient(ctx, o.ServiceUsage...) })
	dial(&errs, c, "artifact registry", &c.Repositories, func() (*artifactregistry.Client, error) {
		return artifactregistry.NewClient(ctx, o.ArtifactRegistry...)
	})
	dial(&errs, c, "iam admin", &c.IAMAdmin, func() (*iamadmin.IamClient, error) { return iamadmin.NewIamClient(ctx, o.IAM...) })
	dial(&errs, c, "resource manager folders", &c.Folders, func() (*resourcemanager.FoldersClient, error) {
		return resourcemanager.NewFoldersClient(ctx, o.ResourceManager...)
	})
	dial(&errs, c, "cloud billing", &c.Billing, func() (*billing.CloudBillingClient, error) { return billing.NewCloudBillingClient(ctx, o.Billing...) })
	dial(&errs, c, "billing budgets", &c.Budgets, func() (*billingbudgets.BudgetClient, error) {
		return billingbudgets.NewBudgetClient(ctx, o.Budgets...)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// Close closes every client and returns their errors joined.
func (c *Clients) Close() error {
	var errs []error
	for _, f := range c.closers {
		errs = append(errs, f())
	}
	c.closers = nil
	return errors.Join(errs...)
}

// computeHTTPClient is the HTTP client of every Compute REST client: the
// caller's credentials (none on the emulator), the Compute rate limits,
// pooled connections and a timeout per request.
func computeHTTPClient(ctx context.Context, o Options, l *limiter) (*http.Client, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	timeout := o.CallTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	var next http.RoundTripper = base
	if o.Identity != "" || o.Token != "" {
		next = bearer{next: base, token: o.emulatedToken()}
	}
	authed, err := htransport.NewTransport(ctx, &roundTripper{next: next, l: l, timeout: timeout}, append(slices.Clone(o.Compute), option.WithScopes(compute.DefaultAuthScopes()...))...)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: authed}, nil
}

// dial makes one client, stores it in dst and registers it for Close; a
// failure is appended to errs naming the client.
func dial[T interface{ Close() error }](errs *[]error, c *Clients, name string, dst *T, fn func() (T, error)) {
	if len(*errs) > 0 {
		return
	}
	v, err := fn()
	if err != nil {
		*errs = append(*errs, fmt.Errorf("gcp.New: %s client: %w", name, err))
		return
	}
	*dst = v
	c.closers = append(c.closers, v.Close)
}

// EmulatedIdentity is the option that makes a gRPC client of the emulated
// GCP act as principal (any official client, not only this set's).
func EmulatedIdentity(principal string) option.ClientOption {
	return EmulatedAccessToken(EmulatedToken(principal))
}

// EmulatedAccessToken is the option that makes a gRPC client of the
// emulated GCP send tok, e.g. the token a VM's emulated metadata server
// handed out, so the calls come from that VM.
func EmulatedAccessToken(tok string) option.ClientOption {
	return option.WithGRPCDialOption(grpc.WithPerRPCCredentials(emulatedCreds(tok)))
}

// emulatedCreds sends an emulated access token on every gRPC call. The
// emulated GCP listens in plain text on loopback, so unlike real
// credentials it does not require transport security.
type emulatedCreds string

func (c emulatedCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(c)}, nil
}

func (emulatedCreds) RequireTransportSecurity() bool { return false }

// bearer sets an emulated access token on every Compute REST request.
type bearer struct {
	next  http.RoundTripper
	token string
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}
