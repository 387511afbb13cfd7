// Package functions holds coopguard's deployable Cloud Run functions and
// their logic: Provision and Status (HTTP), HandleAlert and HandleLogEntry
// (Pub/Sub CloudEvents), RotateKeys. Each handler decodes, decides and acts
// through the Env it is given.
package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/coalesce"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/shared/store"
)

// Env is everything a function needs: configuration, the GCP clients of
// each job's account, the incident store, the logger, the clock, and the
// logic built on them. NewEnv is the one way to build it; Open builds it
// from a config file and Application Default Credentials. The functions
// are methods of Env (Handlers binds them), so each Env serves on its own:
// a process may hold several.
type Env struct {
	Config *config.Config
	// Clients are the responder's (HandleAlert, HandleLogEntry); every
	// other job acts through ClientsOf its own account.
	Clients     *gcp.Clients
	Logger      *slog.Logger
	Provisioner *provisioner.Provisioner
	// Recorder copies incident reports to Cloud Logging, the incidents
	// topic and the metric (nothing is read back from them).
	Recorder *report.Recorder
	// Store is the system of record of incidents (Firestore); nil when
	// the Env was built without one, and then responding, resolving and
	// listing incidents fail with respond.ErrNoStore.
	Store *store.Store
	// Responder runs playbooks: the event handlers' containment.
	Responder *respond.Responder
	// Restorer is Resolve's responder, acting as the restorer: the only
	// job that may start a VM or re-enable a key.
	Restorer *respond.Responder
	// Rotator reports RotateKeys' posture drift, acting as the rotator.
	Rotator *respond.Responder
	// Costs runs the cost incidents (HandleBudget, WatchCosts), acting as
	// the costs job.
	Costs *respond.Responder
	// Rules are the compiled detection rules.
	Rules *detect.Engine
	// Sandbox is what the rules know about the configured sandbox.
	Sandbox detect.Sandbox
	// Now is the clock the rotation policy, Status and Posture judge ages
	// by (time.Now unless WithClock; the tests and the emulated `coopguard
	// serve` give the emulated GCP's, on which Secret Manager dates
	// versions). Leases and follow-up deadlines are measured on the
	// store's clock.
	Now func() time.Time

	sandbox *provisioner.Sandbox
	// accounts are the client sets each job's functions act through, by
	// account id (config.Account*).
	accounts map[string]*gcp.Clients
	// localOperator is set by `coopguard serve` (WithLocalOperator).
	localOperator string
	// fleet caches the sandbox registry for HandleLogEntry.
	fleet fleetIndex
	// statusBurst coalesces concurrent Status requests: they share one
	// read of GCP that started after they arrived.
	statusBurst coalesce.Group[*StatusReport]
	// closers release what Open opened.
	closers []func() error
}

// useAccount makes the functions deployed as account (config.AccountResponder,
// AccountRestorer, AccountReader, AccountRotator, AccountProvisioner) act
// through clients.
func (e *Env) useAccount(account string, clients *gcp.Clients) {
	e.accounts[account] = clients
	switch account {
	case config.AccountProvisioner:
		e.Provisioner = provisioner.New(e.Config, clients, func(s *provisioner.Sandbox) string {
			return detect.SinkFilter(sandboxForRules(e.Config, s))
		})
		e.Provisioner.SetRegistry(e.recordSandbox)
	case config.AccountResponder:
		e.Clients = clients
		e.Recorder = report.New(clients, e.Config.Coopguard.Topics.Incidents)
		e.Responder = respond.New(e.Config, clients, e.Recorder, e.Store, nil)
	case config.AccountRestorer:
		e.Restorer = respond.New(e.Config, clients, report.New(clients, e.Config.Coopguard.Topics.Incidents), e.Store, nil)
	case config.AccountRotator:
		e.Rotator = respond.New(e.Config, clients, report.New(clients, e.Config.Coopguard.Topics.Incidents), e.Store, nil)
	case config.AccountCosts:
		e.Costs = respond.New(e.Config, clients, report.New(clients, e.Config.Coopguard.Topics.Incidents), e.Store, nil)
	}
}

