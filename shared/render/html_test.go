package render

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium returns the headless browser the HTML test renders with:
// Debian's chromium package, which `make tools` installs. A missing
// browser fails the test: the page is only tested if it is rendered.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: the HTML report is tested in headless Chromium; install it with `make chromium` (apt-get install chromium)")
	return ""
}

// runChromium runs headless Chromium on the page with args and returns
// its standard output.
func runChromium(t *testing.T, page string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
		"--disable-dev-shm-usage", "--disable-extensions", "--user-data-dir=" + t.TempDir()}
	// Chromium itself sometimes dies of a signal while it starts on a
	// loaded machine: that is the browser's crash, not the page's, so a
	// crash is tried again (at most 3 runs); any other failure is final.
	for run := 1; ; run++ {
		cmd := exec.CommandContext(ctx, chromium(t), append(append(base, args...), "file://"+page)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err == nil {
			return stdout.Bytes()
		}
		var exit *exec.ExitError
		crashed := errors.As(err, &exit) && !exit.Exited() && ctx.Err() == nil
		if !crashed || run == 3 {
			t.Fatalf("chromium %v (run %d): %v\n%s", args, run, err, stderr.String())
		}
		t.Logf("chromium %v crashed (run %d: %v); running it again", args, run, err)
	}
}

// TestHTMLRendersInChromium: the page, opened from a file with no network,
// renders in headless Chromium; its DOM has a bar on the timeline for
// every action, the evidence marked by source, and no element made of
// outside text; and a screenshot of it is a real image with something
// drawn on it.
func TestHTMLRendersInChromium(t *testing.T) {
	rep := sample()
	var b bytes.Buffer
	if err := HTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	for _, external := range []string{"<link", "<script", "src=", "@import", "url("} {
		if strings.Contains(b.String(), external) {
			t.Errorf("the page refers to something outside it (%q): it must be self-contained", external)
		}
	}
	page := filepath.Join(t.TempDir(), "incident.html")
	if err := os.WriteFile(page, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	dom := string(runChromium(t, page, "--dump-dom"))
	if !strings.Contains(dom, `id="timeline-svg"`) {
		t.Fatalf("the rendered DOM has no timeline:\n%s", dom)
	}
	for _, a := range rep.Actions {
		g := `data-action="` + a.Action + `"`
		i := strings.Index(dom, g)
		if i < 0 {
			t.Errorf("the timeline has no bar for %s", a.Action)
			continue
		}
		if end := strings.Index(dom[i:], "</g>"); end < 0 || !strings.Contains(dom[i:i+end], `<rect class="bar`) {
			t.Errorf("the timeline's %s has no bar drawn", a.Action)
		}
	}
	if i := strings.Index(dom, `data-action="collect-logs"`); i < 0 || !strings.Contains(dom[i:], "done: 2 audited calls") {
		t.Errorf("the collect-logs bar has no evidence counts beside it")
	}
	for _, want := range []string{"from Google Cloud (outside the VM)", "written from inside the VM: untrusted", "198.51.100.23:443/tcp", `class="evidence untrusted"`, "2 audited calls, 1 NAT connection, 1 VM entry (untrusted)"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	if strings.Contains(dom, "<script") || strings.Contains(dom, "\u202e") {
		t.Errorf("outside text became markup or kept a bidi override in the rendered page")
	}

	shot := filepath.Join(t.TempDir(), "incident.png")
	runChromium(t, page, "--screenshot="+shot, "--window-size=1100,1400", "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != 1100 || sz.Y != 1400 {
		t.Errorf("screenshot is %v, want 1100×1400", sz)
	}
	if colours(img) < 3 {
		t.Errorf("the screenshot has %d colours: nothing was drawn", colours(img))
	}
}

// colours counts the distinct colours of img, up to 100.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y && len(seen) < 100; y += 7 {
		for x := r.Min.X; x < r.Max.X && len(seen) < 100; x += 7 {
			c0, c1, c2, c3 := img.At(x, y).RGBA()
			seen[[4]uint32{c0, c1, c2, c3}] = true
		}
	}
	return len(seen)
}
