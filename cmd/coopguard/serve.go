package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/provisioner/watcher"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/shared/store"
	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/compute"
	"github.com/cloudcoop/coopguard/test/emulator/demo"
	"github.com/cloudcoop/coopguard/test/emulator/eventarc"
	"github.com/cloudcoop/coopguard/test/emulator/firestoreemu"
)

func runServe(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	port := fs.Int("port", 8080, "port to listen on (0: any free port, printed)")
	host := fs.String("host", "127.0.0.1", "address to listen on")
	configPath := fs.String("config", os.Getenv("COOPGUARD_CONFIG"), "config file; without one, coopguard serves a demo sandbox on an emulated GCP")
	emulated := fs.Bool("emulated", false, "use the embedded emulated GCP even with a config file")
	operations := fs.String("operations", "gcp", "how long the emulated GCP's operations take: gcp (as in GCP: a VM stop takes up to 90 s, a snapshot minutes), virtual (GCP's durations on the emulated clock, which a wait on an operation moves to its end: no real time passes) or compressed (done at once, for tests)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	profile := compute.GCPLike()
	switch *operations {
	case "gcp", "virtual":
	case "compressed":
		profile = compute.Compressed
	default:
		return fmt.Errorf("serve: --operations %q: use gcp, virtual or compressed", *operations)
	}
	log := logger.FromContext(ctx)
	if *configPath != "" && !*emulated {
		// The real project, as the CLI's direct mode and a deployed
		// function reach it; every request is the operator's.
		env, err := functions.Open(ctx, *configPath, log, functions.WithLocalOperator(whoami()))
		if err != nil {
			return err
		}
		defer env.Close()
		return serveFunctions(ctx, env, nil, *host, *port, stdout)
	}
	var cfg *config.Config
	var err error
	if *configPath == "" {
		cfg, err = config.FromBase(config.Demo(), nil)
	} else {
		cfg, err = config.Load(*configPath, nil)
	}
	if err != nil {
		return err
	}
	emu, err := emulator.Start()
	if err != nil {
		return err
	}
	defer emu.Close()
	// Operations take GCP's time here, so an incident rehearsed on the
	// emulated project unfolds as it would in GCP.
	emu.Compute.SetProfile(profile)
	if *operations == "virtual" {
		// The end-to-end tests' virtual time (emulator.GCPTime).
		emu.GCPTime()
	}
	// Revocation through Anthropic goes to the emulated Admin API.
	if r := &cfg.Coopguard.Revoke; r.Provider == config.RevokeAnthropic {
		r.URL = emu.AnthropicURL
	}
	seedDemo(emu, cfg)
	demo.SeedDemoPosture(emu, cfg)
	// Grant what deploy grants; every function acts as its deployed
	// identity.
	if err := emu.DeployConfig(cfg); err != nil {
		return err
	}
	if stop, err := startDemoWatcher(emu, cfg); err != nil {
		log.Warn("agent watcher not started: stop-agents will wait for its timeout", "error", err)
	} else {
		defer stop()
	}
	// The bridge and EmulatorPublish get a client of their own: the
	// functions' client sets are rate-limited for GCP's quotas.
	ps, err := pubsub.NewClient(ctx, cfg.Cloud.GCP.Project, emu.OptionsAs(emulator.Responder(cfg.Cloud.GCP.Project)).PubSub...)
	if err != nil {
		return fmt.Errorf("dial the emulated Pub/Sub: %w", err)
	}
	defer ps.Close()
	// Monitoring, the log sink, Secret Manager and Cloud Scheduler publish
	// to these before anyone calls Provision; Provision finds them and
	// moves on.
	tp := cfg.Coopguard.Topics
	if err := eventarc.EnsureTopics(ctx, ps, tp.Alerts, tp.Logs, tp.Rotation, tp.Incidents, tp.FollowUp); err != nil {
		return err
	}
	// Each function acts as its own deployed identity.
	accounts, err := emu.AccountClients(ctx, cfg.Cloud.GCP.Project)
	if err != nil {
		return err
	}
	for _, c := range accounts {
		defer c.Close()
	}
	st, err := openServeStore(ctx, emu, cfg, stdout)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := seedDemoRevocation(ctx, emu, cfg, st); err != nil {
		return err
	}
	// Ages are judged on the emulated clock, on which Secret Manager
	// dates versions.
	env, err := functions.NewEnv(cfg, accounts[config.AccountResponder], log, functions.WithAccounts(accounts),
		functions.WithStore(st), functions.WithClock(emu.Clock.Now), functions.WithLocalOperator(whoami()))
	if err != nil {
		return err
	}
	return serveFunctions(ctx, env, &emulatedServe{emu: emu, pubsub: &emulatedPubSub{client: ps, triggers: eventTriggers(cfg)}}, *host, *port, stdout)
}

// emulatedServe is what an emulated `coopguard serve` adds to the
// functions: the emulated GCP, its Pub/Sub (EmulatorPublish, the bridge,
// the Scheduler) and its endpoints (EmulatorInfo).
type emulatedServe struct {
	emu    *emulator.Emulator
	pubsub *emulatedPubSub
	info   *emulatorInfo
}

// serveFunctions serves env's functions on host:port until ctx ends;
// emulated is nil on the real project.
func serveFunctions(ctx context.Context, env *functions.Env, emulated *emulatedServe, host string, port int, stdout io.Writer) error {
	cfg := env.Config
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	// Listen first so that a busy port is reported here, not in a goroutine.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another with --port)", addr, err)
	}
	defer l.Close()
	// --port 0: a free port, named in the first line printed.
	port = l.Addr().(*net.TCPAddr).Port
	addr = net.JoinHostPort(host, strconv.Itoa(port))
	// On the real project every request needs the token: whoever reaches
	// the port would otherwise act with the operator's credentials.
	var token, tokenPath string
	if emulated == nil {
		var remove func()
		var err error
		token, tokenPath, remove, err = writeToken(port)
		if err != nil {
			return err
		}
		defer remove()
	}
	cloud := "real GCP (Application Default Credentials)"
	if emulated != nil {
		cloud = "EMULATED GCP (nothing real is touched)"
		dir, err := os.MkdirTemp("", "coopguard-serve-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		emulated.info = newEmulatorInfo(emulated.emu, cfg)
		if err := emulated.info.writeGcloudConfigs(dir); err != nil {
			return fmt.Errorf("serve: write gcloud configurations: %w", err)
		}
	}
	handler, err := functionsHandler(ctx, env, emulated)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newGuard(host, port, token, tokenPath, handler), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "coopguard serve: http://%s  project %s  cloud: %s\n", addr, cfg.Cloud.GCP.Project, cloud)
	if token != "" {
		fmt.Fprintf(stdout, "  every request needs the bearer token in %s (the CLI reads it)\n", tokenPath)
		fmt.Fprintf(stdout, "  try: curl -H \"Authorization: Bearer $(cat %s)\" http://%s/Status\n", tokenPath, addr)
	} else {
		fmt.Fprintf(stdout, "  try: curl -X POST http://%s/Provision   curl http://%s/Status\n", addr, addr)
	}
	if emulated != nil {
		emulated.info.print(stdout, addr)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()
	if emulated != nil {
		ps := emulated.pubsub.client
		stop, err := startBridge(ctx, ps, cfg, host, port, errc, stdout)
		if err != nil {
			return err
		}
		defer stop()
		// After the bridge: its subscriptions exist, so no run is lost.
		stopScheduler := startScheduler(ctx, ps, finishIncidentsJob(cfg), emulated.emu.Clock.Now, stdout)
		defer stopScheduler()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "coopguard serve: stopping")
		return nil
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
}

// openServeStore opens the incident store of the emulated GCP: a
// database of its own in the Firestore emulator at FIRESTORE_EMULATOR_HOST
// when that is set (as the official client honours it), else in the real
// Firestore emulator started here (printing a line, since Java takes a
// few seconds) and stopped when serve ends. Either way the incidents of
// one run start empty, as its emulated GCP does.
func openServeStore(ctx context.Context, emu *emulator.Emulator, cfg *config.Config, stdout io.Writer) (*store.Store, error) {
	o := store.Options{Database: "coopguard-serve-" + strings.ToLower(rand.Text()[:12]), Now: emu.Clock.Now}
	if host := os.Getenv(firestoreemu.EnvHost); host != "" {
		fmt.Fprintf(stdout, "  Firestore emulator: %s=%s  database %s\n", firestoreemu.EnvHost, host, o.Database)
		return store.Open(ctx, cfg.Cloud.GCP.Project, o)
	}
	fmt.Fprintln(stdout, "coopguard serve: starting the Firestore emulator (Java, a few seconds)...")
	fe, err := firestoreemu.Start(ctx, nil)
	if err != nil {
		return nil, err
	}
	o.EmulatorHost = fe.Host
	fmt.Fprintf(stdout, "  Firestore emulator: %s=%s  database %s\n", firestoreemu.EnvHost, fe.Host, o.Database)
	st, err := store.Open(ctx, cfg.Cloud.GCP.Project, o)
	if err != nil {
		fe.Stop()
		return nil, err
	}
	return st.OnClose(fe.Stop), nil
}

// seedDemo gives the emulated project what a user's project would already
// have: the managed secrets with one enabled version each. The payload is
// random and never shown.
func seedDemo(emu *emulator.Emulator, cfg *config.Config) {
	for _, id := range cfg.Coopguard.Secrets {
		emu.SecretManager.SeedSecret(cfg.Cloud.GCP.Project, id, []byte("demo-"+rand.Text()))
	}
}

// startDemoWatcher runs the real agent watcher script for the demo VM
// against the emulated metadata server, as the VM's systemd unit would, so
// a drill on `coopguard serve` sees the VM report the agents stopped. It kills
// tmux servers only under its own private directory.
func startDemoWatcher(emu *emulator.Emulator, cfg *config.Config) (stop func(), err error) {
	dir, err := os.MkdirTemp("", "coopguard-demo-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "coopguard-watcher")
	if err := os.WriteFile(script, []byte(watcher.Script), 0o700); err != nil {
		return nil, err
	}
	cmd := exec.Command("sh", script)
	cmd.Env = append(os.Environ(),
		"GCE_METADATA_HOST="+emu.MetadataServer(cfg.Cloud.GCP.Project, cfg.Cloud.GCP.Zone, cfg.VM.Name),
		"COOPGUARD_TMUX_DIRS="+filepath.Join(dir, "tmux"),
		"COOPGUARD_POLL_TIMEOUT=60",
		// This machine is not the sandbox: the demo's agents are the
		// tmux servers in dir, never this machine's users or containers.
		"COOPGUARD_AGENT_USERS="+strconv.Itoa(os.Getuid()),
		"COOPGUARD_DOCKER=",
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		os.RemoveAll(dir)
	}, nil
}

// trigger is an event function and the topic that triggers it, as deploy
// wires them (config.Jobs).
type trigger struct {
	Topic    string `json:"topic"`
	Function string `json:"function"`
}

// eventTriggers are coopguard's Pub/Sub-triggered functions.
func eventTriggers(cfg *config.Config) []trigger {
	var out []trigger
	for _, f := range config.Functions() {
		if !f.HTTP() {
			out = append(out, trigger{Topic: cfg.Coopguard.Topics.Topic(f.Topic), Function: f.Name})
		}
	}
	return out
}

// startBridge waits until the functions server listens, then delivers the
// event topics to their functions as Eventarc would. A delivery before the
// server listens would fail and count as an attempt.
func startBridge(ctx context.Context, ps *pubsub.Client, cfg *config.Config, host string, port int, errc <-chan error, stdout io.Writer) (stop func(), err error) {
	// The bridge is a client of the server: a wildcard listen address is
	// reached on loopback.
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("functions server on %s not listening after 10s: %w", addr, err)
		}
		select {
		case err := <-errc:
			return nil, fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
			return func() {}, nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	routes := map[string]string{}
	var lines []string
	for _, tr := range eventTriggers(cfg) {
		routes[tr.Topic] = "/" + tr.Function
		lines = append(lines, tr.Topic+" → "+tr.Function)
	}
	b, err := eventarc.New(ps, "http://"+addr, routes, eventarc.Options{Logger: logger.FromContext(ctx)})
	if err != nil {
		return nil, err
	}
	if err := b.Start(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(stdout, "  events (emulated Eventarc): %s; dead-letter %s after %d attempts\n",
		strings.Join(lines, ", "), eventarc.DeadLetterTopic, eventarc.DefaultMaxAttempts)
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := b.Stop(sctx); err != nil {
			logger.FromContext(ctx).Warn("event delivery did not stop cleanly", "error", err)
		}
	}, nil
}

// emulatedPubSub is what EmulatorPublish publishes into: the embedded
// Pub/Sub of the running `coopguard serve`.
type emulatedPubSub struct {
	client   *pubsub.Client
	triggers []trigger
}

// functionsHandler serves env's functions (functions.Handlers) as the
// Functions Framework does when deployed: each at /NAME, event functions
// as CloudEvents over HTTP through the CloudEvents SDK. serve builds it
// itself, not through funcframework.Start, to put the guard in front. Only
// an emulated serve (emulated not nil) adds EmulatorPublish and
// EmulatorInfo: deployed functions never offer them.
func functionsHandler(ctx context.Context, env *functions.Env, emulated *emulatedServe) (http.Handler, error) {
	log := logger.FromContext(ctx)
	mux := http.NewServeMux()
	for _, f := range functions.Handlers(env) {
		if f.HTTP != nil {
			mux.HandleFunc("/"+f.Name, f.HTTP)
			continue
		}
		p, err := cloudevents.NewHTTP()
		if err != nil {
			return nil, fmt.Errorf("serve %s: %w", f.Name, err)
		}
		name, fn := f.Name, f.Event
		h, err := cloudevents.NewHTTPReceiveHandler(ctx, p, func(ctx context.Context, ev cloudevents.Event) error {
			err := fn(ctx, ev)
			if err != nil {
				// The framework logs a failed event function too; the
				// answer (5xx) makes Pub/Sub redeliver.
				log.Error("function failed", "function", name, "event", ev.ID(), "error", err)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("serve %s: %w", f.Name, err)
		}
		mux.Handle("/"+f.Name, h)
	}
	if emulated != nil {
		mux.HandleFunc("/EmulatorPublish", emulated.pubsub.publish)
		mux.HandleFunc("/EmulatorInfo", emulated.info.serve)
	}
	return mux, nil
}

// publishRequest is EmulatorPublish's body.
type publishRequest struct {
	// Topic is a topic id, or projects/P/topics/ID in the served project.
	Topic string `json:"topic"`
	// Data is the payload: a JSON string holds it base64-encoded, any
	// other JSON value is the payload itself.
	Data json.RawMessage `json:"data"`
	// Attributes are the message attributes.
	Attributes map[string]string `json:"attributes"`
}

// publishInfo is EmulatorPublish's answer to GET: where events go.
type publishInfo struct {
	Project         string    `json:"project"`
	Triggers        []trigger `json:"triggers"`
	DeadLetterTopic string    `json:"deadLetterTopic"`
}

// publish is EmulatorPublish: it publishes a message into the embedded
// emulated Pub/Sub of `coopguard serve`, so that another process (the
// CLI's drill, a test, a curl) can publish the way Cloud Monitoring, the
// log sink or Cloud Scheduler would, and the message takes the production
// path to the functions. POST {topic, data, attributes} answers
// {messageId, topic}; GET lists the topics that trigger functions. A serve
// on real GCP has no such route (404).
func (ps *emulatedPubSub) publish(w http.ResponseWriter, r *http.Request) {
	project := ps.client.Project()
	switch r.Method {
	case http.MethodGet:
		writeJSONBody(w, http.StatusOK, publishInfo{Project: project, Triggers: ps.triggers, DeadLetterTopic: eventarc.DeadLetterTopic})
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSONError(w, http.StatusMethodNotAllowed, r.Method+" not allowed: POST {topic, data, attributes} publishes, GET lists the topics")
		return
	}
	// Pub/Sub's own limit on a message is 10 MB; events here are small.
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	var req publishRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSONError(w, http.StatusRequestEntityTooLarge, "body over 1 MiB")
			return
		}
		writeJSONError(w, http.StatusBadRequest, "bad body: "+err.Error()+`: want {"topic": "...", "data": "<base64>" or {...}, "attributes": {...}}`)
		return
	}
	id := req.Topic
	if rest, ok := strings.CutPrefix(id, "projects/"+project+"/topics/"); ok {
		id = rest
	}
	if id == "" || strings.Contains(id, "/") {
		writeJSONError(w, http.StatusBadRequest, fmt.Sprintf("topic %q: give a topic id, or projects/%s/topics/ID", req.Topic, project))
		return
	}
	data, err := publishData(req.Data)
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	p := ps.client.Publisher(id)
	defer p.Stop()
	msgID, err := p.Publish(r.Context(), &pubsub.Message{Data: data, Attributes: req.Attributes}).Get(r.Context())
	switch {
	case status.Code(err) == codes.NotFound:
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("topic %s does not exist in the emulated Pub/Sub: publish to one of GET /EmulatorPublish's topics, or create it with Provision", id))
		return
	case err != nil:
		writeJSONError(w, http.StatusBadGateway, "publish to "+id+": "+err.Error())
		return
	}
	writeJSONBody(w, http.StatusOK, map[string]string{"messageId": msgID, "topic": "projects/" + project + "/topics/" + id})
}

// publishData decodes EmulatorPublish's data: a JSON string is base64
// (standard, padded or not), any other JSON value is the payload as is.
func publishData(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if raw[0] != '"' {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		return buf.Bytes(), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("data: a string must be base64 (send a JSON object to publish JSON as is)")
	}
	return b, nil
}

func writeJSONBody(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	writeJSONBody(w, code, map[string]string{"error": msg})
}