// ClientsOf returns the clients the functions of account act through.
func (e *Env) ClientsOf(account string) *gcp.Clients {
	if c, ok := e.accounts[account]; ok {
		return c
	}
	return e.Clients
}

// Option completes an Env.
type Option func(*Env)

// WithStore gives the Env its incident store.
func WithStore(st *store.Store) Option { return func(e *Env) { e.Store = st } }

// WithClock makes the Env judge ages by now instead of time.Now.
func WithClock(now func() time.Time) Option { return func(e *Env) { e.Now = now } }

// WithAccounts makes the functions of each job act through its own
// account's clients (by account id, config.Account*). Deployed, each
// function is its own Cloud Run service whose one client set carries its
// job's identity; `coopguard serve` and the tests run every function in
// one process, so each job gets its own identity's clients here. A job not
// in accounts acts through NewEnv's clients.
func WithAccounts(accounts map[string]*gcp.Clients) Option {
	return func(e *Env) {
		for a, c := range accounts {
			e.accounts[a] = c
		}
	}
}

// NewEnv builds an Env from a validated config and a client set (the
// responder's, and every job's that WithAccounts does not name).
func NewEnv(cfg *config.Config, clients *gcp.Clients, log *slog.Logger, opts ...Option) (*Env, error) {
	if cfg == nil {
		return nil, errors.New("functions.NewEnv: missing config")
	}
	if clients == nil {
		return nil, errors.New("functions.NewEnv: missing GCP clients")
	}
	if log == nil {
		log = logger.Default()
	}
	rules := detect.DefaultRules()
	if len(cfg.Coopguard.Rules) > 0 {
		rules = rules[:0]
		for _, r := range cfg.Coopguard.Rules {
			rules = append(rules, detect.Rule{Name: r.Name, Expression: r.Expression, Playbook: r.Playbook, Severity: r.Severity})
		}
	}
	engine, err := detect.Compile(rules)
	if err != nil {
		return nil, fmt.Errorf("%w: coopguard.rules: %w", config.ErrInvalid, err)
	}
	sb, err := provisioner.NewSandbox(cfg, "", "")
	if err != nil {
		return nil, err
	}
	e := &Env{Config: cfg, Clients: clients, Logger: log, Rules: engine, Now: time.Now, sandbox: sb, accounts: map[string]*gcp.Clients{}}
	for _, o := range opts {
		o(e)
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	e.Sandbox = sandboxForRules(cfg, sb)
	for _, a := range config.Accounts {
		c, ok := e.accounts[a]
		if !ok {
			c = clients
		}
		e.useAccount(a, c)
	}
	return e, nil
}

// Open builds the Env of a deployed function or of the CLI acting on a
// project directly: the config file at configPath (with the COOPGUARD_*
// variables; see config.Load), Application Default Credentials, and the
// project's Firestore database COOPGUARD_FIRESTORE_DATABASE (default
// store.DefaultDatabase). Close releases the clients and the store.
func Open(ctx context.Context, configPath string, log *slog.Logger, opts ...Option) (*Env, error) {
	cfg, err := config.Load(configPath, nil)
	if err != nil {
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	clients, err := gcp.New(ctx, cfg.Cloud.GCP.Project, gcp.Options{})
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, cfg.Cloud.GCP.Project, store.Options{Database: os.Getenv("COOPGUARD_FIRESTORE_DATABASE")})
	if err != nil {
		clients.Close()
		return nil, err
	}
	e, err := NewEnv(cfg, clients, log, append([]Option{WithStore(st)}, opts...)...)
	if err != nil {
		st.Close()
		clients.Close()
		return nil, err
	}
	e.closers = append(e.closers, st.Close, clients.Close)
	return e, nil
}

// Close releases what Open opened; an Env from NewEnv holds nothing of its
// own (its caller closes the clients and the store it gave).
func (e *Env) Close() error {
	var errs []error
	for _, c := range e.closers {
		errs = append(errs, c())
	}
	e.closers = nil
	return errors.Join(errs...)
}
