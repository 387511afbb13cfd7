package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/cloudcoop/coopguard/functions"
	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/shared/incident"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, ünïcödé ✓", "plain text, ünïcödé ✓"},
		{"clear\x1b[2Jscreen", `clear\x1b[2Jscreen`},
		{"title\x1b]0;pwned\x07", `title\x1b]0;pwned\x07`},
		{"line\nbreak\rreturn\ttab", `line\x0abreak\x0dreturn\x09tab`},
		{"del\x7f c1\u009b", `del\x7f c1\x9b`},
		{"bidi \u202egnp.exe", `bidi \u202egnp.exe`},
		{"bad utf8 \xff", `bad utf8 \ufffd`},
	}
	for _, tt := range tests {
		if got := escape(tt.in); got != tt.want {
			t.Errorf("escape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPrintedIncidentsCarryNoControlCharacters: every field that came from
// outside is escaped in the list and the timeline.
func TestPrintedIncidentsCarryNoControlCharacters(t *testing.T) {
	evil := "x\x1b[31m\x1b]52;c;ZXZpbA==\x07\u202e"
	rep := incident.Report{
		Incident: incident.Incident{ID: "alert-" + evil, Trigger: evil, Summary: evil, Source: "log", Playbook: "contain"},
		Instance: evil, Outcome: incident.OutcomeContained, Reason: evil, ResolvedBy: evil,
		Actions: []incident.ActionResult{{Action: "collect-logs", Result: "done", Detail: evil, Reason: evil, Changed: []string{evil}}},
		Evidence: &incident.Evidence{
			Audit: &incident.AuditEvidence{Principal: evil, Entries: 1, Methods: []incident.Count{{Name: evil, Count: 1}}},
			NAT:   &incident.NATEvidence{Entries: 1, Destinations: []incident.Count{{Name: evil, Count: 1}}, Note: evil},
			VM:    &incident.LogExcerpt{Entries: 1, First: []string{evil}},
		},
	}
	var out bytes.Buffer
	printIncidentList(&out, []incident.Report{rep})
	printIncident(&out, &rep)
	for _, bad := range []string{"\x1b", "\x07", "\u202e"} {
		if strings.Contains(out.String(), bad) {
			t.Fatalf("printed output contains %q:\n%s", bad, out.String())
		}
	}
	if !strings.Contains(out.String(), `x\x1b[31m`) {
		t.Errorf("the escaped text is not shown:\n%s", out.String())
	}
}

// hostile is text a compromised sandbox or a hostile server would send:
// colour, clear screen, a clipboard write (OSC 52) ended by BEL, a carriage
// return that overwrites the line, and a bidi override.
const hostile = "x\x1b[31m\x1b[2J\x1b]52;c;ZXZpbA==\x07\roverwritten\u202e"

// poison sets every string the JSON of v can carry (fields, slice
// elements, map keys and values, through pointers) to hostile.
func poison(v reflect.Value, depth int) {
	if depth > 8 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(hostile)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		poison(v.Elem(), depth+1)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				poison(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // raw JSON or bytes
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		poison(v.Index(0), depth+1)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		poison(k, depth+1)
		poison(e, depth+1)
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(k, e)
	}
}

func poisoned[T any]() T {
	var v T
	poison(reflect.ValueOf(&v).Elem(), 0)
	return v
}

// TestCommandsEscapeWhatTheServerSays: a server (or the sandbox behind
// it) answers every text field with escape sequences, BEL and CR; each
// command prints them escaped, never raw.
func TestCommandsEscapeWhatTheServerSays(t *testing.T) {
	var mu sync.Mutex
	drillID := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/Status":
			st := poisoned[functions.StatusReport]()
			// The drill names the project in a header, which Go's HTTP
			// client refuses to send with control characters in it.
			st.Project = "coopguard-local"
			// A drill without --project picks a VM of that project.
			for i := range st.Instances {
				st.Instances[i].Project = st.Project
			}
			shown := poisoned[incident.Report]()
			shown.Incident.ID = "alert-shown"
			st.Incidents = append(st.Incidents, shown)
			mu.Lock()
			if drillID != "" {
				drill := poisoned[incident.Report]()
				drill.Incident.ID = drillID
				st.Incidents = append(st.Incidents, drill)
			}
			mu.Unlock()
			writeJSONBody(w, http.StatusOK, st)
		case "/Posture":
			writeJSONBody(w, http.StatusOK, poisoned[posture.Report]())
		case "/Resolve":
			writeJSONBody(w, http.StatusOK, poisoned[incident.Report]())
		case "/HandleAlert": // the drill, posted as Eventarc would
			mu.Lock()
			drillID = r.Header.Get("ce-id")
			mu.Unlock()
		default: // no EmulatorPublish: the drill goes to HandleAlert
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	for _, args := range [][]string{
		{"status"},
		{"incidents"},
		{"incidents", "show", "alert-shown"},
		{"resolve", "alert-shown"},
		{"drill", "--timeout", "10s"},
		{"posture"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			// posture exits 1 on the poisoned checks; the output is what
			// matters here.
			err := realMain(context.Background(), append(args, "--server", srv.URL), &out)
			if err != nil && args[0] != "posture" {
				t.Fatalf("coopguard %v: %v\n%s", args, err, out.String())
			}
			if i := strings.IndexAny(out.String(), "\x1b\x07\r\u202e"); i >= 0 {
				t.Fatalf("output has a raw control character at %d:\n%q", i, out.String())
			}
			if !strings.Contains(out.String(), `x\x1b[31m\x1b[2J`) {
				t.Errorf("the hostile text is not shown escaped:\n%s", out.String())
			}
			if err != nil && strings.ContainsAny(escapeText(err.Error()), "\x1b\x07\r") {
				t.Errorf("the error prints raw control characters: %q", escapeText(err.Error()))
			}
		})
	}
}
