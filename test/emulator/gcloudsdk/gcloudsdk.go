// Package gcloudsdk finds what the machine's Google Cloud CLI ships: the
// SDK root and the emulators under its platform/ folder.
package gcloudsdk

import (
	"os/exec"
	"path/filepath"
)

// debianRoot is where the Debian package installs the SDK, used when no
// gcloud is on PATH.
const debianRoot = "/usr/lib/google-cloud-sdk"

// Root returns the SDK root: found from the gcloud on PATH (whose real
// path is <root>/bin/gcloud), else the Debian package's location.
func Root() string {
	if p, err := exec.LookPath("gcloud"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(filepath.Dir(real))
		}
	}
	return debianRoot
}

// Platform returns a path under the SDK root's platform/ folder, e.g.
// Platform("pubsub-emulator", "bin", "cloud-pubsub-emulator").
func Platform(elem ...string) string {
	return filepath.Join(append([]string{Root(), "platform"}, elem...)...)
}
