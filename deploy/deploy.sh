#!/usr/bin/env bash
# deploy/deploy.sh — deploy coopguard to a GCP project with gcloud, or
# converge an existing deployment (every step is describe-then-create/update
# or idempotent; re-running changes nothing that is already right).
#
#   PROJECT=my-project REGION=us-central1 deploy/deploy.sh      (make deploy)
#   DRY_RUN=1 ... deploy/deploy.sh     print every command instead (see lib.sh)
#
# Creates: the Pub/Sub topics (alerts, logs, rotation, incidents, follow-up,
# and a dead-letter topic with a subscription), the custom roles in deploy/roles/,
# one service account per job (config.Jobs, generated into deploy/jobs.sh)
# bound to its job's roles, the
# Eventarc account coopguard-invoker (and the sandbox VM's account if
# missing), the functions (Cloud Run functions, gen2), each running as its
# job's account, the dead-letter policy on their trigger subscriptions, the
# IAM that lets Monitoring, the log sink, Secret Manager and Pub/Sub publish
# where they must, and the Cloud Scheduler jobs of SCHEDULES.
set -euo pipefail
exec 3>&1
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

check_settings
RUNTIME=$(go_runtime)

# DEPLOY_WORKDIR keeps the staged source and the env file (the tests set it
# so the printed commands can be run afterwards); otherwise a temp dir.
if [[ -n ${DEPLOY_WORKDIR:-} ]]; then
	WORKDIR=$DEPLOY_WORKDIR
	mkdir -p "$WORKDIR"
else
	WORKDIR=$(mktemp -d)
	trap 'rm -rf "$WORKDIR"' EXIT
fi

# --- function source ---------------------------------------------------------
#
# The Go functions buildpack builds the package at the ROOT of the uploaded
# source: it moves the upload into serverless_function_source_code/, parses
# the *.go files of that directory for their package name and imports, and
# generates a main package that imports it (`_ "<module>"` plus
# funcframework.Start when the package imports
# github.com/GoogleCloudPlatform/functions-framework-go/functions, i.e. uses
# declarative registration). It does not read GOOGLE_FUNCTION_SOURCE (that
# variable picks a source file for Python and a few other languages only).
# Sources:
#   https://cloud.google.com/functions/docs/writing (Go: "your function must
#     be in a Go package at the root of your project ... cannot be in package
#     main")
#   https://github.com/GoogleCloudPlatform/buildpacks cmd/go/functions_framework
#     (lib.go: BuildFn, moduleAndPackageNames, createMainGoFile; the
#     declarative template) and its README (GOOGLE_FUNCTION_SOURCE: "only
#     applicable to some languages").
# coopguard's functions live in functions/, not at the module root, so deploy
# uploads a staged copy of the module whose root holds one extra file,
# deploy/functionroot/coopguard.go: package coopguard, importing ./functions
# (whose init registers every function) and the framework's functions
# package. deploy/buildpack_test.go generates the buildpack's main.go for the
# staged tree and builds it.
stage_source() {
	local src=$WORKDIR/source
	rm -rf "$src"
	mkdir -p "$src"
	cp "$REPO_ROOT/go.mod" "$REPO_ROOT/go.sum" "$src/"
	local d
	# deploy/roles: the provisioner creates the same custom roles in a
	# sandbox's own project.
	for d in functions provisioner shared deploy/roles; do
		(cd "$REPO_ROOT" && find "$d" -type f ! -name '*_test.go' ! -path '*/testdata/*' -print0) |
			(cd "$REPO_ROOT" && xargs -0 cp --parents -t "$src")
	done
	cp "$DEPLOY_DIR/functionroot/coopguard.go" "$src/coopguard.go"
	echo "$src"
}

