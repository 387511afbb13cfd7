package render

import (
	"fmt"
	"html/template"
	"io"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// Timeline geometry of the HTML page's SVG, in pixels.
const (
	svgLabel = 150 // the action names' column
	svgAxis  = 460 // the time axis
	svgNote  = 480 // the results (and evidence counts) beside the bars
	svgRow   = 26
	svgTop   = 30 // the axis and its ticks
)

// htmlBar is a Bar placed on the SVG.
type htmlBar struct {
	Bar
	Y, X, W, TextY int
	Class          string
}

// tick is one mark of the time axis.
type tick struct {
	X     int
	Label string
}

// htmlView is what the page template reads.
type htmlView struct {
	Rep                *incident.Report
	Bars               []htmlBar
	Ticks              []tick
	Width              int
	Height             int
	AxisStart, AxisEnd int
	Counts             string
	Evidence           []Block
	Next               []string
	Window             string
	// FollowUp is where the follow-up stands (see FollowUp), Running
	// whether it is still under way.
	FollowUp string
	Running  bool
}

// HTML writes rep as one self-contained page: inline CSS and SVG, no
// script, no external asset, so it reads the same opened from a mail or a
// ticket without coopguard. html/template escapes every value from the
// report in the context it lands in (text, attribute, SVG).
func HTML(w io.Writer, rep *incident.Report) error {
	bars, total := Timeline(rep)
	v := htmlView{Rep: rep, Counts: Counts(rep.Evidence), Evidence: Evidence(rep.Evidence), Next: NextSteps(rep),
		Width: svgLabel + svgAxis + svgNote, AxisStart: svgLabel, AxisEnd: svgLabel + svgAxis,
		FollowUp: FollowUp(rep), Running: rep.FollowUp == incident.FollowUpRunning}
	for i, b := range bars {
		x := svgLabel + int(b.Start/total*svgAxis)
		wd := max(2, int((b.End-b.Start)/total*svgAxis+0.5))
		hb := htmlBar{Bar: b, Y: svgTop + i*svgRow + 4, X: x, W: wd, TextY: svgTop + i*svgRow + 17, Class: "ok"}
		switch b.Status {
		case incident.ResultFailed:
			hb.Class = "failed"
		case incident.ResultSkipped:
			hb.Class = "skipped"
		case incident.ResultPending:
			hb.Class = "pending"
		}
		v.Bars = append(v.Bars, hb)
	}
	for i := 0; i <= 4; i++ {
		v.Ticks = append(v.Ticks, tick{X: svgLabel + i*svgAxis/4, Label: fmt.Sprintf("%.3fs", total*float64(i)/4)})
	}
	v.Height = svgTop + max(1, len(bars))*svgRow + 10
	if rep.Evidence != nil {
		v.Window = stamp(rep.Evidence.From) + " to " + stamp(rep.Evidence.To)
	}
	return page.Execute(w, v)
}

// status is a result as a CSS class: one of the known results, never
// the report's own text (a class is markup the page's style reads).
func status(result string) string {
	switch result {
	case incident.ResultDone, incident.ResultAlready, incident.ResultDryRun, incident.ResultFailed, incident.ResultSkipped, incident.ResultPending:
		return result
	}
	return "other"
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{"stamp": stamp, "x": code, "seconds": seconds, "status": status}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>coopguard incident {{x .Rep.Incident.ID}}</title>
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#1b1f24;background:#fff}
h1{font-size:1.5em;margin-bottom:.2em}h2{border-bottom:1px solid #d0d7de;padding-bottom:.2em;margin-top:1.6em}
.outcome{display:inline-block;padding:.1em .6em;border-radius:1em;background:#eaeef2;font-weight:600}
.outcome.contained,.outcome.complete{background:#dafbe1}.outcome.incomplete{background:#ffebe9}.outcome.refused{background:#fff8c5}
.followup{display:inline-block;padding:.1em .6em;border-radius:1em;border:1px dashed #8c959f;color:#57606a}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em}dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #d0d7de;padding:.3em .5em;text-align:left;vertical-align:top}
.scroll{overflow-x:auto}
table.actions{table-layout:auto;min-width:48em}
table.actions th,.actions td.action,.actions td.result,.actions td.seconds{white-space:nowrap}
.actions td.target{min-width:9em;overflow-wrap:anywhere}.actions td.detail{min-width:14em;overflow-wrap:anywhere}.actions td.changed{min-width:11em;overflow-wrap:anywhere}
.actions td.seconds{text-align:right}.actions tr.failed td.result{color:#cf222e;font-weight:600}.actions tr.pending td{color:#57606a;font-style:italic}
th{background:#f6f8fa}code{font:13px ui-monospace,monospace}
svg{max-width:100%;height:auto;font:12px ui-monospace,monospace}
.bar.ok{fill:#2da44e}.bar.failed{fill:#cf222e}.bar.skipped{fill:#9a6700}.bar.pending{fill:#d0d7de;stroke:#8c959f;stroke-dasharray:4 3}.axis{stroke:#57606a}.grid{stroke:#d0d7de}
.evidence{border:1px solid #d0d7de;border-radius:6px;padding:.5em 1em;margin:.8em 0}
.evidence.outside{border-left:6px solid #2da44e}.evidence.untrusted{border-left:6px solid #cf222e;background:#fff8f8}
.source{font-size:.85em;font-weight:600;text-transform:uppercase;letter-spacing:.03em}
.untrusted .source{color:#cf222e}.outside .source{color:#1a7f37}
.counts{color:#57606a}
</style>
</head>
<body>
<h1>coopguard incident <code>{{x .Rep.Incident.ID}}</code></h1>
<p><span class="outcome {{x .Rep.Outcome}}" id="outcome">{{x .Rep.Outcome}}</span>{{if .Running}} <span class="followup" id="followup-running">follow-up running</span>{{end}} {{x .Rep.Incident.Playbook}} playbook, from {{x .Rep.Incident.Source}}</p>

<h2 id="summary">Summary</h2>
<dl>
<dt>Trigger</dt><dd>{{x .Rep.Incident.Trigger}}</dd>
{{with .Rep.Incident.Severity}}<dt>Severity</dt><dd>{{x .}}</dd>{{end}}
{{with .Rep.Incident.Summary}}<dt>Summary</dt><dd>{{x .}}</dd>{{end}}
{{with .Rep.Incident.Project}}<dt>Project</dt><dd>{{x .}}</dd>{{end}}
{{with .Rep.Instance}}<dt>Instance</dt><dd>{{x .}}</dd>{{end}}
{{with .Rep.Reason}}<dt>Reason</dt><dd>{{x .}}</dd>{{end}}
<dt>Started</dt><dd>{{stamp .Rep.Incident.StartedAt}}</dd>
<dt>Received</dt><dd>{{stamp .Rep.ReceivedAt}}</dd>
<dt>Finished</dt><dd>{{stamp .Rep.FinishedAt}}</dd>
<dt>Time to containment</dt><dd>{{printf "%.3f" .Rep.ContainmentSeconds}} s (critical path {{printf "%.3f" .Rep.CriticalPathSeconds}} s)</dd>
{{with .FollowUp}}<dt>Follow-up</dt><dd id="followup">{{x .}}</dd>{{end}}
{{with .Rep.Appended}}<dt>Later events</dt><dd id="appended">{{x .String}}</dd>{{end}}
{{with .Rep.ResolvedBy}}<dt>Resolved by</dt><dd>{{x .}}</dd>{{end}}
{{with .Rep.Explanation}}<dt>Cause</dt><dd id="explanation">{{x .}}</dd>{{end}}
{{with .Rep.ResumedBy}}<dt>Resumed</dt><dd id="resumed">by {{x .}} at {{stamp $.Rep.ResumedAt}}</dd>{{end}}
{{with .Rep.ResumeForced}}<dt>Resumed with the cause unexplained, because</dt><dd id="resume-forced">{{x .}}</dd>{{end}}
</dl>

<h2 id="timeline">Timeline</h2>
<p class="counts" id="evidence-counts">Evidence: {{x .Counts}}</p>
{{if .Bars}}<svg id="timeline-svg" xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="actions on a time axis, seconds after the event was received">
{{range .Ticks}}<line class="grid" x1="{{.X}}" y1="18" x2="{{.X}}" y2="{{$.Height}}"></line><text x="{{.X}}" y="12" text-anchor="middle">{{x .Label}}</text>
{{end}}<line class="axis" x1="{{.AxisStart}}" y1="20" x2="{{.AxisEnd}}" y2="20"></line>
{{range .Bars}}<g class="action" data-action="{{x .Action}}"><title>{{x .Action}}: {{x .Result}} {{printf "%.3f" .Start}}–{{printf "%.3f" .End}} s {{x .Detail}}</title>
<text x="4" y="{{.TextY}}">{{x .Action}}</text><rect class="bar {{x .Class}}" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="16" rx="3"></rect><text x="{{$.AxisEnd}}" dx="8" y="{{.TextY}}">{{x .Aside}}</text></g>
{{end}}</svg>{{else}}<p>No action was taken.</p>{{end}}

<h2 id="actions">Actions and changes</h2>
{{if .Rep.Actions}}<div class="scroll"><table class="actions" id="actions-table">
<tr><th>Action</th><th>Result</th><th>Seconds</th><th>Target</th><th>Detail</th><th>Changed</th></tr>
{{range .Rep.Actions}}<tr class="{{status .Result}}"><td class="action"><code>{{x .Action}}</code></td><td class="result">{{x .Result}}</td><td class="seconds">{{seconds .}}</td><td class="target">{{x .Target}}</td><td class="detail">{{if .Reason}}{{x .Reason}}{{else}}{{x .Detail}}{{end}}</td><td class="changed">{{range .Changed}}<code>{{x .}}</code><br>{{end}}</td></tr>
{{end}}</table></div>{{else}}<p>None.</p>{{end}}

<h2 id="evidence">Evidence</h2>
{{with .Window}}<p>Incident window {{x .}}.</p>{{end}}
{{range .Evidence}}<section class="evidence {{if .Untrusted}}untrusted{{else}}outside{{end}}">
<div class="source">{{x .Source}}</div>
<h3>{{x .Title}}</h3>
<p>{{x .Summary}}</p>
{{with .Note}}<p><em>{{x .}}</em></p>{{end}}
{{if .Rows}}<ul>{{range .Rows}}<li><code>{{x .}}</code></li>{{end}}</ul>{{end}}
</section>
{{else}}<p>No evidence was collected.</p>{{end}}

<h2 id="next-steps">Next steps</h2>
<ul>{{range .Next}}<li>{{x .}}</li>{{end}}</ul>
<p class="counts">Written by coopguard. Evidence marked "from Google Cloud" was read from logs the VM cannot write; entries written from inside the VM may be forged.</p>
</body>
</html>
`))
