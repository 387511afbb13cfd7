package posture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/shared/config"
)

// Services are the Cloud Run service names of coopguard's functions
// (config.Jobs): a Cloud Run function (gen2) is a Cloud Run service named
// after the function.
var Services = func() []string {
	var out []string
	for _, f := range config.Functions() {
		out = append(out, f.Service)
	}
	return out
}()

// checks is the one list of checks, in the order reports show them: the
// VM's identity, its network exposure, the key, then detection and
// response.
var checks = []Check{
	dedicatedServiceAccount{},
	serviceAccountRoles{},
	sshIAPOnly{},
	noExternalIP{},
	egressRoute{},
	ownVPC{},
	shieldedVM{},
	keyInSecretManager{},
	secretsPerSandbox{},
	noKeyInMetadata{},
	auditLogging{},
	alertPolicies{},
	logSink{},
	sandboxAccess{},
	keyRotation{},
	revokeKeyNamed{},
	budgetExists{},
	functionsAuthenticated{},
	imageScanning{},
	metricDescriptors{},
	listening{},
}

// Checks returns the registered checks in report order.
func Checks() []Check { return append([]Check(nil), checks...) }

// pass, fail and readError build results; the check's name is filled in by
// the runner.
func pass(format string, args ...any) Result {
	return Result{Status: Pass, Evidence: fmt.Sprintf(format, args...)}
}

func fail(evidence, fix string) Result {
	return Result{Status: Fail, Evidence: evidence, Fix: fix}
}

// readError is the result of a read that did not work: err names the
// resource (the callers wrap it); perm is the IAM permission the read
// needs, so a denial says exactly what to grant.
func readError(err error, perm string) Result {
	fix := "retry: coopguard posture; if it persists, check the API's status and that it is enabled in the project"
	switch code := status.Code(err); {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || code == codes.DeadlineExceeded || code == codes.Canceled:
		fix = "the read timed out: retry; if it persists, check the API's status"
	case code == codes.PermissionDenied:
		fix = "grant " + perm + " to the identity running coopguard (deploy/roles/reader.yaml for Posture, rotator.yaml for the scheduled run; your own account for the CLI), then retry"
	case code == codes.Unauthenticated:
		fix = "log in: gcloud auth application-default login, then retry"
	}
	return Result{Status: Error, Evidence: err.Error(), Fix: fix}
}

// noVM is the result of a VM check when the sandbox VM does not exist:
// nothing guards a sandbox that is not there, and a VM with another name
// is not the one the checklist was built for.
func noVM(in *Input) Result {
	return fail(fmt.Sprintf("instance %s not found in %s/%s", in.Sandbox.Name, in.Project(), in.Sandbox.Zone),
		"build the sandbox: coopguard provision --config FILE (or set vm.name to the VM's name)")
}

// joinOr joins items with ", ", or returns none when there are none.
func joinOr(items []string, none string) string {
	if len(items) == 0 {
		return none
	}
	return strings.Join(items, ", ")
}
