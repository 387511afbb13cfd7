package deploy

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cloudcoop/coopguard/shared/config"
)

// scripts are deploy.sh and what it reads (lib.sh, jobs.sh, the role
// files, the function root, the dashboard), embedded so a binary without the
// repository (`coopguard serve`) can list what deploy does.
//
//go:embed deploy.sh lib.sh jobs.sh dashboard.json roles/*.yaml functionroot/coopguard.go
var scripts embed.FS

// DryRunEmbedded runs the embedded deploy/deploy.sh with DRY_RUN=1 and env
// (KEY=VALUE, as DryRun) and returns its listing. The script runs in a
// temporary copy of the repository's shape: deploy/ as embedded, and a
// stand-in go.mod and source tree, since a dry run stages the functions'
// source but deploys nothing of it. Set RUNTIME in env to skip reading the
// stand-in go.mod's go line.
func DryRunEmbedded(ctx context.Context, env ...string) ([]Step, error) {
	root, err := os.MkdirTemp("", "coopguard-deploy-")
	if err != nil {
		return nil, fmt.Errorf("deploy: dry run: %w", err)
	}
	defer os.RemoveAll(root)
	err = fs.WalkDir(scripts, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := scripts.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(root, "deploy", p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("deploy: dry run: write the embedded scripts: %w", err)
	}
	// stage_source copies go.mod, go.sum and the packages the functions
	// build from: stand-ins, one file each.
	stand := map[string]string{
		"go.mod":             "// stand-in for the dry run of the embedded deploy.sh\nmodule coopguard\n\ngo 1.26\n",
		"go.sum":             "",
		"functions/README":   "stand-in",
		"provisioner/README": "stand-in",
	}
	for p, content := range stand {
		dst := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, fmt.Errorf("deploy: dry run: %w", err)
		}
		if err := os.WriteFile(dst, []byte(content), 0o644); err != nil {
			return nil, fmt.Errorf("deploy: dry run: %w", err)
		}
	}
	// deploy.sh builds the IAM conditions from shared/config's templates.
	err = fs.WalkDir(config.IAMConditions, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := config.IAMConditions.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(root, "shared", "config", p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return nil, fmt.Errorf("deploy: dry run: write the IAM condition templates: %w", err)
	}
	env = append([]string{"DEPLOY_WORKDIR=" + filepath.Join(root, "work")}, env...)
	steps, _, err := DryRunListing(ctx, filepath.Join(root, "deploy", "deploy.sh"), env...)
	return steps, err
}

// EmbeddedFile returns a file of the embedded deploy directory by its path
// there (roles/responder.yaml): what a listing's --file names, read after
// the dry run's temporary copy is gone.
func EmbeddedFile(path string) ([]byte, error) {
	b, err := scripts.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("deploy: no embedded file %s: %w", path, err)
	}
	return b, nil
}
