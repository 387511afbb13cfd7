// Package emulator runs the emulated GCP on loopback: the Compute Engine
// REST fake, in-process gRPC fakes of Secret Manager, Cloud Monitoring,
// Cloud Logging, Resource Manager (project IAM policy) and Cloud Run
// (services), and pstest for Pub/Sub. The official client libraries talk
// to it over real HTTP and gRPC. Tests use it, and so does `coopguard
// serve` when no project is configured.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/grpc"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/test/emulator/anthropic"
	"github.com/cloudcoop/coopguard/test/emulator/artifactregistry"
	"github.com/cloudcoop/coopguard/test/emulator/audit"
	"github.com/cloudcoop/coopguard/test/emulator/billing"
	"github.com/cloudcoop/coopguard/test/emulator/budgets"
	"github.com/cloudcoop/coopguard/test/emulator/cloudnat"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
	"github.com/cloudcoop/coopguard/test/emulator/faults"
	"github.com/cloudcoop/coopguard/test/emulator/functions"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
	"github.com/cloudcoop/coopguard/test/emulator/iamadmin"
	"github.com/cloudcoop/coopguard/test/emulator/iamcredentials"
	"github.com/cloudcoop/coopguard/test/emulator/logging"
	"github.com/cloudcoop/coopguard/test/emulator/monitoring"
	"github.com/cloudcoop/coopguard/test/emulator/osconfig"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
	"github.com/cloudcoop/coopguard/test/emulator/restgw"
	"github.com/cloudcoop/coopguard/test/emulator/run"
	"github.com/cloudcoop/coopguard/test/emulator/secretmanager"
	"github.com/cloudcoop/coopguard/test/emulator/serviceusage"
	"github.com/cloudcoop/coopguard/test/emulator/wif"
)

// Emulator is a running emulated GCP. Close stops it.
type Emulator struct {
	// Faults counts every call and injects latency and errors.
	Faults *faults.Injector
	// Clock is the time the fakes see; tests move it.
	Clock *Clock

	Compute       *compute.Server
	SecretManager *secretmanager.Server
	Monitoring    *monitoring.Server
	Logging       *logging.Server
	PubSub        *pstest.Server
	// ResourceManager holds project IAM policies; Run the Cloud Run
	// services of coopguard's functions.
	ResourceManager *resourcemanager.Server
	Run             *run.Server
	// ServiceUsage holds which APIs each project has enabled;
	// ArtifactRegistry its repositories and their scanning config.
	ServiceUsage     *serviceusage.Server
	ArtifactRegistry *artifactregistry.Server
	// Billing holds billing accounts and which one each project is
	// linked to.
	Billing *billing.Server
	// IAMAdmin holds service accounts and their keys (IAM API), which
	// attack drills create and mint.
	IAMAdmin *iamadmin.Server
	// IAMCredentials mints tokens and signs JWTs as service accounts.
	IAMCredentials *iamcredentials.Server
	// WIF holds Workload Identity Federation pools and providers, served
	// (REST) at RESTURL.
	WIF *wif.Server
	// OSConfig holds OS policy assignments, served (REST) at RESTURL.
	OSConfig *osconfig.Server
	// Functions holds the Cloud Functions (v2 API) deploy made.
	Functions *functions.Server
	// IAM holds roles and the policies the fakes do not; Gate applies
	// identity, IAM and audit logging to every call of every fake.
	IAM  *iam.Evaluator
	Gate *audit.Gate
	// NAT is the emulated Cloud NAT: drills connect out of a VM through
	// it, and it logs as the VM's router NAT is configured to.
	NAT *cloudnat.NAT

	// ComputeURL is the Compute REST base URL; GRPCAddr serves Secret
	// Manager, Monitoring, Logging, Resource Manager, Cloud Run and IAM;
	// PubSubAddr serves Pub/Sub.
	ComputeURL string
	GRPCAddr   string
	PubSubAddr string
	// RESTURL serves the REST form of the gRPC fakes that gcloud speaks
	// REST to (Cloud Logging's entries.list and entries.write).
	RESTURL string
	// Anthropic is the emulated Anthropic Admin API (API keys), served at
	// AnthropicURL: the base URL coopguard.revoke.url takes.
	Anthropic    *anthropic.Server
	AnthropicURL string
	anthropicSrv *httptest.Server
	// Budgets is the emulated Cloud Billing Budget API, served at
	// BudgetsAddr (gRPC, not behind the gate: IAM on billing accounts is
	// not modelled, FIDELITY.md); its notifications go to Pub/Sub.
	Budgets     *budgets.Server
	BudgetsAddr string
	budgetsSrv  *grpc.Server

	httpSrv  *httptest.Server
	restSrv  *httptest.Server
	restGW   *restgw.Gateway
	grpcSrv  *grpc.Server
	metaMu   sync.Mutex
	metaSrvs []*httptest.Server
}