# env_file: the functions' configuration (every COOPGUARD_* variable of
# CONFIG_ENV that is set here) as a YAML file for --env-vars-file.
env_file() {
	local f=$WORKDIR/env.yaml name v
	: >"$f"
	for name in "${CONFIG_ENV[@]}"; do
		[[ -n ${!name+set} ]] || continue
		v=${!name}
		v=${v//\\/\\\\}
		v=${v//\"/\\\"}
		v=${v//$'\n'/\\n}
		printf '%s: "%s"\n' "$name" "$v" >>"$f"
	done
	echo "$f"
}

SOURCE=$(stage_source)
ENV_FILE=$(env_file)
note "project $PROJECT, region $REGION, runtime $RUNTIME, source $SOURCE"

# --- APIs and service agents -----------------------------------------------

note "enable the APIs"
run gcloud services enable --project="$PROJECT" \
	cloudfunctions.googleapis.com run.googleapis.com cloudbuild.googleapis.com \
	artifactregistry.googleapis.com eventarc.googleapis.com pubsub.googleapis.com \
	cloudscheduler.googleapis.com secretmanager.googleapis.com compute.googleapis.com \
	logging.googleapis.com monitoring.googleapis.com iam.googleapis.com \
	cloudresourcemanager.googleapis.com firestore.googleapis.com

PROJECT_NUMBER=$(query "$DRY_RUN_PROJECT_NUMBER" gcloud projects describe "$PROJECT" --format='value(projectNumber)')
[[ $PROJECT_NUMBER =~ ^[0-9]+$ ]] || die "could not read the project number of $PROJECT (got '$PROJECT_NUMBER'): check gcloud auth login and the project id"

note "make sure the service agents exist (Secret Manager, Monitoring notifications, Pub/Sub)"
for svc in secretmanager.googleapis.com monitoring.googleapis.com pubsub.googleapis.com; do
	run gcloud beta services identity create --service="$svc" --project="$PROJECT"
done
AGENT_SECRETS="service-$PROJECT_NUMBER@gcp-sa-secretmanager.iam.gserviceaccount.com"
AGENT_MONITORING="service-$PROJECT_NUMBER@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
AGENT_PUBSUB="service-$PROJECT_NUMBER@gcp-sa-pubsub.iam.gserviceaccount.com"
# The log sink's writer identity: project sinks write as the project's
# Logging service account.
AGENT_LOGGING=$(query "service-$PROJECT_NUMBER@gcp-sa-logging.iam.gserviceaccount.com" \
	gcloud logging settings describe --project="$PROJECT" --format='value(loggingServiceAccountId)')

# --- Cloud Audit Logs log ids are reserved ----------------------------------------
# Detection believes an entry only under the project's cloudaudit.googleapis.com
# log names, trusting that Cloud Logging refuses a caller's write there (no
# public reference says so: test/emulator/FIDELITY.md). Check it on this
# project: the write must fail. Its payload is JSON marked as a probe, never
# an AuditLog, so even accepted it is no usable forged entry (detect.Genuine
# reads only AuditLog payloads).
PROBE_LOG='cloudaudit.googleapis.com%2Factivity'
PROBE_PAYLOAD='{"coopguard-probe":"deploy checks that callers cannot write Cloud Audit Logs log ids; not an audit entry"}'
note "probe: a caller's write to $PROBE_LOG must be refused"
if dry_run; then
	run gcloud logging write "$PROBE_LOG" "$PROBE_PAYLOAD" --payload-type=json --severity=INFO --project="$PROJECT"
elif gcloud logging write "$PROBE_LOG" "$PROBE_PAYLOAD" --payload-type=json --severity=INFO --project="$PROJECT" >/dev/null 2>&1; then
	die "Cloud Logging ACCEPTED a write to $PROBE_LOG in $PROJECT: anyone holding logging.logEntries.create (the sandbox's account) can forge audit entries there, and coopguard's detection cannot tell them from genuine ones. Do not rely on coopguard's detection in this project; report it (README: Trust model)"
fi

# --- topics -------------------------------------------------------------------

describe_topic() { run gcloud pubsub topics describe "$1" --project="$PROJECT"; }
create_topic() { run gcloud pubsub topics create "$1" --project="$PROJECT" --labels=coopguard=true; }
update_topic() { run gcloud pubsub topics update "$1" --project="$PROJECT" --update-labels=coopguard=true; }
for t in "${TOPICS[@]}" "$TOPIC_DEAD_LETTER"; do
	ensure "topic $t" describe_topic create_topic update_topic "$t"
done

describe_sub() { run gcloud pubsub subscriptions describe "$1" --project="$PROJECT"; }
create_dead_letter_sub() {
	run gcloud pubsub subscriptions create "$1" --project="$PROJECT" --topic="$TOPIC_DEAD_LETTER" \
		--message-retention-duration=7d --expiration-period=never --labels=coopguard=true
}
update_dead_letter_sub() {
	run gcloud pubsub subscriptions update "$1" --project="$PROJECT" \
		--message-retention-duration=7d --expiration-period=never --update-labels=coopguard=true
}
ensure "subscription $SUB_DEAD_LETTER" describe_sub create_dead_letter_sub update_dead_letter_sub "$SUB_DEAD_LETTER"

# --- incident store ---------------------------------------------------------------

# coopguard's record of incidents: a Firestore database of its own (Native
# mode, in the functions' region), so a (default) database the project may
# already use, possibly in Datastore mode, is left alone.
FIRESTORE_DATABASE=${COOPGUARD_FIRESTORE_DATABASE:-coopguard}
describe_database() { run gcloud firestore databases describe --database="$1" --project="$PROJECT"; }
create_database() {
	run gcloud firestore databases create --database="$1" --project="$PROJECT" \
		--location="$REGION" --type=firestore-native
}
keep_database() { note "Firestore database $1: kept as it is (its location and mode cannot change)"; }
ensure "Firestore database $FIRESTORE_DATABASE" describe_database create_database keep_database "$FIRESTORE_DATABASE"

# --- custom roles ---------------------------------------------------------------

describe_role() { run gcloud iam roles describe "$1" --project="$PROJECT" --format='value(deleted)'; }
create_role() { run gcloud iam roles create "$1" --project="$PROJECT" --file="$2"; }
update_role() {
	# A role deleted less than 7 days ago still exists (deleted: True) and
	# cannot be created again: undelete it, then update it.
	if dry_run; then
		note "role $1: if it was deleted"
		run gcloud iam roles undelete "$1" --project="$PROJECT"
	elif [[ $(gcloud iam roles describe "$1" --project="$PROJECT" --format='value(deleted)') == True ]]; then
		run gcloud iam roles undelete "$1" --project="$PROJECT"
	fi
	run gcloud iam roles update "$1" --project="$PROJECT" --file="$2" --quiet
}
KEY_SOURCE=${COOPGUARD_ROTATION_KEY_SOURCE_URL:-}
# Every job's role files; a -keysource role only when a key source is set.
for job in "${JOBS[@]}"; do
	read -r role _ <<<"$job"
	for file in $(job_roles "$role"); do
		[[ $file != *-keysource || -n $KEY_SOURCE ]] || continue
		id=$(role_id "$file")
		ensure "role $id" describe_role create_role update_role "$id" "$DEPLOY_DIR/roles/$file.yaml"
	done
done

# --- service accounts -------------------------------------------------------------

describe_sa() { run gcloud iam service-accounts describe "$1" --project="$PROJECT"; }
create_sa() { run gcloud iam service-accounts create "${1%@*}" --project="$PROJECT" --display-name="$2"; }
update_sa() { run gcloud iam service-accounts update "$1" --project="$PROJECT" --display-name="$2"; }
for job in "${JOBS[@]}"; do
	read -r _ sa _ display <<<"$job"
	email=$(sa_email "${!sa}")
	ensure "service account $email" describe_sa create_sa update_sa "$email" "$display"
done
INVOKER_SA=$(sa_email "$SA_INVOKER")
ensure "service account $INVOKER_SA" describe_sa create_sa update_sa "$INVOKER_SA" "coopguard event delivery (Eventarc triggers)"
# The sandbox VM's own dedicated account (cloud.gcp.service_account): made
# if missing, with no roles (cloudcoop grants it what the agents need).
SANDBOX_SA=$COOPGUARD_SERVICE_ACCOUNT
if [[ $SANDBOX_SA == *@"$PROJECT".iam.gserviceaccount.com ]]; then
	describe_sandbox_sa() { describe_sa "$@"; }
	create_sandbox_sa() { create_sa "$@"; }
	keep_sandbox_sa() { note "service account $1: kept as it is"; }
	ensure "sandbox service account $SANDBOX_SA" describe_sandbox_sa create_sandbox_sa keep_sandbox_sa "$SANDBOX_SA" "cloudcoop sandbox VM"
fi

# --- IAM ----------------------------------------------------------------------------

# The managed secrets: a job's Secret Manager permissions hold on those
# secrets and their versions only (an IAM condition on resource.name, which
# Secret Manager writes with the project number), never on another secret
# of the project.
IFS=, read -r -a MANAGED <<<"${COOPGUARD_SECRETS:-anthropic-api-key}"
# managed_condition: the IAM condition matching the managed secrets and
# their versions, titled for job $1 (shared/config/iamconditions/secrets).
managed_condition() {
	local expr="" s term
	term=$(condition_field secrets term)
	for s in "${MANAGED[@]}"; do
		s=${s//[[:space:]]/}
		[[ -n $s ]] || continue
		expr=$(widen "$expr" "$(fill "$term" number "$PROJECT_NUMBER" secret "$s")")
	done
	echo "expression=$expr,title=$(fill "$(condition_field secrets title)" job "$1"),description=$(condition_field secrets description)"
}
# bind MEMBER ROLE [CONDITION]: a project binding, unconditional by default.
bind() {
	run gcloud projects add-iam-policy-binding "$PROJECT" --member="$1" --role="$2" --condition="${3:-None}" --quiet
}

# The sandboxes: a job's changes to a VM (its -sandbox role) hold on the
# sandboxes' own instances and boot disks only, named in the condition
# shared/config/iamconditions/sandboxes (coopguard-sandboxes). deploy names
# the configured sandbox; Provision adds each sandbox it builds under
# another name, from the same template.
SANDBOX_TITLE=$(condition_field sandboxes title)
SANDBOX_DESCRIPTION=$(condition_field sandboxes description)
# sandbox_expr NAME...: the CEL expression naming those sandboxes'
# instances and disks in COOPGUARD_ZONE, each once, in order.
sandbox_expr() {
	local expr="" n term
	term=$(condition_field sandboxes term)
	for n in "$@"; do
		expr=$(widen "$expr" "$(fill "$term" project "$PROJECT" zone "$COOPGUARD_ZONE" name "$n")")
	done
	echo "$expr"
}
# bind_sandbox MEMBER ROLE: bind ROLE under coopguard-sandboxes naming the
# configured sandbox and every sandbox the current condition names (a dry
# run cannot read it: DRY_RUN_SANDBOXES stand for those Provision added). A
# condition names a sandbox when it holds the sandbox's term, so nothing is
# parsed: the current expression, widened by the configured sandbox's term.
# A condition cannot be edited in place: bind the wider one, then remove
# the narrower.
bind_sandbox() {
	local current term wider="" old
	# shellcheck disable=SC2086  # names are words without spaces
	current=$(query "$(sandbox_expr $DRY_RUN_SANDBOXES)" gcloud projects get-iam-policy "$PROJECT" --flatten='bindings[]' \
		--filter="bindings.role=\"$2\" AND bindings.members:\"$1\" AND bindings.condition.title=$SANDBOX_TITLE" \
		--format='value(bindings.condition.expression)')
	term=$(sandbox_expr "$SANDBOX_VM")
	if [[ $current == *"$term"* ]]; then
		note "${2##*/}: its condition names sandbox $SANDBOX_VM already"
		return
	fi
	while IFS= read -r old; do
		[[ -z $old ]] || wider=$(widen "$wider" "$old")
	done <<<"$current"
	bind "$1" "$2" "expression=$(widen "$wider" "$term"),title=$SANDBOX_TITLE,description=$SANDBOX_DESCRIPTION"
	while IFS= read -r old; do
		[[ -z $old ]] || try gcloud projects remove-iam-policy-binding "$PROJECT" --member="$1" --role="$2" \
			--condition="expression=$old,title=$SANDBOX_TITLE,description=$SANDBOX_DESCRIPTION" --quiet
	done <<<"$current"
}

note "grant each job its roles: its own, its -secrets role on the managed secrets, its -sandbox role on the sandboxes, its -identity role on the sandbox's account, its Firestore role"
for job in "${JOBS[@]}"; do
	read -r role sa datastore _ <<<"$job"
	member="serviceAccount:$(sa_email "${!sa}")"
	for file in $(job_roles "$role"); do
		id="projects/$PROJECT/roles/$(role_id "$file")"
		case $file in
		"$role") bind "$member" "$id" ;;
		*-secrets) bind "$member" "$id" "$(managed_condition "$role")" ;;
		*-sandbox) bind_sandbox "$member" "$id" ;;
		*-keysource)
			# Adding a version is checked on the secret (the request's
			# parent), so the condition names the secrets too.
			[[ -n $KEY_SOURCE ]] || continue
			note "key source configured: the $role may add versions to the managed secrets"
			bind "$member" "$id" "$(managed_condition "$role")"
			;;
		*-identity)
			# On the sandbox's own account, never the project: containment
			# disables that account (and deletes its keys), restore enables it.
			run gcloud iam service-accounts add-iam-policy-binding "$SANDBOX_SA" --project="$PROJECT" \
				--member="$member" --role="$id" --condition=None --quiet
			;;
		esac
	done
	# The incident store; the sandbox's account gets no Firestore role
	# (posture checks that).
	[[ $datastore == - ]] || bind "$member" "$datastore"
