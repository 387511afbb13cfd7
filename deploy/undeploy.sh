#!/usr/bin/env bash
# deploy/undeploy.sh — remove what deploy.sh created (make undeploy):
# the dashboard, the Scheduler jobs, the functions, the topics and the dead-letter
# subscription, the IAM bindings (the fleet's folder and billing account's
# too), the service accounts coopguard runs as and the custom roles. It does not touch the sandbox (VM, network, secrets,
# alert policy, log sink) or the sandbox VM's service account: tear those
# down separately. Each step deletes only what exists, so re-running is
# harmless. DRY_RUN=1 prints the commands (see lib.sh).
set -euo pipefail
exec 3>&1
# shellcheck source=deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

check_settings

DASHBOARD=$(query "projects/$DRY_RUN_PROJECT_NUMBER/dashboards/dry-run" gcloud monitoring dashboards list --project="$PROJECT" \
	--filter='displayName="coopguard"' --format='value(name)' --limit=1)
if [[ -n $DASHBOARD ]]; then
	run gcloud monitoring dashboards delete "$DASHBOARD" --project="$PROJECT" --quiet
fi

describe_job() { run gcloud scheduler jobs describe "$1" --project="$PROJECT" --location="$SCHEDULER_LOCATION"; }
delete_job() { run gcloud scheduler jobs delete "$1" --project="$PROJECT" --location="$SCHEDULER_LOCATION" --quiet; }
for j in "${SCHEDULES[@]}"; do
	read -r name _ <<<"$j"
	remove "scheduler job $name" describe_job delete_job "$name"
done

describe_fn() { run gcloud functions describe "$1" --project="$PROJECT" --region="$REGION"; }
delete_fn() { run gcloud functions delete "$1" --project="$PROJECT" --region="$REGION" --quiet; }
for f in "${FUNCTIONS[@]}"; do
	read -r name _ <<<"$f"
	remove "function $name" describe_fn delete_fn "$name"
done

describe_sub() { run gcloud pubsub subscriptions describe "$1" --project="$PROJECT"; }
delete_sub() { run gcloud pubsub subscriptions delete "$1" --project="$PROJECT" --quiet; }
remove "subscription $SUB_DEAD_LETTER" describe_sub delete_sub "$SUB_DEAD_LETTER"

describe_topic() { run gcloud pubsub topics describe "$1" --project="$PROJECT"; }
delete_topic() { run gcloud pubsub topics delete "$1" --project="$PROJECT" --quiet; }
for t in "${TOPICS[@]}" "$TOPIC_DEAD_LETTER"; do
	remove "topic $t" describe_topic delete_topic "$t"
done

note "remove the IAM bindings"
# Every job's custom roles (a -keysource role whether or not a key source is
# set now: one may have been when deploy ran) and its Firestore role.
for job in "${JOBS[@]}"; do
	read -r role sa datastore _ <<<"$job"
	member="serviceAccount:$(sa_email "${!sa}")"
	for file in $(job_roles "$role"); do
		if [[ $file == *-identity ]]; then
			try gcloud iam service-accounts remove-iam-policy-binding "$COOPGUARD_SERVICE_ACCOUNT" --project="$PROJECT" \
				--member="$member" --role="projects/$PROJECT/roles/$(role_id "$file")" --all --quiet
			continue
		fi
		try gcloud projects remove-iam-policy-binding "$PROJECT" --member="$member" \
			--role="projects/$PROJECT/roles/$(role_id "$file")" --all --quiet
	done
	if [[ $datastore != - ]]; then
		try gcloud projects remove-iam-policy-binding "$PROJECT" --member="$member" --role="$datastore" --all --quiet
	fi
done
for sa in "${ACT_AS[@]}"; do
	try gcloud iam service-accounts remove-iam-policy-binding "$COOPGUARD_SERVICE_ACCOUNT" --project="$PROJECT" \
		--member="serviceAccount:$(sa_email "${!sa}")" --role=roles/iam.serviceAccountUser --all --quiet
