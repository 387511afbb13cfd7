#!/bin/sh
# coopguard agent watcher: runs on the sandbox VM under systemd.
#
# coopguard's responder has no SSH path into the VM. It sets the instance
# metadata key coopguard-agents="stop <incident id>"; this script long-polls
# the metadata server for that key, kills every tmux server on the machine
# (cloudcoop runs its agents in tmux: one session per repository, or the
# older session claude-agents), and reports through the guest attribute
# coopguard/agents: "stopped <incident id> <unix time>".
#
# Environment (for tests; the defaults are right on GCE):
#   GCE_METADATA_HOST      metadata server host:port
#   COOPGUARD_TMUX_DIRS    space-separated directories holding tmux-UID/ socket dirs
#   COOPGUARD_POLL_TIMEOUT seconds of one long poll
set -u

host="${GCE_METADATA_HOST:-metadata.google.internal}"
base="http://${host}/computeMetadata/v1/instance"
dirs="${COOPGUARD_TMUX_DIRS:-/tmp ${TMUX_TMPDIR:-}}"
timeout="${COOPGUARD_POLL_TIMEOUT:-300}"

log() { printf 'coopguard-watcher: %s\n' "$*" >&2; }

# stop_agents kills every tmux server whose socket is in one of $dirs.
stop_agents() {
	killed=0
	for d in $dirs; do
		for sock in "$d"/tmux-*/*; do
			[ -S "$sock" ] || continue
			if tmux -S "$sock" kill-server 2>/dev/null; then
				killed=$((killed + 1))
			fi
		done
	done
	log "stopped $killed tmux server(s)"
}

# report writes the guest attribute coopguard/agents.
report() {
	curl -sS -f -X PUT -H 'Metadata-Flavor: Google' --data "$1" \
		"${base}/guest-attributes/coopguard/agents" >/dev/null ||
		log "could not write guest attribute coopguard/agents"
}

etag=""
last=""
while :; do
	hdrs=$(mktemp)
	value=$(curl -sS -f -D "$hdrs" -H 'Metadata-Flavor: Google' \
		--max-time $((timeout + 10)) \
		"${base}/attributes/coopguard-agents?wait_for_change=true&timeout_sec=${timeout}&last_etag=${etag:-0}")
	rc=$?
	etag=$(tr -d '\r' <"$hdrs" | awk 'tolower($1) == "etag:" { print $2 }')
	rm -f "$hdrs"
	if [ "$rc" -ne 0 ]; then
		# Key missing or server unreachable: back off, then poll again.
		etag=""
		sleep 5
		continue
	fi
	case "$value" in
	stop | stop\ *)
		# Kill on every poll that says stop: an agent restarted by hand
		# while the flag is set is stopped again.
		incident="${value#stop}"
		incident="${incident# }"
		stop_agents
		report "stopped${incident:+ $incident} $(date +%s)"
		;;
	*)
		[ "$value" != "$last" ] && report "running $(date +%s)"
		;;
	esac
	last="$value"
done