done

# The sandbox VM's account: the jobs of ACT_AS may act as that one account
# only (creating a VM that runs as it, changing that VM's metadata).
for sa in "${ACT_AS[@]}"; do
	run gcloud iam service-accounts add-iam-policy-binding "$SANDBOX_SA" --project="$PROJECT" \
		--member="serviceAccount:$(sa_email "${!sa}")" --role=roles/iam.serviceAccountUser --condition=None --quiet
done

# A deployment from before the split by job: the responder's key-source role
# and credential grant go (the rotator's are granted below).
retire_responder_keysource

# Each credential secret is readable by the one job that uses it.
CRED=${COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET:-}
if [[ -n $KEY_SOURCE && -n $CRED ]]; then
	note "key source: the rotator, and no other account, may read its credential in secret $CRED"
	run gcloud secrets add-iam-policy-binding "$CRED" --project="$PROJECT" \
		--member="serviceAccount:$(sa_email "$SA_ROTATOR")" --role=roles/secretmanager.secretAccessor --condition=None --quiet
fi
REVOKE_CRED=${COOPGUARD_REVOKE_CREDENTIAL_SECRET:-}
if [[ -n ${COOPGUARD_REVOKE_PROVIDER:-} && -n $REVOKE_CRED ]]; then
	note "provider revocation: the responder and the cost watch (which reads the usage report with it), and no other account, may read the provider credential in secret $REVOKE_CRED"
	for sa in "$SA_RESPONDER" "$SA_COSTS"; do
		run gcloud secrets add-iam-policy-binding "$REVOKE_CRED" --project="$PROJECT" \
			--member="serviceAccount:$(sa_email "$sa")" --role=roles/secretmanager.secretAccessor --condition=None --quiet
	done
