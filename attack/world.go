// Package attack plays a compromised agent against a sandbox that coopguard
// provisioned on the emulated GCP. Each Scenario makes real API calls
// through the official clients, as the sandbox's service account (or
// another principal), and nothing else: the emulated GCP writes the Cloud
// Audit Logs entry, the emulated Logging routes it through the sink
// Provision made, pstest carries it, the emulated Eventarc delivers it to
// HandleLogEntry, and coopguard's rules and playbooks do the rest. Run
// waits for the outcome and reports the chain. `coopguard drill --attack`
// and the package's tests share it.
package attack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/pubsub/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
	"github.com/cloudcoop/coopguard/test/emulator/eventarc"
	"github.com/cloudcoop/coopguard/test/emulator/firestoreemu"
)

// Thief is the user who, in the secret-theft drill, reads the managed key
// although only the sandbox should: a person with access who should not
// use it, or whose credentials leaked.
const Thief = "dev@example.com"

// World is an emulated project with coopguard deployed and the sandbox
// provisioned: the functions served over HTTP on loopback, fed by the
// emulated Eventarc from the emulated Pub/Sub, as `coopguard serve` runs
// them. Each World has its own Env, so Worlds may run side by side.
type World struct {
	Emu *emulator.Emulator
	Cfg *config.Config
	// Env is what the functions use; its clients act as the responder.
	Env *functions.Env
	// Sandbox names what Provision made.
	Sandbox *provisioner.Sandbox
	// Agent acts as the sandbox's service account from its VM, with the
	// token the VM's metadata server hands out: what a compromised agent
	// holds. Operator is the project's owner; Thief a user allowed to read
	// the managed key; Provisioner coopguard's provisioner.
	Agent, Operator, Thief, Provisioner *gcp.Clients
	// Stolen acts as the sandbox's service account from outside Google
	// Cloud: the agent's token, taken off the VM.
	Stolen *gcp.Clients

	srv    *httptest.Server
	ps     *pubsub.Client
	bridge *eventarc.Bridge
	// logDeliveries and rotateDeliveries count HandleLogEntry and
	// RotateKeys deliveries answered, whatever the answer: Run waits for
	// the first to catch up with the sink.
	logDeliveries, rotateDeliveries atomic.Int64
	closers                         []func()
	// lastIncident is the incident a Setup left, for its Act.
	lastIncident string
}

// Options tune Start.
type Options struct {
	// Profile is how long Compute operations take (default: GCP's,
	// compute.GCPLike, in virtual time: see emulator.GCPTime).
	Profile *compute.Profile
	// Log receives the functions' log (default: discarded).
	Log io.Writer
}

// worlds numbers the worlds of this process (their incident stores).
var worlds atomic.Int64

