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
	"sync"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/report"
	"github.com/cloudcoop/coopguard/shared/store"
)

// Env is everything a function needs: configuration, GCP clients and the
// logic built on them. Build it with NewEnv.
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
	// Rules are the compiled detection rules.
	Rules *detect.Engine
	// Sandbox is what the rules know about the configured sandbox.
	Sandbox detect.Sandbox

	sandbox *provisioner.Sandbox
	// accounts are the client sets each job's functions act through, by
	// account id (config.Account*).
	accounts map[string]*gcp.Clients
	// localOperator is set by `coopguard serve` (WithLocalOperator).
	localOperator string
}

// UseAccount makes the functions deployed as account (config.AccountResponder,
// AccountRestorer, AccountReader, AccountRotator, AccountProvisioner) act
// through clients. Deployed, each function is its own Cloud Run service
// whose client set carries its job's identity, the one NewEnv is given;
// `coopguard serve` and the tests run every function in one process, so
// each job gets its own identity's clients here.
func (e *Env) UseAccount(account string, clients *gcp.Clients) {
	e.accounts[account] = clients
	switch account {
	case config.AccountProvisioner:
		e.Provisioner = provisioner.New(e.Config, clients, func(s *provisioner.Sandbox) string {
			return detect.SinkFilter(sandboxForRules(e.Config, s))
		})
	case config.AccountResponder:
		e.Clients = clients
		e.Recorder = report.New(clients, e.Config.Coopguard.Topics.Incidents)
		e.Responder = respond.New(e.Config, clients, e.Recorder, e.Store, nil)
	case config.AccountRestorer:
		e.Restorer = respond.New(e.Config, clients, report.New(clients, e.Config.Coopguard.Topics.Incidents), e.Store, nil)
	case config.AccountRotator:
		e.Rotator = respond.New(e.Config, clients, report.New(clients, e.Config.Coopguard.Topics.Incidents), e.Store, nil)
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

// NewEnv builds an Env from a validated config and a client set.
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
	e := &Env{Config: cfg, Clients: clients, Logger: log, Rules: engine, sandbox: sb, accounts: map[string]*gcp.Clients{}}
	for _, o := range opts {
		o(e)
	}
	e.Sandbox = sandboxForRules(cfg, sb)
	for _, a := range config.Accounts {
		e.UseAccount(a, clients)
	}
	return e, nil
}

var (
	envMu   sync.Mutex
	current *Env
)

// SetEnv installs the Env every registered function uses; `coopguard
// serve` and tests call it before serving. Deployed functions build theirs
// from the environment on first use instead.
func SetEnv(e *Env) {
	envMu.Lock()
	defer envMu.Unlock()
	current = e
}

// getEnv returns the installed Env, building it from the process
// environment (COOPGUARD_CONFIG file, COOPGUARD_* variables, Application
// Default Credentials, the Firestore database COOPGUARD_FIRESTORE_DATABASE,
// default store.DefaultDatabase) the first time.
func getEnv(ctx context.Context) (*Env, error) {
	envMu.Lock()
	defer envMu.Unlock()
	if current != nil {
		return current, nil
	}
	cfg, err := config.Load(os.Getenv("COOPGUARD_CONFIG"), nil)
	if err != nil {
		return nil, fmt.Errorf("load configuration: %w", err)
	}
	clients, err := gcp.New(context.WithoutCancel(ctx), cfg.Cloud.GCP.Project, gcp.Options{})
	if err != nil {
		return nil, err
	}
	st, err := store.Open(context.WithoutCancel(ctx), cfg.Cloud.GCP.Project, store.Options{Database: os.Getenv("COOPGUARD_FIRESTORE_DATABASE")})
	if err != nil {
		return nil, err
	}
	e, err := NewEnv(cfg, clients, logger.Default(), WithStore(st))
	if err != nil {
		return nil, err
	}
	current = e
	return e, nil
}