fi

note "service agents publish to their topics; the jobs that report incidents publish them (custom roles)"
grant_publisher() {
	run gcloud pubsub topics add-iam-policy-binding "$1" --project="$PROJECT" \
		--member="serviceAccount:$2" --role=roles/pubsub.publisher --quiet
}
grant_publisher "$TOPIC_ALERTS" "$AGENT_MONITORING"
grant_publisher "$TOPIC_LOGS" "$AGENT_LOGGING"
grant_publisher "$TOPIC_ROTATION" "$AGENT_SECRETS"
grant_publisher "$TOPIC_DEAD_LETTER" "$AGENT_PUBSUB"
# A budget's Pub/Sub topic: its creator (Provision) needs
# pubsub.topics.setIamPolicy on it, and Cloud Billing then publishes to it
# (https://cloud.google.com/billing/docs/how-to/budgets-programmatic-notifications).
# Granted on that one topic only.
run gcloud pubsub topics add-iam-policy-binding "$TOPIC_BUDGETS" --project="$PROJECT" \
	--member="serviceAccount:$(sa_email "$SA_PROVISIONER")" --role=roles/pubsub.admin --quiet
# Sinks made before Logging used the project's account may write as their
# own identity: grant every sink that routes to the logs topic.
SINK_WRITERS=$(query "serviceAccount:$AGENT_LOGGING" gcloud logging sinks list --project="$PROJECT" \
	--filter="destination:topics/$TOPIC_LOGS" --format='value(writerIdentity)')
