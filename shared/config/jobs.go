package config

import (
	"reflect"
	"strings"
)

// RoleKind is one of a job's custom role files, named by where deploy binds
// it: deploy/roles/<job>.yaml on the project, <job>-<kind>.yaml on
// narrower resources.
type RoleKind string

// The kinds of role file a job may have.
const (
	// RoleProject is the job's own role, bound on the project.
	RoleProject RoleKind = ""
	// RoleSecrets is bound under a condition naming the managed secrets
	// and their versions.
	RoleSecrets RoleKind = "secrets"
	// RoleSandbox is bound under the condition SandboxCondition builds,
	// naming the sandboxes' instances and boot disks.
	RoleSandbox RoleKind = "sandbox"
	// RoleIdentity is bound on a sandbox's own service account only.
	RoleIdentity RoleKind = "identity"
	// RoleKeySource is bound on the managed secrets, only when a key
	// source is configured.
	RoleKeySource RoleKind = "keysource"
)

// roleIDSuffix is how each kind ends a custom role id.
var roleIDSuffix = map[RoleKind]string{
	RoleProject: "", RoleSecrets: "Secrets", RoleSandbox: "Sandbox", RoleIdentity: "Identity", RoleKeySource: "KeySource",
}

// The jobs' names (Job.Role).
const (
	JobResponder   = "responder"
	JobRestorer    = "restorer"
	JobReader      = "reader"
	JobRotator     = "rotator"
	JobProvisioner = "provisioner"
	JobCosts       = "costs"
	JobReviewer    = "reviewer"
)

// The coopguard-job attribute values of the Cloud Scheduler jobs' messages.
const (
	SchedulerRotateKeys      = "rotate-keys"
	SchedulerFinishIncidents = "finish-incidents"
	SchedulerWatchCosts      = "watch-costs"
	SchedulerReview          = "weekly-review"
)

// Function is one coopguard function as deploy deploys it.
type Function struct {
	// Name is the entry point (functions/register.go), e.g. HandleAlert.
	Name string
	// Service is the deployed Cloud Run function's name.
	Service string
	// Topic is the toml key of the Topics field whose topic triggers the
	// function (through Eventarc); empty for an HTTP function.
	Topic string
	// Schedule, when set, is the Cloud Scheduler job publishing to Topic.
	Schedule *Schedule
}

// Schedule is a Cloud Scheduler job with a Pub/Sub target: it has the
// function's Service name and publishes {"reason":"scheduled"} with the
// attribute coopguard-job=Attr on Cron.
type Schedule struct {
	// Cron is the default schedule (cron syntax, in deploy's
	// SCHEDULER_TIME_ZONE).
	Cron string
	// Attr is the coopguard-job attribute value the function expects.
	Attr string
}

// HTTP reports whether f is triggered by HTTP requests.
func (f Function) HTTP() bool { return f.Topic == "" }

// Job is one of coopguard's identities: a service account, the functions
// deployed as it, its custom role files and its access to the incident
// store.
type Job struct {
	// Role is the job's name and the stem of its role files
	// (deploy/roles/<Role>.yaml, <Role>-<kind>.yaml).
	Role string
	// Account is the service account id the job's functions run as.
	Account string
	// Title is the account's display name.
	Title string
	// Functions are deployed as Account.
	Functions []Function
	// Roles are the job's role files (RoleProject always among them).
	Roles []RoleKind
	// Datastore is the predefined Firestore role on the project: the
	// incident store, and for the provisioner the sandbox registry
	// (store.Fleet), which only its converges write.
	Datastore string
	// ActAs marks the jobs that act as the sandbox VM's own account
	// (roles/iam.serviceAccountUser on it): creating the VM running as
	// it, changing that VM's metadata.
	ActAs bool
}

