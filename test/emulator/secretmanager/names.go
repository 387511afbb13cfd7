package secretmanager

import (
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// secretIDRE is the secret ID syntax of the API reference.
var secretIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// projectName is a parent such as projects/my-project or projects/123. The
// project is kept literally: the fake has no project registry to map ids to
// numbers, so a test must use one form consistently.
type projectName struct {
	Project string
}

func (n projectName) String() string { return "projects/" + n.Project }

func parseProjectName(s string) (projectName, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 2 || parts[0] != "projects" || parts[1] == "" {
		return projectName{}, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: parent %q is not of the form projects/*.", s)
	}
	return projectName{Project: parts[1]}, nil
}

// secretName is projects/P/secrets/S.
type secretName struct {
	projectName
	Secret string
}

func (n secretName) String() string { return n.projectName.String() + "/secrets/" + n.Secret }

func parseSecretName(s string) (secretName, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "secrets" || !secretIDRE.MatchString(parts[3]) {
		return secretName{}, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %q is not a secret name of the form projects/*/secrets/*.", s)
	}
	return secretName{projectName: projectName{Project: parts[1]}, Secret: parts[3]}, nil
}

// versionName is projects/P/secrets/S/versions/V where V is a number,
// `latest` or a version alias of the secret; resolve turns the last two
// into a number.
type versionName struct {
	secretName
	Version string
}

func (n versionName) String() string { return n.secretName.String() + "/versions/" + n.Version }

func parseVersionName(s string) (versionName, error) {
	i := strings.LastIndex(s, "/versions/")
	if i < 0 {
		return versionName{}, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %q is not a secret version name of the form projects/*/secrets/*/versions/*.", s)
	}
	sn, err := parseSecretName(s[:i])
	if err != nil {
		return versionName{}, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %q is not a secret version name of the form projects/*/secrets/*/versions/*.", s)
	}
	v := s[i+len("/versions/"):]
	if v == "" || strings.Contains(v, "/") {
		return versionName{}, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %q is not a secret version name of the form projects/*/secrets/*/versions/*.", s)
	}
	return versionName{secretName: sn, Version: v}, nil
}

// number returns the version number, or false for `latest` and aliases.
func (n versionName) number() (int64, bool) {
	v, err := strconv.ParseInt(n.Version, 10, 64)
	return v, err == nil && v > 0
}