for w in $SINK_WRITERS; do
	if [[ $w != "serviceAccount:$AGENT_LOGGING" ]] || dry_run; then
		grant_publisher "$TOPIC_LOGS" "${w#serviceAccount:}"
	fi
done

# --- the fleet: sandboxes in projects of their own ---------------------------------
# With [coopguard.fleet] folder set, Provision creates each sandbox's project
# under that folder (becoming its owner, as any project's creator), links it
# to the billing account, creates coopguard's custom roles there and binds
# the jobs to them. The provisioner gets exactly that, on the folder and the
# billing account only: create projects, create roles and set IAM policies
# in projects under the folder (an adopted project too), link billing.
FLEET_FOLDER=${COOPGUARD_FLEET_FOLDER:-}
FLEET_BILLING=${COOPGUARD_FLEET_BILLING_ACCOUNT:-}
if [[ -n $FLEET_FOLDER ]]; then
	# The forms (folders/NUMBER, billingAccounts/XXXXXX-XXXXXX-XXXXXX) are
	# checked by coopguard's config ([coopguard.fleet]).
	[[ -n $FLEET_BILLING ]] || die "COOPGUARD_FLEET_BILLING_ACCOUNT is required with COOPGUARD_FLEET_FOLDER: the billing account sandbox projects are linked to (gcloud billing accounts list)"
	note "fleet: the provisioner creates sandbox projects under $FLEET_FOLDER and links them to $FLEET_BILLING"
	fleet_member="serviceAccount:$(sa_email "$SA_PROVISIONER")"
	for role in roles/resourcemanager.projectCreator roles/iam.roleAdmin roles/resourcemanager.projectIamAdmin; do
		run gcloud resource-manager folders add-iam-policy-binding "${FLEET_FOLDER#folders/}" \
			--member="$fleet_member" --role="$role" --condition=None --quiet
	done
	run gcloud billing accounts add-iam-policy-binding "${FLEET_BILLING#billingAccounts/}" \
		--member="$fleet_member" --role=roles/billing.user --quiet
