package rotation

import (
	"time"

	"github.com/cloudcoop/coopguard/shared/incident"
)

// Actions a rotation run takes, as they appear in ActionResult.Action.
const (
	ActionAddVersion     = "add-version"
	ActionDisableVersion = "disable-version"
	ActionDestroyVersion = "destroy-version"
)

// Report is the result of one rotation run over the managed secrets.
type Report struct {
	// Project is the GCP project of the secrets.
	Project string `json:"project"`
	// Trigger says what started the run: scheduler, secret-rotate, cli.
	Trigger string `json:"trigger"`
	// DryRun runs report what would be done and change nothing.
	DryRun bool `json:"dryRun"`
	// StartedAt is the policy's "now" for the run; Seconds its wall time.
	StartedAt time.Time `json:"startedAt"`
	Seconds   float64   `json:"seconds"`
	// Secrets has one entry per secret the run looked at, in config order.
	Secrets []SecretReport `json:"secrets"`
}

// SecretReport is one secret's part of a run: its versions, whether it is
// due, and what was done about it.
type SecretReport struct {
	// Secret is the secret id as config names it; Name the full resource name.
	Secret string `json:"secret"`
	Name   string `json:"name"`
	// Missing is set when the secret does not exist (coopguard provision
	// creates it).
	Missing bool `json:"missing,omitempty"`
	// Refused is set when the secret is not managed: nothing was read or done.
	Refused string `json:"refused,omitempty"`
	// Versions are the versions as listed at the start of the run, newest first.
	Versions []VersionInfo `json:"versions"`
	// Due, DueReason and NextRotation are the policy's verdict.
	Due       bool   `json:"due"`
	DueReason string `json:"dueReason,omitempty"`
	NotAdded  string `json:"notAdded,omitempty"`
	// Identity says, when a version was added while an incident is open
	// on the sandbox, that its contained identity cannot reach it.
	Identity     string    `json:"identity,omitempty"`
	NextRotation time.Time `json:"nextRotation,omitzero"`
	// Actions are the changes made (or, in a dry run, planned).
	Actions []incident.ActionResult `json:"actions"`
	// Error is the first failure, with what to do about it.
	Error string `json:"error,omitempty"`
}

// VersionInfo is one version as a report shows it (never its payload).
type VersionInfo struct {
	Name       string    `json:"name"`
	Number     int64     `json:"number"`
	State      string    `json:"state"`
	CreateTime time.Time `json:"createTime"`
	AgeSeconds int64     `json:"ageSeconds"`
}

// Failed reports whether any action of any secret failed: the run should
// be retried (a Pub/Sub trigger answers with an error so it is redelivered).
func (r *Report) Failed() bool {
	for _, s := range r.Secrets {
		if s.Failed() {
			return true
		}
	}
	return false
}

// Due returns the secrets that are due for rotation.
func (r *Report) Due() []SecretReport {
	var out []SecretReport
	for _, s := range r.Secrets {
		if s.Due {
			out = append(out, s)
		}
	}
	return out
}

// Failed reports whether the secret's run failed.
func (s SecretReport) Failed() bool {
	if s.Error != "" {
		return true
	}
	for _, a := range s.Actions {
		if a.Result == incident.ResultFailed {
			return true
		}
	}
	return false
}

// Changed reports whether anything was done (not merely planned).
func (s SecretReport) Changed() bool {
	for _, a := range s.Actions {
		if a.Result == incident.ResultDone {
			return true
		}
	}
	return false
}

// versionInfos renders a plan's versions for a report.
func versionInfos(vs []Version, now time.Time) []VersionInfo {
	out := make([]VersionInfo, 0, len(vs))
	for _, v := range vs {
		out = append(out, VersionInfo{
			Name:       v.Name,
			Number:     v.Number,
			State:      v.State,
			CreateTime: v.CreateTime,
			AgeSeconds: int64(v.Age(now) / time.Second),
		})
	}
	return out
}
