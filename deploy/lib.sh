# shellcheck shell=bash disable=SC2034  # (settings are used by the scripts that source this file)
# deploy/lib.sh — helpers and settings shared by deploy.sh and undeploy.sh.
# Sourced, not run.
#
# DRY_RUN=1 prints every gcloud command (one per line, shell-quoted) instead
# of running it; lines starting with '#' are comments. A dry run has no
# credentials, so a describe cannot tell whether a resource exists: for every
# describe-then-create/update step it prints the describe and then BOTH
# branches, each under a "# <resource>: if missing" / "if present" comment,
# and values read from GCP (project number, trigger subscriptions) are
# placeholders. deploy/gcloud_test.go runs every printed command.

# --- settings (environment overrides) --------------------------------------

: "${DRY_RUN:=0}"
PROJECT=${PROJECT:-${COOPGUARD_PROJECT:-}}
REGION=${REGION:-}
SCHEDULER_LOCATION=${SCHEDULER_LOCATION:-$REGION}
# The Cloud Scheduler jobs' schedules (cron syntax, in SCHEDULER_TIME_ZONE)
# default to config.Jobs' (deploy/jobs.sh): ROTATION_SCHEDULE daily at
# 03:00, FOLLOWUP_SCHEDULE every minute, Cloud Scheduler's finest
# granularity and the longest a contained incident waits between looks.
SCHEDULER_TIME_ZONE=${SCHEDULER_TIME_ZONE:-Etc/UTC}
# Upper bounds on instances per function (a storm of alerts must not fan
# out into hundreds of responders acting on the same VM).
MAX_INSTANCES_EVENT=${MAX_INSTANCES_EVENT:-5}
MAX_INSTANCES_HTTP=${MAX_INSTANCES_HTTP:-2}
# Optional IAM member allowed to call Provision and Status, e.g.
# user:me@example.com (project owners can call them anyway).
INVOKER=${INVOKER:-}

# Generated from shared/config (go generate ./deploy): the topics
# (TOPIC_*), the configured sandbox VM (SANDBOX_VM: the responder's and
# restorer's sandbox roles hold on it and its boot disk), the dead-letter
# topic and subscription, MAX_DELIVERY_ATTEMPTS, the invoker account
# (SA_INVOKER), and the jobs of config.Jobs: their service accounts (SA_*),
# role ids (ROLE_*) and files (JOB_ROLES_*), JOBS, ACT_AS, FUNCTIONS,
# SCHEDULES and the schedules' defaults, and CONFIG_ENV.
# shellcheck source=deploy/jobs.sh
source "$(dirname "${BASH_SOURCE[0]}")/jobs.sh"

# Placeholder project number used by dry runs (the real one is read from
# `gcloud projects describe`). The emulated deploy
# (test/emulator/deployreplay) sets the emulated project's number, so the
# conditions it replays name that project's secrets.
DRY_RUN_PROJECT_NUMBER=${DRY_RUN_PROJECT_NUMBER:-123456789012}
# The sandboxes a dry run pretends the coopguard-sandboxes condition names
# already (Provision added them): one by default, so the listing shows the
# widening; the emulated deploy of a fresh project sets none.
DRY_RUN_SANDBOXES=${DRY_RUN_SANDBOXES-other-sandbox}

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$DEPLOY_DIR/.." && pwd)

# --- helpers ----------------------------------------------------------------

die() {
	echo "deploy: $*" >&2
	exit 1
}

dry_run() { [[ $DRY_RUN == 1 ]]; }

# note TEXT: a comment line in the dry-run listing, a progress line otherwise.
note() {
	if dry_run; then
		echo "# $*"
	else
		echo "==> $*" >&2
	fi
}

# run CMD...: run a command, or print it shell-quoted on one line (DRY_RUN=1).
run() {
	if dry_run; then
		local line
		printf -v line '%q ' "$@"
		echo "${line% }"
	else
		"$@"
	fi
}