fi

# --- functions ----------------------------------------------------------------------

for f in "${FUNCTIONS[@]}"; do
	read -r name entry trigger sa <<<"$f"
	email=$(sa_email "${!sa}")
	common=(--gen2 --project="$PROJECT" --region="$REGION" --runtime="$RUNTIME" --source="$SOURCE"
		--entry-point="$entry" --service-account="$email" --env-vars-file="$ENV_FILE"
		--memory=256Mi --timeout=540s --no-allow-unauthenticated --quiet)
	if [[ $trigger == http ]]; then
		note "function $name ($entry, HTTP, authenticated)"
		run gcloud functions deploy "$name" "${common[@]}" --trigger-http \
			--ingress-settings=all --max-instances="$MAX_INSTANCES_HTTP"
		if [[ -n $INVOKER ]]; then
			run gcloud functions add-invoker-policy-binding "$name" --project="$PROJECT" --region="$REGION" --member="$INVOKER"
		fi
	else
		topic=${!trigger}
		note "function $name ($entry, topic $topic, retried, internal only)"
		run gcloud functions deploy "$name" "${common[@]}" --trigger-topic="$topic" --retry \
			--trigger-service-account="$INVOKER_SA" --ingress-settings=internal-only \
			--max-instances="$MAX_INSTANCES_EVENT"
		run gcloud functions add-invoker-policy-binding "$name" --project="$PROJECT" --region="$REGION" \
			--member="serviceAccount:$INVOKER_SA"
		# Undeliverable events go to the dead-letter topic after
		# MAX_DELIVERY_ATTEMPTS; the trigger's subscription is Eventarc's.
		trig=$(query "projects/$PROJECT/locations/$REGION/triggers/$name-000000" gcloud functions describe "$name" \
			--project="$PROJECT" --region="$REGION" --format='value(eventTrigger.trigger)')
		sub=$(query "projects/$PROJECT/subscriptions/eventarc-$REGION-$name-000000-sub-000" gcloud eventarc triggers describe "${trig##*/}" \
			--project="$PROJECT" --location="$REGION" --format='value(transport.pubsub.subscription)')
		[[ -n $sub ]] || die "function $name has no trigger subscription: check gcloud eventarc triggers list --location=$REGION"
		run gcloud pubsub subscriptions update "$sub" --dead-letter-topic="projects/$PROJECT/topics/$TOPIC_DEAD_LETTER" \
			--max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS" --min-retry-delay=10s --max-retry-delay=600s
		run gcloud pubsub subscriptions add-iam-policy-binding "$sub" \
			--member="serviceAccount:$AGENT_PUBSUB" --role=roles/pubsub.subscriber --quiet
	fi
