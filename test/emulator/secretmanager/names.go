package secretmanager

import (
	"regexp"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// secretIDRE is the secret ID syntax of the API reference.
var secretIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// projectName is a parent such as projects/my-project or projects/123.
// Project is always the project NUMBER: the service accepts either form in
// a request and names every resource by number in its responses, so the
// fake stores and answers by number (resourcemanager.ProjectNumber maps an
// id to the number every fake agrees on).
type projectName struct {
	Project string
}

// projectNumber returns p's number: p itself when it is all digits (a
// project id always starts with a letter), else the id's number.
func projectNumber(p string) string {
	if strings.Trim(p, "0123456789") == "" {
		return p
	}
	return strconv.FormatInt(resourcemanager.ProjectNumber(p), 10)
}

func (n projectName) String() string { return "projects/" + n.Project }

func parseProjectName(s string) (projectName, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 2 || parts[0] != "projects" || parts[1] == "" {
		return projectName{}, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: parent %q is not of the form projects/*.", s)
	}
	return projectName{Project: projectNumber(parts[1])}, nil
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
	return secretName{projectName: projectName{Project: projectNumber(parts[1])}, Secret: parts[3]}, nil
}

// canonical returns name (a secret or version name, by project id or
// number) as the service names it: by project number. A name that parses
// as neither comes back unchanged, so a lookup with it finds nothing.
func canonical(name string) string {
	if v, err := parseVersionName(name); err == nil {
		return v.String()
	}
	if sn, err := parseSecretName(name); err == nil {
		return sn.String()
	}
	return name
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