// Start starts the emulated GCP, deploys coopguard to it as deploy.sh
// would, serves the functions, and provisions the sandbox. Close ends it.
func Start(ctx context.Context, o Options) (_ *World, err error) {
	w := &World{}
	defer func() {
		if err != nil {
			w.Close()
		}
	}()
	emu, err := emulator.Start()
	if err != nil {
		return nil, err
	}
	w.Emu = emu
	w.closers = append(w.closers, func() { emu.Close() })
	// GCP's operation times (a stop 90 s, a snapshot 3 min) in virtual
	// time, unless the caller names a profile.
	emu.GCPTime()
	if o.Profile != nil {
		emu.Compute.SetProfile(*o.Profile)
	}
	// The VM's agent watcher confirms the agents' stop.
	emu.Compute.StandInForWatcher()

	cfg, err := config.FromBase(config.Demo(), func(string) (string, bool) { return "", false })
	if err != nil {
		return nil, err
	}
	cfg.Coopguard.AgentStopTimeout = config.Duration{Duration: 2 * time.Second}
	w.Cfg = cfg
	project := cfg.Cloud.GCP.Project
	for _, id := range cfg.Coopguard.Secrets {
		// A random payload, never shown.
		emu.SecretManager.SeedSecret(project, id, []byte("sk-drill-"+rand.Text()))
	}
	if err := emu.DeployConfig(cfg); err != nil {
		return nil, err
	}
	dial := func(principal string) (*gcp.Clients, error) {
		c, err := emu.ClientsAs(ctx, project, principal)
		if err != nil {
			return nil, err
		}
		w.closers = append(w.closers, func() { c.Close() })
		return c, nil
	}
	accounts, err := emu.AccountClients(ctx, project)
	if err != nil {
		return nil, err
	}
	for _, c := range accounts {
		w.closers = append(w.closers, func() { c.Close() })
	}
	responder := accounts[config.AccountResponder]
	w.Provisioner = accounts[config.AccountProvisioner]
	if w.Operator, err = dial(emulator.Operator); err != nil {
		return nil, err
	}
	if w.Stolen, err = dial(cfg.Cloud.GCP.ServiceAccount); err != nil {
		return nil, err
	}
	if w.Thief, err = dial(Thief); err != nil {
		return nil, err
	}
	logOut := o.Log
	if logOut == nil {
		logOut = io.Discard
	}
	// The incident store: the real Firestore emulator, one per process,
	// a project of its own per world.
	if _, err := firestoreemu.Shared(); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, "attack-"+strconv.FormatInt(worlds.Add(1), 10), store.Options{Now: emu.Clock.Now})
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() { st.Close() })
	// Deploy creates the database before any incident; the emulator makes
	// a project's on its first request, so that request is made now, not
	// by the first incident.
	if _, err := st.Get(ctx, "coopguard-deploy-check"); !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("the incident store of project %s: %w", st.Project(), err)
	}
	// Rotation judges ages on the emulated clock, as Secret Manager does.
	env, err := functions.NewEnv(cfg, responder, logger.New(logOut, slog.LevelInfo), functions.WithAccounts(accounts),
		functions.WithStore(st), functions.WithClock(emu.Clock.Now), functions.WithLocalOperator("attack-drill"))
	if err != nil {
		return nil, err
	}
	w.Env = env
	if w.Sandbox, err = provisioner.NewSandbox(cfg, "", ""); err != nil {
		return nil, err
	}

	if err := w.serve(ctx); err != nil {
		return nil, err
	}
	rep, err := env.Provisioner.Converge(ctx, provisioner.Options{})
	if err != nil {
		return nil, fmt.Errorf("provision the sandbox: %w", err)
	}
	if len(rep.Resources) == 0 {
		return nil, errors.New("provision the sandbox: nothing provisioned")
	}
	// The agent's calls leave from the VM Provision made.
	if w.Agent, err = emu.OpenVM(project, cfg.Cloud.GCP.Zone, w.Sandbox.Name).Clients(ctx); err != nil {
		return nil, fmt.Errorf("the sandbox VM's clients: %w", err)
	}
	w.closers = append(w.closers, func() { w.Agent.Close() })
	// What the project's people set up besides, through the operator's own
	// API calls: the sandbox reads its key (Provision may grant it too),
	// and so may Thief.
	for _, id := range cfg.Coopguard.Secrets {
		if err := grantAccessor(ctx, w.Operator, "projects/"+project+"/secrets/"+id, "serviceAccount:"+cfg.Cloud.GCP.ServiceAccount, "user:"+Thief); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// grantAccessor adds members to the secret's secretAccessor binding.
func grantAccessor(ctx context.Context, c *gcp.Clients, secret string, members ...string) error {
	pol, err := c.Secrets.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: secret, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}})
	if err != nil {
		return fmt.Errorf("read the IAM policy of %s: %w", secret, err)
	}
	pol.Bindings = append(pol.Bindings, &iampb.Binding{Role: "roles/secretmanager.secretAccessor", Members: members})
	if _, err := c.Secrets.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: secret, Policy: pol}); err != nil {
		return fmt.Errorf("grant secretAccessor on %s: %w", secret, err)
	}
	return nil
}