done

# --- scheduler -------------------------------------------------------------------------

# Each job of SCHEDULES publishes the message Cloud Scheduler sends (the body
# and the coopguard-job attribute, nothing else) with the Cloud Scheduler
# service agent's own publish permission. FinishIncidents' job carries the
# containments' follow-up (TERMINATED, snapshot, evidence): one look per
# open incident every minute, so no function holds a request while GCP works.
describe_job() { run gcloud scheduler jobs describe "$1" --project="$PROJECT" --location="$SCHEDULER_LOCATION"; }
# scheduler_job VERB ATTRIBUTES_FLAG NAME SCHEDULE TOPIC ENTRY JOB: create or
# update the Pub/Sub job NAME publishing {"reason":"scheduled"} with
# attribute coopguard-job=JOB to TOPIC on SCHEDULE (cron, in
# SCHEDULER_TIME_ZONE), which triggers the function ENTRY.
scheduler_job() {
	run gcloud scheduler jobs "$1" pubsub "$3" --project="$PROJECT" --location="$SCHEDULER_LOCATION" \
		--schedule="$4" --time-zone="$SCHEDULER_TIME_ZONE" --topic="projects/$PROJECT/topics/$5" \
		--message-body='{"reason":"scheduled"}' --description="coopguard: trigger $6" "--$2=coopguard-job=$7"
}
create_job() { scheduler_job create attributes "$@"; }
update_job() { scheduler_job update update-attributes "$@"; }
for j in "${SCHEDULES[@]}"; do
	read -r name schedule topic entry attr <<<"$j"
	ensure "scheduler job $name" describe_job create_job update_job \
		"$name" "${!schedule}" "${!topic}" "$entry" "$attr"
done

# --- dashboard --------------------------------------------------------------------------

# Dashboards have server-chosen ids: find coopguard's by display name.
DASHBOARD=$(query "projects/$DRY_RUN_PROJECT_NUMBER/dashboards/dry-run" gcloud monitoring dashboards list --project="$PROJECT" \
	--filter='displayName="coopguard"' --format='value(name)' --limit=1)
has_dashboard() { [[ -n $DASHBOARD ]]; }
create_dashboard() { run gcloud monitoring dashboards create --project="$PROJECT" --config-from-file="$DEPLOY_DIR/dashboard.json"; }
update_dashboard() { run gcloud monitoring dashboards update "$DASHBOARD" --project="$PROJECT" --config-from-file="$DEPLOY_DIR/dashboard.json"; }
ensure "dashboard coopguard (incidents, containment seconds, sandbox CPU, sink export errors, dead-letter depth)" \
	has_dashboard create_dashboard update_dashboard

note "done: coopguard is deployed in $PROJECT ($REGION). Next: curl the Provision function (README, Deploy)"