// Start starts every fake on 127.0.0.1.
func Start() (*Emulator, error) {
	e := &Emulator{Faults: faults.New(), Clock: &Clock{}}
	e.Compute = compute.New(e.Faults)
	e.Compute.SetClock(e.Clock.Now)
	e.SecretManager = secretmanager.New(e.Clock.Now)
	e.Monitoring = monitoring.New(e.Clock.Now)
	e.Logging = logging.New(e.Clock.Now)
	e.NAT = cloudnat.New(e.Compute, e.Logging)
	e.ResourceManager = resourcemanager.New(e.Clock.Now)
	e.Run = run.New(e.Clock.Now)
	e.ServiceUsage = serviceusage.New()
	e.ArtifactRegistry = artifactregistry.New(e.ServiceUsage.Enabled)
	e.IAMAdmin = iamadmin.New(e.Clock.Now)
	e.Billing = billing.New(e.ResourceManager.Exists)
	e.ServiceUsage.SetBillingCheck(func(project string) bool { return e.Billing.Enabled(e.ResourceManager.IDOf(project)) })
	e.newGate()
	e.IAMAdmin.SetRoles(e.IAM.CustomRole)
	e.IAMAdmin.SetRoleWriter(e.IAM.DefineRole)
	e.IAMAdmin.SetPolicies(e.IAM)
	e.httpSrv = httptest.NewServer(e.Gate.Middleware(e.Compute, e.Compute))
	e.ComputeURL = e.httpSrv.URL

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.httpSrv.Close()
		return nil, fmt.Errorf("emulator: listen for gRPC: %w", err)
	}
	e.grpcSrv = grpc.NewServer(grpc.ChainUnaryInterceptor(e.Gate.UnaryServerInterceptor(), e.Faults.UnaryServerInterceptor()))
	e.SecretManager.Register(e.grpcSrv)
	e.Monitoring.Register(e.grpcSrv)
	e.Logging.Register(e.grpcSrv)
	e.ResourceManager.Register(e.grpcSrv)
	e.Run.Register(e.grpcSrv)
	e.ServiceUsage.Register(e.grpcSrv)
	e.ArtifactRegistry.Register(e.grpcSrv)
	e.IAMAdmin.Register(e.grpcSrv)
	e.Functions = functions.New(e.Clock.Now)
	e.Functions.Register(e.grpcSrv)
	e.Billing.Register(e.grpcSrv)
	e.IAMCredentials = iamcredentials.New(e.Clock.Now, func(ctx context.Context, name string) (*adminpb.ServiceAccount, error) {
		return e.IAMAdmin.GetServiceAccount(ctx, &adminpb.GetServiceAccountRequest{Name: name})
	}, iam.MintedToken)
	e.IAMCredentials.Register(e.grpcSrv)
	// Topics' IAM policies are served on pstest's own listener, where
	// the Pub/Sub client asks for them (topiciam.go).
	e.PubSub = pstest.NewServerWithCallback(0, func(g *grpc.Server) { iampb.RegisterIAMPolicyServer(g, &topicIAM{e: e}) })
	e.PubSub.SetTimeNowFunc(e.Clock.Now)
	e.PubSubAddr = e.PubSub.Addr
	registerPubSubAdmin(e.grpcSrv, &e.PubSub.GServer)
	go func() { _ = e.grpcSrv.Serve(lis) }()
	e.GRPCAddr = lis.Addr().String()
	if e.restGW, err = restgw.New(e.GRPCAddr); err != nil {
		e.httpSrv.Close()
		e.grpcSrv.Stop()
		_ = e.PubSub.Close()
		return nil, fmt.Errorf("emulator: REST gateway: %w", err)
	}
	// RESTURL also serves the Workload Identity Federation and OS Config
	// fakes (REST only), behind the gate.
	e.WIF = wif.New(e.Clock.Now)
	wifGated := e.Gate.RESTMiddleware(wif.Route, e.WIF)
	e.OSConfig = osconfig.New()
	osconfigGated := e.Gate.RESTMiddleware(osconfig.Route, e.OSConfig)
	e.restSrv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case wif.Serves(r):
			wifGated.ServeHTTP(w, r)
			return
		case osconfig.Serves(r):
			osconfigGated.ServeHTTP(w, r)
			return
		}
		e.restGW.ServeHTTP(w, r)
	}))
	e.RESTURL = e.restSrv.URL
	e.Anthropic = anthropic.New(e.Faults, e.Clock.Now)
	e.anthropicSrv = httptest.NewServer(e.Anthropic)
	e.AnthropicURL = e.anthropicSrv.URL

	// Log sinks and Secret Manager's event notifications publish to the
	// emulated Pub/Sub; an unknown topic is an error (the sink drops the
	// entry, the notification is lost), not a topic created on the fly as
	// pstest's own Publish would.
	publish := func(ctx context.Context, topic string, data []byte, attrs map[string]string) error {
		_, err := e.PubSub.GServer.Publish(ctx, &pubsubpb.PublishRequest{Topic: topic, Messages: []*pubsubpb.PubsubMessage{{Data: data, Attributes: attrs}}})
		return err
	}
	e.Logging.SetPublisher(publish)
	e.SecretManager.SetPublisher(publish)

	e.Budgets = budgets.New(e.Clock.Now)
	e.Budgets.SetPublisher(publish)
	blis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("emulator: listen for the Budget API: %w", err)
	}
	e.budgetsSrv = grpc.NewServer(grpc.ChainUnaryInterceptor(e.Faults.UnaryServerInterceptor()))
	e.Budgets.Register(e.budgetsSrv)
	go func() { _ = e.budgetsSrv.Serve(blis) }()
	e.BudgetsAddr = blis.Addr().String()
	return e, nil
}