// serve starts the functions server and the emulated Eventarc that feeds
// it, as `coopguard serve` wires them.
func (w *World) serve(ctx context.Context) error {
	mux := http.NewServeMux()
	for path, fn := range map[string]func(context.Context, event.Event) error{
		"/HandleLogEntry": w.Env.HandleLogEntry,
		"/HandleAlert":    w.Env.HandleAlert,
		"/RotateKeys":     w.Env.RotateKeys,
	} {
		// The same receiver the functions framework wraps an event
		// function in.
		p, err := cloudevents.NewHTTP()
		if err != nil {
			return err
		}
		h, err := cloudevents.NewHTTPReceiveHandler(ctx, p, fn)
		if err != nil {
			return err
		}
		var handler http.Handler = h
		if n := map[string]*atomic.Int64{"/HandleLogEntry": &w.logDeliveries, "/RotateKeys": &w.rotateDeliveries}[path]; n != nil {
			handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				defer n.Add(1)
				h.ServeHTTP(rw, r)
			})
		}
		mux.Handle(path, handler)
	}
	w.srv = httptest.NewServer(mux)
	w.closers = append(w.closers, w.srv.Close)

	project := w.Cfg.Cloud.GCP.Project
	ps, err := pubsub.NewClient(ctx, project, w.Emu.Options().PubSub...)
	if err != nil {
		return fmt.Errorf("dial the emulated Pub/Sub: %w", err)
	}
	w.ps = ps
	w.closers = append(w.closers, func() { ps.Close() })
	tp := w.Cfg.Coopguard.Topics
	if err := eventarc.EnsureTopics(ctx, ps, tp.Alerts, tp.Logs, tp.Rotation, tp.Incidents); err != nil {
		return err
	}
	b, err := eventarc.New(ps, w.srv.URL, map[string]string{
		tp.Alerts: "/HandleAlert", tp.Logs: "/HandleLogEntry", tp.Rotation: "/RotateKeys",
	}, eventarc.Options{MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		return err
	}
	if err := b.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	w.bridge = b
	w.closers = append(w.closers, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Stop(sctx)
	})
	return nil
}

// Close stops everything Start started, newest first.
func (w *World) Close() {
	for i := len(w.closers) - 1; i >= 0; i-- {
		w.closers[i]()
	}
	w.closers = nil
}

// SinkName is the full name of the log sink Provision made.
func (w *World) SinkName() string {
	return "projects/" + w.Cfg.Cloud.GCP.Project + "/sinks/" + w.Sandbox.Sink()
}

// secretName is the full name of a managed secret.
func (w *World) secretName(id string) string {
	return "projects/" + w.Cfg.Cloud.GCP.Project + "/secrets/" + id
}

// State is what containment changes: the VM's status and the managed
// secrets' version states.
type State struct {
	VM       string
	Versions []string
}

// State reads the sandbox's state from the emulated project.
func (w *World) State() State {
	var s State
	if inst, ok := w.Emu.Compute.Instance(w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name); ok {
		s.VM = inst.GetStatus()
	}
	for _, id := range w.Cfg.Coopguard.Secrets {
		for _, v := range w.Emu.SecretManager.Versions(w.secretName(id)) {
			s.Versions = append(s.Versions, v.GetState().String())
		}
	}
	return s
}

// Contained reports whether the VM is TERMINATED and no managed key
// version is ENABLED.
func (s State) Contained() bool {
	if (s.VM != "TERMINATED" && s.VM != "STOPPING") || len(s.Versions) == 0 {
		return false
	}
	for _, v := range s.Versions {
		if v == "ENABLED" {
			return false
		}
	}
	return true
}

// Intact reports whether the VM is RUNNING and every managed key version
// ENABLED.
func (s State) Intact() bool {
	if s.VM != "RUNNING" || len(s.Versions) == 0 {
		return false
	}
	for _, v := range s.Versions {
		if v != "ENABLED" {
			return false
		}
	}
	return true
}

func (s State) String() string { return fmt.Sprintf("VM %s, key versions %v", s.VM, s.Versions) }
