package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/render"
)

// TestShowIncidentFormats: `incidents show ID --format` writes each
// format where asked; the text timeline prints the evidence by source,
// never a Go value; an unknown format is a usage error.
func TestShowIncidentFormats(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	rep := &incident.Report{Incident: incident.Incident{ID: "log-x", Playbook: "contain", Source: "log"}, Outcome: incident.OutcomeContained,
		ReceivedAt: t0, Actions: []incident.ActionResult{{Action: "stop-vm", Result: "done", Start: t0, End: t0.Add(time.Second), Seconds: 1}},
		Evidence: &incident.Evidence{From: t0, To: t0.Add(time.Minute),
			Audit: &incident.AuditEvidence{Source: incident.FromOutside, Principal: "sa@p.iam.gserviceaccount.com", Entries: 1, Allowed: 1},
			NAT:   &incident.NATEvidence{Source: incident.FromOutside, Entries: 1, Translated: 1, Destinations: []incident.Count{{Name: "198.51.100.23:443/tcp", Count: 1}}},
			VM:    &incident.LogExcerpt{Source: incident.FromVM, BySeverity: map[string]int{}}}}
	tests := []struct {
		format, file string
		want         []string
	}{
		{"text", "", []string{"from Google Cloud (outside the VM)", "198.51.100.23:443/tcp ×1", "written from inside the VM: untrusted", "0 entries"}},
		{"markdown", "", []string{"## " + render.SectionEvidence, "## " + render.SectionNext}},
		{"json", "", []string{`"destinations"`}},
		{"html", "incident.html", []string{`data-action="stop-vm"`, "<!DOCTYPE html>"}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var out bytes.Buffer
			path := ""
			if tt.file != "" {
				path = filepath.Join(t.TempDir(), tt.file)
			}
			if err := showIncident(rep, tt.format, path, &out); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if path != "" {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
				if !strings.Contains(out.String(), "wrote incident log-x as html to "+path) {
					t.Errorf("stdout = %q, want where the report went", out.String())
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("--format %s lacks %q:\n%s", tt.format, w, got)
				}
			}
			if strings.Contains(got, "map[") {
				t.Errorf("--format %s printed a Go map:\n%s", tt.format, got)
			}
		})
	}
	if err := showIncident(rep, "pdf", "", &bytes.Buffer{}); !errors.Is(err, errUsage) {
		t.Errorf("--format pdf: %v, want a usage error", err)
	}
}