// Options returns client options that point the official clients here,
// acting as the Operator. They lift the client-side rate budgets (a test
// that wants them sets Limits back to gcp.DefaultLimits); the few quotas
// the emulator enforces itself, such as entries.list's 60 per minute per
// project, count on its clock.
func (e *Emulator) Options() gcp.Options { return e.OptionsAs(Operator) }

// Clients dials the client set for project against the emulator, acting
// as the Operator.
func (e *Emulator) Clients(ctx context.Context, project string) (*gcp.Clients, error) {
	return e.ClientsAs(ctx, project, Operator)
}

// MetadataServer starts the metadata server of one VM and returns its
// host:port, the value GCE_METADATA_HOST takes on that VM.
func (e *Emulator) MetadataServer(project, zone, instance string) string {
	srv := httptest.NewServer(e.Compute.MetadataHandler(project, zone, instance))
	e.metaMu.Lock()
	e.metaSrvs = append(e.metaSrvs, srv)
	e.metaMu.Unlock()
	return srv.Listener.Addr().String()
}

// Close stops every fake.
func (e *Emulator) Close() error {
	e.Faults.ReleaseHangs()
	e.metaMu.Lock()
	for _, s := range e.metaSrvs {
		s.CloseClientConnections()
		s.Close()
	}
	e.metaMu.Unlock()
	e.httpSrv.CloseClientConnections()
	e.httpSrv.Close()
	e.restSrv.Close()
	e.anthropicSrv.CloseClientConnections()
	e.anthropicSrv.Close()
	_ = e.restGW.Close()
	e.grpcSrv.Stop()
	if e.budgetsSrv != nil {
		e.budgetsSrv.Stop()
	}
	return errors.Join(e.PubSub.Close())
}

// Clock is the emulated GCP's time: real time unless a test sets it.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	fixed  time.Time
}

// FrozenClock returns a clock stopped at t, for fakes under test.
func FrozenClock(t time.Time) *Clock {
	c := &Clock{}
	c.Set(t)
	return c
}

// Now returns the emulated time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fixed.IsZero() {
		return c.fixed
	}
	return time.Now().Add(c.offset)
}

// Set freezes the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fixed = t
}

// AdvanceTo moves the clock forward to t (never back).
func (c *Clock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fixed.IsZero() {
		if t.After(c.fixed) {
			c.fixed = t
		}
		return
	}
	if d := time.Until(t) - c.offset; d > 0 {
		c.offset += d
	}
}

// GCPTime gives the emulated project GCP's operation times
// (compute.GCPLike: a stop 90 s, a snapshot 3 min) in virtual time: a
// wait on an operation moves the clock to its end, so what coopguard
// waits for costs no real time, and what it does not wait for (a VM
// stopping after the response answered) progresses only as the clock
// moves. The end-to-end tests run this way.
func (e *Emulator) GCPTime() {
	e.Compute.SetProfile(compute.GCPLike())
	e.Compute.AdvanceOnWait(e.Clock.AdvanceTo)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.fixed.IsZero() {
		c.fixed = c.fixed.Add(d)
		return
	}
	c.offset += d
}

// GRPCServices describes the gRPC services the fakes serve.
func (e *Emulator) GRPCServices() map[string]grpc.ServiceInfo { return e.grpcSrv.GetServiceInfo() }
