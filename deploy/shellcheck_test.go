package deploy_test

import (
	"os/exec"
	"path/filepath"
	"testing"
)

func TestShellcheck(t *testing.T) {
	t.Parallel()
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Fatal("shellcheck not found: run make shellcheck (it installs it with apt-get) or apt-get install shellcheck")
	}
	scripts, err := filepath.Glob(filepath.Join(repoRoot(t), "deploy", "*.sh"))
	if err != nil || len(scripts) < 3 {
		t.Fatalf("deploy scripts: %v %v", scripts, err)
	}
	cmd := exec.Command(sc, append([]string{"-x"}, scripts...)...)
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}
