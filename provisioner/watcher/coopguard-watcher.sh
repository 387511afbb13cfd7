#!/bin/sh
# coopguard agent watcher: runs on the sandbox VM under systemd, as root.
#
# coopguard's responder has no SSH path into the VM. It sets the instance
# metadata key coopguard-agents="stop <incident id>"; this script long-polls
# the metadata server for that key, ends the agents — their tmux servers
# (cloudcoop runs its agents in tmux: one session per repository, or the
# older session claude-agents), every other process of the agent users, and
# the running Docker containers — and reports through the guest attribute
# coopguard/agents: "stopped <incident id> <unix time>".
#
# Everything on the VM belongs to whoever controls the agents (they have
# passwordless sudo), so this is a courtesy: the responder stops the VM
# whatever happens here, and reads the report as the VM's word only. What
# this script guarantees is that nothing on the VM stalls it: every step is
# bounded by `timeout`, the tmux servers are asked in parallel, and a step
# that fails or hangs never holds back the report or the next poll.
#
# Agent users: cloudcoop creates no user of its own; its agents run as the
# account that SSHes in through OS Login, a regular user (UID >= 1000). So
# by default every user with a UID of 1000 or more, except nobody (65534),
# is an agent user. COOPGUARD_AGENT_USERS narrows that to a list. root and
# the watcher's own user are never an agent user whose processes it kills.
#
# Environment (set in /etc/default/coopguard-watcher or, for tests, the
# environment; the defaults are right on GCE):
#   GCE_METADATA_HOST       metadata server host:port
#   COOPGUARD_AGENT_USERS   space-separated agent user names or UIDs
#                           (default: every UID >= 1000 except 65534)
#   COOPGUARD_TMUX_DIRS     space-separated directories holding tmux-UID/ socket dirs
#   COOPGUARD_POLL_TIMEOUT  seconds of one long poll
#   COOPGUARD_STEP_TIMEOUT  seconds one step (a tmux server, pkill, docker) may take
#   COOPGUARD_DOCKER        the Docker CLI (default docker; empty: leave containers alone)
set -u

host="${GCE_METADATA_HOST:-metadata.google.internal}"
base="http://${host}/computeMetadata/v1/instance"
dirs="${COOPGUARD_TMUX_DIRS:-/tmp ${TMUX_TMPDIR:-}}"
timeout="${COOPGUARD_POLL_TIMEOUT:-300}"
step="${COOPGUARD_STEP_TIMEOUT:-2}"
docker="${COOPGUARD_DOCKER-docker}"
self=$(id -u)
agents=""

log() { printf 'coopguard-watcher: %s\n' "$*" >&2; }

# bounded runs a command for at most $step seconds, then kills it (KILL one
# second after TERM, for a command that ignores TERM).
bounded() { timeout -k 1 "$step" "$@"; }

# agent_uids prints the UIDs of the configured agent users, one a line;
# with none configured, nothing (every UID >= 1000 but 65534 is an agent's).
agent_uids() {
	for u in ${COOPGUARD_AGENT_USERS:-}; do
		case "$u" in
		# A name lookup may ask OS Login over the network: bounded too.
		*[!0-9]*) bounded id -u "$u" 2>/dev/null || log "agent user $u not found within ${step}s" ;;
		*) echo "$u" ;;
		esac
	done
}

# is_agent reports whether UID $1 is an agent user's ($agents: the
# configured users' UIDs, looked up once per stop).
is_agent() {
	if [ -z "${COOPGUARD_AGENT_USERS:-}" ]; then
		[ "$1" -ge 1000 ] && [ "$1" -ne 65534 ]
		return
	fi
	for a in $agents; do
		[ "$a" = "$1" ] && return 0
	done
	return 1
}

# stop_tmux kills, in parallel and each within $step seconds, every tmux
# server whose socket is in one of $dirs and owned by an agent user. A
# socket that never answers costs $step seconds, not the watcher.
stop_tmux() {
	n=0
	for d in $dirs; do
		for sock in "$d"/tmux-*/*; do
			[ -S "$sock" ] || continue
			owner=$(stat -c %u "$sock" 2>/dev/null) || continue
			if ! is_agent "$owner"; then
				log "skipped tmux socket $sock: owner $owner is not an agent user"
				continue
			fi
			n=$((n + 1))
			(bounded tmux -S "$sock" kill-server 2>/dev/null ||
				log "tmux server at $sock did not stop within ${step}s") &
		done
	done
	wait
	log "asked $n tmux server(s) to stop"
}

# stop_processes kills every process of the agent users (after their tmux
# servers, so nothing restarts them): agents run outside tmux too.
stop_processes() {
	if [ -n "${COOPGUARD_AGENT_USERS:-}" ]; then
		uids=$agents
	else
		uids=$(bounded ps -e -o uid= | sort -un)
	fi
	for u in $uids; do
		is_agent "$u" || continue
		if [ "$u" -eq 0 ] || [ "$u" -eq "$self" ]; then
			log "not ending the processes of UID $u: it is root or the watcher's own user"
			continue
		fi
		# Real and effective UID: an agent's setuid helper is still its own.
		bounded pkill -KILL -U "$u" &
		bounded pkill -KILL -u "$u" &
		log "ending the processes of UID $u"
	done
	wait
}

# stop_containers kills the running Docker containers (the agents start
# them); no Docker, or a Docker that does not answer, is no failure.
stop_containers() {
	[ -n "$docker" ] && command -v "$docker" >/dev/null 2>&1 || return 0
	if ! ids=$(bounded "$docker" ps -q 2>/dev/null); then
		log "docker ps failed or took over ${step}s: containers not stopped"
		return 0
	fi
	[ -n "$ids" ] || return 0
	# shellcheck disable=SC2086 # one argument per container id
	bounded "$docker" kill $ids >/dev/null 2>&1 ||
		log "docker kill failed or took over ${step}s"
	log "asked Docker to kill $(echo "$ids" | wc -l) container(s)"
}

# report writes the guest attribute coopguard/agents.
report() {
	curl -sS -f --max-time 10 -X PUT -H 'Metadata-Flavor: Google' --data "$1" \
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
		# tmux servers first, so none restarts an agent; then the
		# processes and the containers side by side.
		agents=$(agent_uids)
		stop_tmux
		stop_processes &
		stop_containers &
		wait
		report "stopped${incident:+ $incident} $(date +%s)"
		;;
	*)
		[ "$value" != "$last" ] && report "running $(date +%s)"
		;;
	esac
	last="$value"
done
