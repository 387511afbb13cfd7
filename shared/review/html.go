package review

import (
	"html/template"
	"io"
	"time"
)

// HTML writes the review as one self-contained page: inline CSS, no
// script, no external asset, like the incident report
// (shared/render.HTML). html/template escapes every value in its context.
func HTML(w io.Writer, r *Review) error {
	return page.Execute(w, htmlView{Review: r, Sections: sections})
}

type htmlView struct {
	*Review
	Sections map[string]string
}

var sections = map[string]string{
	"Calls": SectionCalls, "Secrets": SectionSecrets, "NAT": SectionNAT, "Incidents": SectionIncidents, "Keys": SectionKeys, "Drift": SectionDrift,
}

var page = template.Must(template.New("review").Funcs(template.FuncMap{
	"stamp": func(t time.Time) string { return stamp(t) },
	"new":   func() string { return NewLabel },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>coopguard weekly review: {{.Project}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}h3{font-size:15px;margin-top:20px}
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f8fa}td.n{text-align:right;white-space:nowrap}code{font:12px ui-monospace,monospace}
.new{color:#fff;background:#bf3989;border-radius:4px;padding:0 6px;font-weight:600;font-size:12px}
.note{color:#57606a;font-style:italic}.open{color:#cf222e;font-weight:600}.denied{color:#cf222e}
</style>
</head>
<body>
<h1>Weekly review of {{.Project}}</h1>
<p>{{stamp .From}} → {{stamp .To}}</p>
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{range .Sandboxes}}
<section class="sandbox" data-sandbox="{{.Name}}">
<h2>Sandbox {{.Name}}</h2>
<p>Account: <code>{{.Account}}</code></p>
{{if .FirstReview}}<p class="note">First review of this sandbox: nothing is marked new; the next review compares with this one.</p>{{end}}
<h3>{{index $.Sections "Calls"}}</h3>
{{if .Methods}}<table class="methods"><tr><th>Method</th><th>Allowed</th><th>Denied</th><th></th></tr>
{{range .Methods}}<tr data-method="{{.Name}}"{{if .New}} data-new="true"{{end}}><td><code>{{.Name}}</code></td><td class="n">{{.Allowed}}</td><td class="n{{if .Denied}} denied{{end}}">{{.Denied}}</td><td>{{if .New}}<span class="new">{{new}}</span>{{end}}</td></tr>
{{end}}</table>{{else}}<p>No audited call by the sandbox's account.</p>{{end}}
{{if .CallsTruncated}}<p class="note">The read bound was reached: the counts are a floor.</p>{{end}}
<h3>{{index $.Sections "Secrets"}}</h3>
{{if .SecretReads}}<table class="secrets"><tr><th>Principal</th><th>Reads</th><th>Denied</th><th>Secrets</th></tr>
{{range .SecretReads}}<tr data-principal="{{.Principal}}"><td><code>{{.Principal}}</code>{{if .Own}} (the sandbox){{end}}</td><td class="n">{{.Reads}}</td><td class="n">{{.Denied}}</td><td>{{range $i, $s := .Secrets}}{{if $i}}, {{end}}{{$s}}{{end}}</td></tr>
{{end}}</table>{{else}}<p>No read of the sandbox's secrets.</p>{{end}}
<h3>{{index $.Sections "NAT"}}</h3>
{{with .NATNote}}<p class="note">{{.}}</p>{{end}}
{{if .Destinations}}<table class="destinations"><tr><th>Destination</th><th>Connections</th><th></th></tr>
{{range .Destinations}}<tr data-destination="{{.Name}}"{{if .New}} data-new="true"{{end}}><td><code>{{.Name}}</code></td><td class="n">{{.Count}}</td><td>{{if .New}}<span class="new">{{new}}</span>{{end}}</td></tr>
{{end}}</table>{{else}}<p>No connection recorded.</p>{{end}}
<h3>{{index $.Sections "Incidents"}}</h3>
{{if .Incidents}}<table class="incidents"><tr><th>Incident</th><th>Playbook</th><th>Trigger</th><th>Opened</th><th>Outcome</th><th>Ended</th></tr>
{{range .Incidents}}<tr data-incident="{{.ID}}" data-outcome="{{.Outcome}}"><td><code>{{.ID}}</code></td><td>{{.Playbook}}</td><td>{{.Trigger}}</td><td>{{stamp .ReceivedAt}}</td><td>{{.Outcome}}</td><td{{if eq .Ended "still open"}} class="open"{{end}}>{{.Ended}}</td></tr>
{{end}}</table>{{else}}<p>No incident.</p>{{end}}
<h3>{{index $.Sections "Keys"}}</h3>
{{if .Keys}}<table class="keys"><tr><th>Secret</th><th>Version</th><th>State</th><th>Created</th><th>Age</th><th></th></tr>
{{range .Keys}}<tr data-secret="{{.Secret}}" data-version="{{.Version}}" data-state="{{.State}}"><td>{{.Secret}}</td><td>{{.Version}}</td><td>{{.State}}</td><td>{{stamp .CreatedAt}}</td><td>{{.Age}}</td><td>{{.Due}}</td></tr>
{{end}}</table>{{else}}<p>No managed secret version.</p>{{end}}
</section>
{{end}}
<h2>{{index .Sections "Drift"}}</h2>
{{if .Drift}}<table class="drift"><tr><th>Check</th><th>Status</th><th>Evidence</th><th>Fix</th></tr>
{{range .Drift}}<tr data-check="{{.Check}}"><td>{{.Check}}</td><td>{{.Status}}</td><td>{{.Evidence}}</td><td>{{.Fix}}</td></tr>
{{end}}</table>{{else}}<p>Every posture check passes.</p>{{end}}
</body>
</html>
`))