# query PLACEHOLDER CMD...: print a command's output; in a dry run print the
# command and then PLACEHOLDER stands for its output. Use as v=$(query ...):
# the dry-run listing goes to fd 3 (the script's stdout).
query() {
	local placeholder=$1
	shift
	if dry_run; then
		run "$@" >&3
		echo "$placeholder"
	else
		"$@"
	fi
}

# ensure LABEL DESCRIBE CREATE UPDATE [ARGS...]: describe-then-create/update.
# Each of DESCRIBE, CREATE, UPDATE is a function called with ARGS; DESCRIBE
# succeeds when the resource exists. A dry run prints the describe and both
# branches, as the block
#   # LABEL: does it exist?   the describe
#   # LABEL: if missing       the create branch
#   # LABEL: if present       the update branch
#   # LABEL: end
# which the emulated deploy (test/emulator/deployreplay) reads: it runs the
# describe and then the one branch its answer picks.
ensure() {
	local label=$1 describe=$2 create=$3 update=$4
	shift 4
	if dry_run; then
		note "$label: does it exist?"
		"$describe" "$@"
		note "$label: if missing"
		"$create" "$@"
		note "$label: if present"
		"$update" "$@"
		note "$label: end"
		return
	fi
	if "$describe" "$@" >/dev/null 2>&1; then
		note "$label: exists, updating"
		"$update" "$@"
	else
		note "$label: creating"
		"$create" "$@"
	fi
}

# remove LABEL DESCRIBE DELETE [ARGS...]: delete a resource if it exists (a
# dry run prints both commands).
remove() {
	local label=$1 describe=$2 delete=$3
	shift 3
	if dry_run; then
		note "$label: does it exist? if present:"
		"$describe" "$@"
		"$delete" "$@"
		return
	fi
	if "$describe" "$@" >/dev/null 2>&1; then
		note "$label: deleting"
		"$delete" "$@"
	else
		note "$label: already gone"
	fi
}

