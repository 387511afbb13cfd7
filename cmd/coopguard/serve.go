package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/posture/posturetest"
	"github.com/cloudcoop/coopguard/provisioner/watcher"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/logger"
	"github.com/cloudcoop/coopguard/test/emulator"
)

func runServe(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	port := fs.Int("port", 8080, "port to listen on")
	host := fs.String("host", "127.0.0.1", "address to listen on")
	configPath := fs.String("config", os.Getenv("COOPGUARD_CONFIG"), "config file; without one, coopguard serves a demo sandbox on an emulated GCP")
	emulated := fs.Bool("emulated", false, "use the embedded emulated GCP even with a config file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := logger.FromContext(ctx)
	var (
		cfg  *config.Config
		err  error
		opts gcp.Options
		emu  *emulator.Emulator
	)
	if *configPath == "" {
		cfg, err = config.FromBase(config.Demo(), nil)
	} else {
		cfg, err = config.Load(*configPath, nil)
	}
	if err != nil {
		return err
	}
	if *configPath == "" || *emulated {
		emu, err = emulator.Start()
		if err != nil {
			return err
		}
		defer emu.Close()
		opts = emu.Options()
		seedDemo(emu, cfg)
		posturetest.SeedDemoPosture(emu, cfg)
		if stop, err := startDemoWatcher(emu, cfg); err != nil {
			log.Warn("agent watcher not started: stop-agents will wait for its timeout", "error", err)
		} else {
			defer stop()
		}
	}
	clients, err := gcp.New(ctx, cfg.Cloud.GCP.Project, opts)
	if err != nil {
		return err
	}
	defer clients.Close()
	env, err := functions.NewEnv(cfg, clients, log)
	if err != nil {
		return err
	}
	functions.SetEnv(env)

	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	// Listen first so that a busy port is reported here, not in a goroutine.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (choose another with --port)", addr, err)
	}
	l.Close()
	cloud := "real GCP (Application Default Credentials)"
	if emu != nil {
		cloud = "EMULATED GCP (nothing real is touched)"
	}
	fmt.Fprintf(stdout, "coopguard serve: http://%s  project %s  cloud: %s\n", addr, cfg.Cloud.GCP.Project, cloud)
	fmt.Fprintf(stdout, "  try: curl -X POST http://%s/Provision   curl http://%s/Status\n", addr, addr)
	errc := make(chan error, 1)
	go func() { errc <- funcframework.StartHostPort(*host, strconv.Itoa(*port)) }()
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "coopguard serve: stopping")
		return nil
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
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
// a drill on `coopguard serve` sees the agents' stop confirmed. It kills
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