done
if [[ -n ${COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET:-} ]]; then
	try gcloud secrets remove-iam-policy-binding "$COOPGUARD_ROTATION_KEY_SOURCE_CREDENTIAL_SECRET" --project="$PROJECT" \
		--member="serviceAccount:$(sa_email "$SA_ROTATOR")" --role=roles/secretmanager.secretAccessor --all --quiet
fi
if [[ -n ${COOPGUARD_REVOKE_CREDENTIAL_SECRET:-} ]]; then
	for sa in "$SA_RESPONDER" "$SA_COSTS"; do
		try gcloud secrets remove-iam-policy-binding "$COOPGUARD_REVOKE_CREDENTIAL_SECRET" --project="$PROJECT" \
			--member="serviceAccount:$(sa_email "$sa")" --role=roles/secretmanager.secretAccessor --all --quiet
	done
fi

retire_responder_keysource

# The fleet's grants to the provisioner (deploy.sh, "the fleet"): on the
# folder and the billing account, while its account still exists (a
# deleted account's bindings linger as deleted:serviceAccount:…). What
# Provision made in each sandbox project (coopguard's roles there and the
# job accounts' bindings) stays with that project: delete the project, or
# remove coopguard's roles there (gcloud iam roles list --project=P).
FLEET_FOLDER=${COOPGUARD_FLEET_FOLDER:-}
FLEET_BILLING=${COOPGUARD_FLEET_BILLING_ACCOUNT:-}
fleet_member="serviceAccount:$(sa_email "$SA_PROVISIONER")"
if [[ -n $FLEET_FOLDER ]]; then
	note "remove the provisioner's roles on the fleet's folder $FLEET_FOLDER"
	for role in roles/resourcemanager.projectCreator roles/iam.roleAdmin roles/resourcemanager.projectIamAdmin; do
		try gcloud resource-manager folders remove-iam-policy-binding "${FLEET_FOLDER#folders/}" \
			--member="$fleet_member" --role="$role" --all --quiet
	done
fi
if [[ -n $FLEET_BILLING ]]; then
	note "remove the provisioner's role on the fleet's billing account $FLEET_BILLING"
	try gcloud billing accounts remove-iam-policy-binding "${FLEET_BILLING#billingAccounts/}" \
		--member="$fleet_member" --role=roles/billing.user --quiet
fi

describe_sa() { run gcloud iam service-accounts describe "$1" --project="$PROJECT"; }
delete_sa() { run gcloud iam service-accounts delete "$1" --project="$PROJECT" --quiet; }
for job in "${JOBS[@]}"; do
	read -r _ sa _ <<<"$job"
	remove "service account ${!sa}" describe_sa delete_sa "$(sa_email "${!sa}")"
done
remove "service account $SA_INVOKER" describe_sa delete_sa "$(sa_email "$SA_INVOKER")"

# A deleted custom role lingers for 7 days (deleted: True); deploy.sh
# undeletes it if you deploy again within that time.
live_role() {
	if dry_run; then
		run gcloud iam roles describe "$1" --project="$PROJECT" --format='value(deleted)'
	else
		local deleted
		deleted=$(gcloud iam roles describe "$1" --project="$PROJECT" --format='value(deleted)') && [[ $deleted != True ]]
	fi
}
delete_role() { run gcloud iam roles delete "$1" --project="$PROJECT" --quiet; }
for job in "${JOBS[@]}"; do
	read -r role _ <<<"$job"
	for file in $(job_roles "$role"); do
		r=$(role_id "$file")
		remove "role $r" live_role delete_role "$r"
	done
done

note "the Firestore database ${COOPGUARD_FIRESTORE_DATABASE:-coopguard} is kept: it is the record of every incident (gcloud firestore databases delete --database=${COOPGUARD_FIRESTORE_DATABASE:-coopguard} removes it)"
note "done: coopguard is removed from $PROJECT; the sandbox itself is untouched"