# role_id FILE: the custom role id of deploy/roles/FILE.yaml (its ROLE_*
# variable: rotator-keysource -> ROLE_ROTATOR_KEYSOURCE).
role_id() {
	local v=ROLE_${1^^}
	v=${v//-/_}
	[[ -n ${!v:-} ]] || die "deploy/roles/$1.yaml has no role id: set $v in deploy/lib.sh"
	echo "${!v}"
}

# job_roles ROLE: the role files of a job (JOB_ROLES_<ROLE>), one a line.
job_roles() {
	local v="JOB_ROLES_${1^^}[@]"
	printf '%s\n' "${!v}"
}

# --- IAM conditions ---------------------------------------------------------
# Each is written once, as a template in shared/config/iamconditions/
# (title=, description=, term=): Provision builds the same conditions from
# the same files, in Go (shared/config). An expression is one term per
# named resource, joined by " || ".

# condition_field NAME KEY: the KEY= value of template NAME.
condition_field() {
	local f=$REPO_ROOT/shared/config/iamconditions/$1 v
	v=$(sed -n "s/^$2=//p" "$f") || die "cannot read the IAM condition template $f"
	[[ -n $v ]] || die "$f has no $2= line"
	echo "$v"
}

# fill TEMPLATE KEY VALUE...: TEMPLATE with each {KEY} replaced by VALUE.
fill() {
	local s=$1
	shift
	while (($# >= 2)); do
		s=${s//"{$1}"/"$2"}
		shift 2
	done
	echo "$s"
}

# widen EXPRESSION TERM: EXPRESSION naming TERM's resource too (unchanged
# when it holds TERM already).
widen() {
	if [[ -z $1 ]]; then
		echo "$2"
	elif [[ $1 == *"$2"* ]]; then
		echo "$1"
	else
		echo "$1 || $2"
	fi
}

# try CMD...: run a removal that may find nothing to remove (a binding that
# is already gone); report instead of failing.
try() {
	if dry_run; then
		run "$@"
	elif ! "$@" >/dev/null 2>&1; then
		note "nothing to remove: ${*:1:4}"
	fi
}

# retire_responder_keysource: before coopguard's identities were split by
# job, the responder held coopguardResponderKeySource (adding versions to the
# managed secrets) and read the key source's credential. Take both back and
# delete that role, if it exists (a dry run prints the steps).
retire_responder_keysource() {
	local id=coopguardResponderKeySource deleted="" responder label
	responder="serviceAccount:$(sa_email "$SA_RESPONDER")"
	label="role $id (before the split by job)"
	if dry_run; then
		# The block ensure prints, without a create branch.
		note "$label: does it exist?"
		run gcloud iam roles describe "$id" --project="$PROJECT" --format='value(deleted)'
		note "$label: if present"
	elif ! deleted=$(gcloud iam roles describe "$id" --project="$PROJECT" --format='value(deleted)' 2>/dev/null); then
		return 0
	fi
	note "role $id is retired: the responder no longer adds secret versions or reads the key source's credential"
	try gcloud projects remove-iam-policy-binding "$PROJECT" --member="$responder" \
		--role="projects/$PROJECT/roles/$id" --all --quiet
	if [[ -n ${COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET:-} ]]; then
		try gcloud secrets remove-iam-policy-binding "$COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET" --project="$PROJECT" \
			--member="$responder" --role=roles/secretmanager.secretAccessor --all --quiet
	fi
	[[ $deleted == True ]] || run gcloud iam roles delete "$id" --project="$PROJECT" --quiet
	if dry_run; then
		note "$label: end"
	fi
}

# sa_email ID: a coopguard service account's email in PROJECT.
sa_email() { echo "$1@$PROJECT.iam.gserviceaccount.com"; }

# check_settings: PROJECT and REGION are required; say how to set them.
check_settings() {
	[[ -n $PROJECT ]] || die "PROJECT is not set: run make deploy PROJECT=my-project REGION=us-central1"
	[[ -n $REGION ]] || die "REGION is not set: run make deploy PROJECT=$PROJECT REGION=us-central1"
	[[ $PROJECT =~ ^[a-z][a-z0-9-]{4,28}[a-z0-9]$ ]] || die "PROJECT=$PROJECT is not a GCP project id (6-30 lowercase letters, digits, hyphens)"
	[[ $REGION =~ ^[a-z]+-[a-z]+[0-9]+$ ]] || die "REGION=$REGION is not a GCP region such as us-central1"
	if ! dry_run; then
		command -v gcloud >/dev/null || die "gcloud not found: install the Google Cloud CLI and run gcloud auth login"
	fi
	: "${COOPGUARD_ZONE:=$REGION-a}"
	: "${COOPGUARD_SERVICE_ACCOUNT:=cc-sandbox@$PROJECT.iam.gserviceaccount.com}"
	COOPGUARD_PROJECT=$PROJECT
	[[ $COOPGUARD_SERVICE_ACCOUNT != *-compute@developer.gserviceaccount.com ]] ||
		die "COOPGUARD_SERVICE_ACCOUNT is the default Compute service account: set a dedicated one (cloud.gcp.service_account)"
	export COOPGUARD_PROJECT COOPGUARD_ZONE COOPGUARD_SERVICE_ACCOUNT
}

# go_runtime: the Cloud Run functions Go runtime matching go.mod's go line
# (go 1.26.x -> go126); RUNTIME overrides.
go_runtime() {
	if [[ -n ${RUNTIME:-} ]]; then
		echo "$RUNTIME"
		return
	fi
	local v
	v=$(sed -n 's/^go \([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1\2/p' "$REPO_ROOT/go.mod")
	[[ -n $v ]] || die "no go line in $REPO_ROOT/go.mod: set RUNTIME=go126"
	echo "go$v"
}
