package monitoring

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// projectName is projects/P; P is kept literally (id or number).
type projectName struct {
	Project string
}

func (n projectName) String() string { return "projects/" + n.Project }

func parseProjectName(s string) (projectName, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 2 || parts[0] != "projects" || parts[1] == "" {
		return projectName{}, status.Errorf(codes.InvalidArgument, "Invalid resource name %q: expected projects/[PROJECT_ID_OR_NUMBER].", s)
	}
	return projectName{Project: parts[1]}, nil
}

// childName is projects/P/<collection>/ID, the shape of alert policies and
// notification channels.
type childName struct {
	projectName
	Collection string
	ID         string
}

func (n childName) String() string { return n.projectName.String() + "/" + n.Collection + "/" + n.ID }

func parseChildName(s, collection string) (childName, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != collection || parts[3] == "" {
		return childName{}, status.Errorf(codes.InvalidArgument, "Invalid resource name %q: expected projects/[PROJECT_ID_OR_NUMBER]/%s/[ID].", s, collection)
	}
	return childName{projectName: projectName{Project: parts[1]}, Collection: collection, ID: parts[3]}, nil
}

// descriptorName is projects/P/metricDescriptors/TYPE, where TYPE itself
// contains slashes (custom.googleapis.com/coopguard/incidents).
type descriptorName struct {
	projectName
	Type string
}

func (n descriptorName) String() string {
	return n.projectName.String() + "/metricDescriptors/" + n.Type
}

func parseDescriptorName(s string) (descriptorName, error) {
	parts := strings.SplitN(s, "/", 4)
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "metricDescriptors" || parts[3] == "" {
		return descriptorName{}, status.Errorf(codes.InvalidArgument, "Invalid resource name %q: expected projects/[PROJECT_ID_OR_NUMBER]/metricDescriptors/[METRIC_TYPE].", s)
	}
	return descriptorName{projectName: projectName{Project: parts[1]}, Type: parts[3]}, nil
}
