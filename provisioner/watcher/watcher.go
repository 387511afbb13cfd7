// Package watcher holds the on-VM agent watcher and the startup script that
// installs it. The watcher is how the responder stops agents without SSH:
// see coopguard-watcher.sh.
package watcher

import (
	_ "embed"
	"strings"
)

// Script is the watcher shell script.
//
//go:embed coopguard-watcher.sh
var Script string

// Unit is the watcher's systemd unit.
//
//go:embed coopguard-watcher.service
var Unit string

// MetadataKey is the instance metadata key the responder sets to
// StopValue(incident) to ask the watcher to stop the agents.
const MetadataKey = "coopguard-agents"

// StopValue is the flag that asks the watcher to stop the agents for one
// incident: "stop <incident id>". Naming the incident lets the responder
// tell an ack for this incident from an older or forged one.
func StopValue(incidentID string) string { return "stop " + incidentID }

// GuestNamespace and GuestKey name the guest attribute where the watcher
// reports: "stopped <incident id> <unix time>". The VM writes it, so the
// responder shows it as the VM's word, never as proof.
const (
	GuestNamespace = "coopguard"
	GuestKey       = "agents"
)

// StartupScript is the VM's startup-script: it installs the watcher and its
// unit and (re)starts it. It runs at every boot, so a changed watcher is
// picked up on the next start.
func StartupScript() string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# coopguard: install the agent watcher (runs at every boot).\nset -eu\n")
	b.WriteString("cat >/usr/local/bin/coopguard-watcher <<'COOPGUARD_WATCHER_EOF'\n")
	b.WriteString(Script)
	b.WriteString("COOPGUARD_WATCHER_EOF\nchmod 0755 /usr/local/bin/coopguard-watcher\n")
	b.WriteString("cat >/etc/systemd/system/coopguard-watcher.service <<'COOPGUARD_UNIT_EOF'\n")
	b.WriteString(Unit)
	b.WriteString("COOPGUARD_UNIT_EOF\nsystemctl daemon-reload\nsystemctl enable coopguard-watcher.service\nsystemctl restart coopguard-watcher.service\n")
	return b.String()
}