// Jobs declares coopguard's jobs: which function runs as which account, on
// which trigger, with which role files and Firestore role. It is the one
// place these are written: deploy/jobs.sh (what deploy.sh deploys) is
// generated from it, and the functions' registration, `coopguard serve`,
// Provision's grants and the emulated project read it.
var Jobs = []Job{
	{
		Role: JobResponder, Account: AccountResponder,
		Title: "coopguard responder: contains incidents (HandleAlert, HandleLogEntry, FinishIncidents)",
		Functions: []Function{
			{Name: "HandleAlert", Service: "coopguard-handle-alert", Topic: "alerts"},
			{Name: "HandleLogEntry", Service: "coopguard-handle-log-entry", Topic: "logs"},
			// FinishIncidents carries on the responder's containments (the
			// stop, the snapshot, the evidence), one look every minute.
			{Name: "FinishIncidents", Service: "coopguard-finish-incidents", Topic: "followup",
				Schedule: &Schedule{Cron: "* * * * *", Attr: SchedulerFinishIncidents}},
		},
		Roles:     []RoleKind{RoleProject, RoleSecrets, RoleSandbox, RoleIdentity},
		Datastore: "roles/datastore.user",
		ActAs:     true,
	},
	{
		Role: JobRestorer, Account: AccountRestorer,
		Title:     "coopguard restorer: undoes a containment (Resolve)",
		Functions: []Function{{Name: "Resolve", Service: "coopguard-resolve"}},
		Roles:     []RoleKind{RoleProject, RoleSecrets, RoleSandbox, RoleIdentity},
		Datastore: "roles/datastore.user",
		ActAs:     true,
	},
	{
		Role: JobReader, Account: AccountReader,
		Title: "coopguard reader: reads only (Status, Posture)",
		Functions: []Function{
			{Name: "Status", Service: "coopguard-status"},
			{Name: "Posture", Service: "coopguard-posture"},
		},
		Roles:     []RoleKind{RoleProject, RoleSecrets},
		Datastore: "roles/datastore.viewer",
	},
	{
		Role: JobRotator, Account: AccountRotator,
		Title: "coopguard rotator: rotates keys, scheduled posture (RotateKeys)",
		Functions: []Function{
			// Daily at 03:00; Secret Manager's SECRET_ROTATE notifications
			// arrive on the same topic.
			{Name: "RotateKeys", Service: "coopguard-rotate-keys", Topic: "rotation",
				Schedule: &Schedule{Cron: "0 3 * * *", Attr: SchedulerRotateKeys}},
		},
		Roles:     []RoleKind{RoleProject, RoleSecrets, RoleIdentity, RoleKeySource},
		Datastore: "roles/datastore.user",
	},
	{
		Role: JobProvisioner, Account: AccountProvisioner,
		Title:     "coopguard provisioner: creates the sandbox (Provision)",
		Functions: []Function{{Name: "Provision", Service: "coopguard-provision"}},
		Roles:     []RoleKind{RoleProject},
		Datastore: "roles/datastore.user",
		ActAs:     true,
	},
	{
		Role: JobCosts, Account: AccountCosts,
		Title: "coopguard costs: budgets and model spend (HandleBudget, WatchCosts)",
		Functions: []Function{
			// Cloud Billing's budget notifications, several a day.
			{Name: "HandleBudget", Service: "coopguard-handle-budget", Topic: "budgets"},
			// The model provider's usage report, every 15 minutes.
			{Name: "WatchCosts", Service: "coopguard-watch-costs", Topic: "costwatch",
				Schedule: &Schedule{Cron: "*/15 * * * *", Attr: SchedulerWatchCosts}},
		},
		// It contains and quarantines as the responder does, so it has
		// the same role kinds (and reads the revocation credential).
		Roles:     []RoleKind{RoleProject, RoleSecrets, RoleSandbox, RoleIdentity},
		Datastore: "roles/datastore.user",
		ActAs:     true,
	},
	{
		Role: JobReviewer, Account: AccountReviewer,
		Title: "coopguard reviewer: the weekly review (Review, ReviewReport)",
		Functions: []Function{
			// Mondays at 08:00: the week's review reaches the operator's
			// channels at the start of their week.
			{Name: "Review", Service: "coopguard-review", Topic: "review",
				Schedule: &Schedule{Cron: "0 8 * * 1", Attr: SchedulerReview}},
			// `coopguard review` on demand, through the deployment.
			{Name: "ReviewReport", Service: "coopguard-review-report"},
		},
		Roles:     []RoleKind{RoleProject, RoleSecrets},
		Datastore: "roles/datastore.user",
	},
}

// RoleFile is the stem of the job's role file of kind k
// (deploy/roles/<stem>.yaml): responder, responder-secrets, ….
func (j Job) RoleFile(k RoleKind) string {
	if k == RoleProject {
		return j.Role
	}
	return j.Role + "-" + string(k)
}

// RoleID is the custom role id deploy creates for the job's role file of
// kind k: coopguardResponder, coopguardResponderSecrets, ….
func (j Job) RoleID(k RoleKind) string {
	return "coopguard" + strings.ToUpper(j.Role[:1]) + j.Role[1:] + roleIDSuffix[k]
}

// Has reports whether the job has a role file of kind k.
func (j Job) Has(k RoleKind) bool {
	for _, r := range j.Roles {
		if r == k {
			return true
		}
	}
	return false
}

// Functions lists every declared function, in declaration order.
func Functions() []Function {
	var out []Function
	for _, j := range Jobs {
		out = append(out, j.Functions...)
	}
	return out
}

// JobOf returns the job that runs the function named name.
func JobOf(name string) (Job, bool) {
	for _, j := range Jobs {
		for _, f := range j.Functions {
			if f.Name == name {
				return j, true
			}
		}
	}
	return Job{}, false
}

// Topic returns the topic id configured under the toml key key ("alerts",
// "followup", …), or "" for an unknown key.
func (t Topics) Topic(key string) string {
	v := reflect.ValueOf(t)
	if i := topicField(key); i >= 0 {
		return v.Field(i).String()
	}
	return ""
}

// TopicEnv is the environment variable that configures the topic under
// the toml key key (COOPGUARD_TOPIC_ALERTS), or "" for an unknown key.
func TopicEnv(key string) string {
	if i := topicField(key); i >= 0 {
		return reflect.TypeFor[Topics]().Field(i).Tag.Get("env")
	}
	return ""
}

func reflectTopics() reflect.Type { return reflect.TypeFor[Topics]() }

func topicField(key string) int {
	t := reflectTopics()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("toml") == key {
			return i
		}
	}
	return -1
}

// accountsOf lists the accounts of the jobs keep selects, in Jobs' order.
func accountsOf(keep func(Job) bool) []string {
	var out []string
	for _, j := range Jobs {
		if keep(j) {
			out = append(out, j.Account)
		}
	}
	return out
}

// roleIDsOf maps the account of every job with a role file of kind k to
// that role's id.
func roleIDsOf(k RoleKind) map[string]string {
	out := map[string]string{}
	for _, j := range Jobs {
		if j.Has(k) {
			out[j.Account] = j.RoleID(k)
		}
	}
	return out
}
