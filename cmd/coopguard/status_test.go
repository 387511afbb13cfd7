package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cloudcoop/coopguard/functions"
)

// TestStatusPrintsNoGoValues: the instance table says "none" or "YES
// (exposed)" for the external IP and "-" for an empty cell, never a Go
// value such as false or [].
func TestStatusPrintsNoGoValues(t *testing.T) {
	tests := []struct {
		name string
		in   functions.InstanceStatus
		want []string
	}{
		{"no external IP, nothing set", functions.InstanceStatus{Name: "vm", ID: "1", Zone: "z", Status: "RUNNING"}, []string{"none", "-"}},
		{"external IP", functions.InstanceStatus{Name: "vm", ID: "1", Zone: "z", Status: "RUNNING", ExternalIP: true, NetworkTags: []string{"a"}}, []string{"YES (exposed)"}},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		printStatus(&out, &functions.StatusReport{Project: "p", Instances: []functions.InstanceStatus{tt.in}})
		got := out.String()
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: status lacks %q:\n%s", tt.name, w, got)
			}
		}
		for _, raw := range []string{"true", "false", "[]", "map[", "<nil>"} {
			if strings.Contains(got, raw) {
				t.Errorf("%s: status prints the Go value %q:\n%s", tt.name, raw, got)
			}
		}
	}
}
