package functions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/functions/rotation"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// Resume is `coopguard resume INCIDENT`: the runbook's "rotate all
// credentials before resuming", then the restore (see
// respond.Responder.Resume). The rotation is the rotator's runner in
// renew mode on the sandbox's own managed secrets: a new version from the
// key source (its provider key id recorded, so a later containment can
// revoke it), the older versions disabled at once. Each step acts as the
// job whose role allows it; in direct mode all are the operator.
func Resume(ctx context.Context, e *Env, id string, o respond.ResumeOptions) (*incident.Report, error) {
	if e.Restorer == nil {
		return nil, errors.New("resume: this Env has no restorer")
	}
	if e.Responder != nil {
		// Each step acts as the job that may: the responder revokes
		// (it holds the provider's credential), the rotator rotates,
		// the restorer gives the identity back and starts the VM.
		o.Revoker = e.Responder.Revoker()
	}
	o.Rotate = func(ctx context.Context, project, sandbox string, since time.Time) ([]incident.ActionResult, error) {
		return renewSecrets(ctx, e, project, sandbox, since, o.DryRun)
	}
	return e.Restorer.Resume(ctx, id, o)
}

// renewSecrets rotates every managed secret of sandbox so that each has
// one ENABLED version created after since, and returns what was done. A
// secret that could not be rotated (no key source and no version added
// by hand, a failing source) is an error naming it and the fix. With
// dryRun it reports what it would do and changes nothing.
func renewSecrets(ctx context.Context, e *Env, project, sandbox string, since time.Time, dryRun bool) ([]incident.ActionResult, error) {
	runner := NewRotationRunner(e, config.AccountRotator)
	// The sandbox's secrets are in its own project (the key source's
	// credential stays in coopguard's), and the identity rotation checks
	// is the account the registry records for it there.
	runner.Project = project
	runner.Identity = identityCheckIn(e, config.AccountRotator, project)
	runner.Managed = e.Config.SandboxSecrets(sandbox)
	if len(runner.Managed) == 0 {
		return nil, fmt.Errorf("sandbox %s has no managed secret in coopguard.secrets: nothing to rotate", sandbox)
	}
	rep, err := runner.Run(ctx, rotation.Options{Renew: since, Trigger: "resume", DryRun: dryRun})
	var out []incident.ActionResult
	errs := []error{err}
	for _, s := range rep.Secrets {
		out = append(out, s.Actions...)
		switch {
		case s.Missing:
			errs = append(errs, fmt.Errorf("secret %s does not exist: run coopguard provision", s.Secret))
		case s.NotAdded != "" && s.Error == "":
			errs = append(errs, fmt.Errorf("secret %s was not rotated: %s", s.Secret, s.NotAdded))
		}
	}
	return out, errors.Join(errs...)
}
