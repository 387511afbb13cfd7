// Package deployreplay deploys coopguard into the emulated GCP the way
// deploy/deploy.sh deploys it into a real project: it runs the script
// itself (embedded in package deploy) with DRY_RUN=1 and replays the
// gcloud commands it prints against the emulated APIs, through the
// official client libraries. What the end-to-end tests run against is
// therefore what deploy grants: there is no second description of it to
// drift.
//
// A dry run prints both branches of every describe-then-create/update
// (lib.sh ensure: "LABEL: does it exist?", "if missing", "if present",
// "end"); the replay runs the describe and then the branch its answer
// picks. Every command is either replayed or named in notModelled, with
// the reason the emulator leaves it out: a command deploy.sh starts
// printing that is neither fails the replay, so no deploy step is skipped
// unnoticed.
package deployreplay

import (
	"context"
	"fmt"
	"strings"

	"github.com/cloudcoop/coopguard/deploy"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// Target is the emulated project a replay deploys into.
type Target struct {
	// Project is the project id; Number its project number, which the
	// managed-secrets condition names (deploy reads it with `gcloud
	// projects describe`).
	Project, Number string
	// Clients act as whoever runs deploy (the project's owner).
	Clients *gcp.Clients
	// GrantTopic adds member to role on a Pub/Sub topic's allow policy:
	// the emulated Pub/Sub (pstest) serves no IAM methods.
	GrantTopic func(topic, member, role string) error
}

// Replay applies a dry-run listing of deploy.sh to t, in order.
func Replay(ctx context.Context, t Target, steps []deploy.Step) error {
	r := &replayer{t: t}
	for i := 0; i < len(steps); i++ {
		s := steps[i]
		label, ok := strings.CutSuffix(s.Note, ": does it exist?")
		if !ok {
			if s.Note != "" {
				continue
			}
			if err := r.apply(ctx, s.Command); err != nil {
				return err
			}
			continue
		}
		end, err := r.block(ctx, label, steps[i+1:])
		if err != nil {
			return err
		}
		i += end + 1
	}
	return nil
}

// block replays the ensure block of label that follows its "does it
// exist?" line: the describe, then the branch it picks. It returns the
// index in rest of the block's "end" line.
func (r *replayer) block(ctx context.Context, label string, rest []deploy.Step) (int, error) {
	var describe *deploy.Command
	branch := map[string][]deploy.Command{}
	cur := ""
	for i, s := range rest {
		switch {
		case s.Note == label+": end":
			return i, r.choose(ctx, label, describe, branch)
		case s.Note == label+": if missing" || s.Note == label+": if present":
			cur = strings.TrimPrefix(s.Note, label+": ")
		case strings.HasSuffix(s.Note, ": does it exist?"):
			return 0, fmt.Errorf("deployreplay: block %q has no end before %q: check lib.sh ensure's dry-run markers", label, s.Note)
		case s.Note != "":
		case cur == "" && describe == nil:
			describe = &rest[i].Command
		case cur == "":
			return 0, fmt.Errorf("deployreplay: block %q: a second command before its branches: %s", label, s.Line)
		default:
			branch[cur] = append(branch[cur], s.Command)
		}
	}
	return 0, fmt.Errorf("deployreplay: block %q has no %q line: check lib.sh ensure's dry-run markers", label, label+": end")
}

// choose runs the describe of a block and then its branch. A block whose
// existence the emulator cannot answer (no describe, or one of a service
// it does not model) is skipped whole, provided every command in it is
// one the emulator does not model either.
func (r *replayer) choose(ctx context.Context, label string, describe *deploy.Command, branch map[string][]deploy.Command) error {
	if describe == nil || notModelled(*describe) != "" {
		for _, c := range append(append([]deploy.Command(nil), branch["if missing"]...), branch["if present"]...) {
			if notModelled(c) == "" {
				return fmt.Errorf("deployreplay: %s: the emulator cannot tell whether it exists, yet it would run %s", label, c.Line)
			}
		}
		return nil
	}
	exists, err := r.exists(ctx, *describe)
	if err != nil {
		return fmt.Errorf("deployreplay: %s: %w", label, err)
	}
	pick := "if missing"
	if exists {
		pick = "if present"
	}
	for _, c := range branch[pick] {
		if err := r.apply(ctx, c); err != nil {
			return fmt.Errorf("deployreplay: %s (%s): %w", label, pick, err)
		}
	}
	return nil
}

// notModelled reports why the emulator leaves a command out ("" when it
// replays it). Each entry is a whole class of commands deploy prints.
func notModelled(c deploy.Command) string {
	for _, n := range skipped {
		if c.Is(n.words...) {
			return n.why
		}
	}
	return ""
}

// skipped are the commands the emulated deploy leaves out, and why.
var skipped = []struct {
	words []string
	why   string
}{
	// Reads whose answers the dry run stood in for (deployreplay passes
	// the emulated project's number and an empty sandbox list as those
	// answers): they change nothing.
	{[]string{"gcloud", "projects", "describe"}, "read: the project number is passed to the dry run"},
	{[]string{"gcloud", "projects", "get-iam-policy"}, "read: a fresh project's sandbox condition names no sandbox yet"},
	{[]string{"gcloud", "logging", "settings", "describe"}, "read: the Logging service agent's name"},
	{[]string{"gcloud", "logging", "sinks", "list"}, "read: no sink exists before Provision"},
	// The APIs the emulator serves answer whether or not a test enabled
	// them (serviceusage.Server.Enable); service agents exist implicitly.
	{[]string{"gcloud", "services", "enable"}, "every emulated API answers; tests set what Service Usage reports"},
	{[]string{"gcloud", "beta", "services", "identity", "create"}, "service agents exist implicitly in the emulator"},
	// A check of GCP that deploy makes, not a change: the emulated
	// Logging's refusal of audit log ids is tested on its own.
	{[]string{"gcloud", "logging", "write"}, "probe of reserved audit log ids, changes nothing"},
	// Pub/Sub resources: the tests and Provision create the topics they
	// use (pstest); their publishers' grants are replayed.
	{[]string{"gcloud", "pubsub", "topics", "describe"}, "topics are created by Provision and the tests"},
	{[]string{"gcloud", "pubsub", "topics", "create"}, "topics are created by Provision and the tests"},
	{[]string{"gcloud", "pubsub", "topics", "update"}, "topics are created by Provision and the tests"},
	{[]string{"gcloud", "pubsub", "subscriptions"}, "the dead-letter and trigger subscriptions are Eventarc's and deploy's delivery, which tests drive directly"},
	// The incident store is the Firestore emulator the tests start.
	{[]string{"gcloud", "firestore", "databases"}, "the incident store is the Firestore emulator"},
	// The functions run in-process in the tests and in `coopguard serve`.
	{[]string{"gcloud", "functions"}, "the functions run in-process"},
	{[]string{"gcloud", "eventarc"}, "events are delivered to the in-process functions directly"},
	{[]string{"gcloud", "scheduler"}, "the scheduled runs are started by the tests and `coopguard serve`"},
	{[]string{"gcloud", "monitoring", "dashboards"}, "the emulated Monitoring has no dashboards"},
	// A redeploy's convergence of what the emulator keeps no state for.
	{[]string{"gcloud", "iam", "roles", "undelete"}, "no role is ever deleted in the emulator (DeleteRole is not served): there is none to undelete"},
	{[]string{"gcloud", "iam", "service-accounts", "update"}, "changes a display name only, which decides nothing"},
}
