package render

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
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

// measure is a script the column test adds to a copy of the page (the
// page itself has none): it writes what Chromium laid out into the DOM,
// which --dump-dom then prints.
const measure = `<script>
var out = {cols: [], cells: []};
document.querySelectorAll("#actions-table th").forEach(function (c) {
  out.cols.push({name: c.textContent, width: c.getBoundingClientRect().width, fits: c.scrollWidth <= c.clientWidth});
});
document.querySelectorAll("#actions-table td").forEach(function (c) {
  out.cells.push({kind: c.className, text: c.textContent, fits: c.scrollWidth <= c.clientWidth});
});
out.outcome = getComputedStyle(document.getElementById("outcome")).backgroundColor;
var p = document.createElement("pre");
p.id = "measure";
p.textContent = JSON.stringify(out);
document.body.appendChild(p);
</script>`

// layout is what measure reports.
type layout struct {
	Cols []struct {
		Name  string
		Width float64
		Fits  bool
	}
	Cells []struct {
		Kind, Text string
		Fits       bool
	}
	Outcome string
}

// measured renders rep in Chromium with a window width wide and returns
// the actions table's layout.
func measured(t *testing.T, rep *incident.Report, width string) layout {
	t.Helper()
	var b bytes.Buffer
	if err := HTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(t.TempDir(), "measured.html")
	if err := os.WriteFile(page, []byte(strings.Replace(b.String(), "</body>", measure+"</body>", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	dom := string(runChromium(t, page, "--dump-dom", "--window-size="+width+",1400"))
	_, after, ok := strings.Cut(dom, `<pre id="measure">`)
	raw, _, ok2 := strings.Cut(after, "</pre>")
	var l layout
	if !ok || !ok2 {
		t.Fatalf("the measuring script wrote nothing:\n%s", dom)
	}
	if err := json.Unmarshal([]byte(html.UnescapeString(raw)), &l); err != nil {
		t.Fatalf("measure: %v: %s", err, raw)
	}
	return l
}

// TestHTMLActionColumnsReadable: laid out by Chromium, wide and on a
// phone, the actions table keeps every column readable however long the
// outside text in it: each header on one line, action, result and seconds
// never broken, target, detail and changed at least 8em wide and wrapping
// inside their cells; a narrow window scrolls the table rather than
// squeezing a column to a letter. A finished follow-up's "complete" is
// shown as good as "contained".
func TestHTMLActionColumnsReadable(t *testing.T) {
	complete := following()
	complete.Outcome, complete.FollowUp = incident.OutcomeComplete, incident.FollowUpDone
	for i := range complete.Actions {
		complete.Actions[i].Result = incident.ResultDone
	}
	outcomes := map[string]string{}
	for _, tt := range []struct {
		name, width string
		rep         *incident.Report
	}{
		{"following, wide", "1100", following()},
		{"complete, phone", "420", complete},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := measured(t, tt.rep, tt.width)
			outcomes[tt.rep.Outcome] = l.Outcome
			if len(l.Cols) != 6 || len(l.Cells) != 6*len(tt.rep.Actions) {
				t.Fatalf("measured %d columns, %d cells: want 6 and %d", len(l.Cols), len(l.Cells), 6*len(tt.rep.Actions))
			}
			const em = 15 // the page's font size, in CSS pixels
			for _, c := range l.Cols {
				if !c.Fits {
					t.Errorf("header %q does not fit its column (%.0f px)", c.Name, c.Width)
				}
				switch c.Name {
				case "Target", "Detail", "Changed":
					if c.Width < 8*em {
						t.Errorf("column %s is %.0f px wide, want at least 8em (%d px)", c.Name, c.Width, 8*em)
					}
				}
			}
			for _, c := range l.Cells {
				if !c.Fits {
					t.Errorf("a %s cell overflows its column: %q", c.Kind, c.Text)
				}
			}
		})
	}
	if c, ok := outcomes[incident.OutcomeContained]; !ok || outcomes[incident.OutcomeComplete] != c {
		t.Errorf("outcome backgrounds %v: complete should look as good as contained", outcomes)
	}
}
