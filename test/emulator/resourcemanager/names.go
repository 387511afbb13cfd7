package resourcemanager

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// parseProject returns P of a resource name projects/P. The fake keys
// projects by id only: a test must use ids, not numbers.
func parseProject(field, s string) (string, error) {
	id, ok := strings.CutPrefix(s, "projects/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %s %q is not of the form projects/*.", field, s)
	}
	return id, nil
}

// errDenied is what the service answers for a project the caller cannot
// see, whether or not it exists.
func errDenied(project string) error {
	return status.Errorf(codes.PermissionDenied, "The caller does not have permission (project %s)", project)
}
