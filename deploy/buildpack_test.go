package deploy_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/deploy"
)

// TestBuildpackBuildsTheStagedSource builds what the Go functions buildpack
// would build from the source deploy uploads: the staged tree, the root
// package the buildpack finds there, and its generated main.go. Then it
// starts the binary once per deployed entry point with an unusable port:
// a registered function gets as far as listening ("invalid port"), an
// unregistered one fails with "no matching function found".
func TestBuildpackBuildsTheStagedSource(t *testing.T) {
	t.Parallel()
	_, work := freshDryRun(t, "deploy.sh")
	src := filepath.Join(work, "source")
	pkg, mainGo, err := deploy.BuildpackMain(src)
	if err != nil {
		t.Fatal(err)
	}
	if pkg != "github.com/cloudcoop/coopguard" {
		t.Errorf("the buildpack would import %s, want the staged root package", pkg)
	}
	app := filepath.Join(src, deploy.BuildpackAppDir)
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "main.go"), []byte(mainGo), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "app")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+deploy.BuildpackAppDir)
	build.Dir = src
	// -trimpath as `make test` builds: the staged copy's packages are then
	// the ones already compiled, not a second build of the module.
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod -trimpath", "GOPROXY=off", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the buildpack's main in the staged source: %v\n%s", err, out)
	}

	for _, f := range libList(t, "FUNCTIONS") {
		entry := strings.Fields(f)[1]
		run := exec.CommandContext(ctx, bin)
		run.Env = []string{"FUNCTION_TARGET=" + entry, "PORT=-1", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		out, _ := run.CombinedOutput()
		switch {
		case strings.Contains(string(out), "no matching function found"):
			t.Errorf("deploy deploys entry point %s but functions/register.go does not register it:\n%s", entry, out)
		case !strings.Contains(string(out), "invalid port"):
			t.Errorf("entry point %s: unexpected start-up output:\n%s", entry, out)
		}
	}
}
