package deploy_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestCloudBuild reads cloudbuild.yaml as Cloud Build would (steps, their
// image after substitution, the script) and checks that its test step can
// run `make test` as written, nothing skipped: the image has gcloud (the
// Google Cloud CLI image), the step installs Go at least at go.mod's
// version, and the Makefile targets `make test` runs install Java (with
// the Firestore emulator) and Chromium where missing. The deploy step
// runs deploy/deploy.sh in the same gcloud image.
func TestCloudBuild(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../cloudbuild.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cb struct {
		Substitutions map[string]string `yaml:"substitutions"`
		Steps         []struct {
			ID         string   `yaml:"id"`
			Name       string   `yaml:"name"`
			Entrypoint string   `yaml:"entrypoint"`
			Args       []string `yaml:"args"`
		} `yaml:"steps"`
	}
	if err := yaml.Unmarshal(raw, &cb); err != nil {
		t.Fatalf("cloudbuild.yaml: %v", err)
	}
	// Cloud Build's substitution: ${_X} from substitutions, $$ a dollar.
	subst := func(s string) string {
		s = regexp.MustCompile(`\$\{(_[A-Z0-9_]+)\}`).ReplaceAllStringFunc(s, func(m string) string {
			v, ok := cb.Substitutions[m[2:len(m)-1]]
			if !ok {
				t.Errorf("cloudbuild.yaml uses %s, which substitutions does not define", m)
			}
			return v
		})
		return strings.ReplaceAll(s, "$$", "$")
	}
	steps := map[string]struct{ image, script string }{}
	for _, s := range cb.Steps {
		steps[s.ID] = struct{ image, script string }{subst(s.Name), subst(s.Entrypoint + " " + strings.Join(s.Args, " "))}
	}
	const gcloudImage = "gcr.io/google.com/cloudsdktool/google-cloud-cli:"

	test, ok := steps["test"]
	if !ok {
		t.Fatal("cloudbuild.yaml has no step with id test")
	}
	if !strings.HasPrefix(test.image, gcloudImage) {
		t.Errorf("the test step runs in %s, want the Google Cloud CLI image (%s…), which has gcloud", test.image, gcloudImage)
	}
	if !regexp.MustCompile(`(?m)^\s*make test fuzz\s*$`).MatchString(test.script) {
		t.Errorf("the test step does not run `make test fuzz` (as .ci/run does) on a line of its own:\n%s", test.script)
	}
	for _, skip := range []string{"-skip", "-short", "-run"} {
		if strings.Contains(test.script, skip) {
			t.Errorf("the test step passes %s: nothing may be skipped", skip)
		}
	}
	if !strings.Contains(test.script, "apt-get install -y make") {
		t.Errorf("the test step does not install make (the gcloud image lacks it):\n%s", test.script)
	}
	goURL := regexp.MustCompile(`https://go\.dev/dl/go([0-9.]+)\.linux-amd64\.tar\.gz`).FindStringSubmatch(test.script)
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^go ([0-9.]+)$`).FindSubmatch(mod)
	switch {
	case goURL == nil:
		t.Errorf("the test step does not install Go from go.dev/dl:\n%s", test.script)
	case want == nil:
		t.Fatal("go.mod has no go line")
	case olderGo(goURL[1], string(want[1])):
		t.Errorf("the test step installs Go %s, older than go.mod's %s", goURL[1], want[1])
	case !strings.Contains(test.script, "/usr/local/go/bin"):
		t.Errorf("the test step does not put the Go it installs on PATH:\n%s", test.script)
	}

	// What make test installs where missing: Java and the Firestore
	// emulator, Chromium (unit), shellcheck (lint).
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string][]string{
		"test:":               {"lint", "unit"},
		"unit:":               {"firestore-emulator", "chromium"},
		"lint:":               {"shellcheck"},
		"firestore-emulator:": {"apt-get install -y google-cloud-cli-firestore-emulator openjdk-17-jre-headless"},
		"chromium:":           {"apt-get install -y chromium"},
		"shellcheck-tool:":    {"apt-get install -y shellcheck"},
	}
	for target, needs := range targets {
		body := makeTarget(string(mk), target)
		for _, n := range needs {
			if !strings.Contains(body, n) {
				t.Errorf("Makefile %s does not have %q: the test step relies on it", target, n)
			}
		}
	}

	deploy, ok := steps["deploy"]
	if !ok || !strings.HasPrefix(deploy.image, gcloudImage) || !strings.Contains(deploy.script, "deploy/deploy.sh") {
		t.Errorf("the deploy step = %+v, want deploy/deploy.sh in the Google Cloud CLI image", deploy)
	}
}

// makeTarget is the rule of target in a Makefile: its line and the
// recipe lines under it.
func makeTarget(mk, target string) string {
	var out []string
	in := false
	for _, l := range strings.Split(mk, "\n") {
		switch {
		case strings.HasPrefix(l, target):
			in = true
			out = append(out, l)
		case in && (strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "  ")):
			out = append(out, l)
		default:
			in = false
		}
	}
	return strings.Join(out, "\n")
}

// olderGo reports whether Go version a (1.26.8) is older than b.
func olderGo(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
