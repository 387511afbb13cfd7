package posture

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// keyRotation: every managed secret has a rotation schedule that notifies
// coopguard's rotation topic with next_rotation_time still ahead, and its
// newest ENABLED version is younger than rotation.max_age.
type keyRotation struct{}

func (keyRotation) Name() string { return "key-rotation" }

func (keyRotation) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	maxAge := in.Config.Coopguard.Rotation.MaxAge.Duration
	topic := in.Sandbox.TopicPath(in.Sandbox.Topics.Rotation)
	var ok, bad, fixes []string
	for _, id := range in.Sandbox.Secrets {
		name := "projects/" + in.Project() + "/secrets/" + id
		sec, err := c.Secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: name})
		if retry.IsNotFound(err) {
			bad = append(bad, "secret "+id+" does not exist")
			fixes = append(fixes, "coopguard provision --config FILE")
			continue
		}
		if err != nil {
			return readError(fmt.Errorf("read secret %s: %w", name, err), "secretmanager.secrets.get")
		}
		var problems []string
		next := sec.GetRotation().GetNextRotationTime()
		switch {
		case next == nil:
			problems = append(problems, "no rotation schedule")
		case !next.AsTime().After(in.Now):
			problems = append(problems, "next_rotation_time "+next.AsTime().UTC().Format(time.RFC3339)+" has passed")
		}
		if !slices.ContainsFunc(sec.GetTopics(), func(t *secretmanagerpb.Topic) bool { return t.GetName() == topic }) {
			problems = append(problems, "rotation notifications do not go to "+topic)
		}
		if len(problems) > 0 {
			fixes = append(fixes, "restore the schedule: coopguard provision --config FILE")
		}
		vs, err := listVersions(ctx, c, in, id)
		if err != nil && !retry.IsNotFound(err) {
			return readError(err, "secretmanager.versions.list")
		}
		newest := newestEnabled(vs)
		age := time.Duration(0)
		switch {
		case newest == nil:
			problems = append(problems, "no ENABLED version")
			fixes = append(fixes, fmt.Sprintf("add a new key: gcloud secrets versions add %s --project %s --data-file=-", id, in.Project()))
		default:
			age = in.Now.Sub(newest.GetCreateTime().AsTime())
			if maxAge > 0 && age >= maxAge {
				problems = append(problems, fmt.Sprintf("newest ENABLED version %s is %s old (max_age %s)", lastSegment(newest.GetName()), days(age), days(maxAge)))
				fixes = append(fixes, fmt.Sprintf("rotate now: coopguard rotate, or gcloud secrets versions add %s --project %s --data-file=-", id, in.Project()))
			}
		}
		if len(problems) > 0 {
			bad = append(bad, id+": "+strings.Join(problems, ", "))
			continue
		}
		ok = append(ok, fmt.Sprintf("%s: next rotation %s, newest ENABLED version %s is %s old (max_age %s)",
			id, next.AsTime().UTC().Format(time.RFC3339), lastSegment(newest.GetName()), days(age), days(maxAge)))
	}
	if len(bad) > 0 {
		return fail(strings.Join(bad, "; "), strings.Join(slices.Compact(fixes), " && "))
	}
	if len(ok) == 0 {
		return pass("no managed secrets (coopguard.secrets is empty)")
	}
	return pass("%s", strings.Join(ok, "; "))
}

// days writes a duration the way rotation policies are written: whole
// days when at least one, else Go's notation rounded to the minute.
func days(d time.Duration) string {
	if d >= 24*time.Hour {
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	return d.Round(time.Minute).String()
}
