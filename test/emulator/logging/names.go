package logging

import (
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Resource name syntax from the API reference. Log IDs are URL-encoded, so
// a slash inside one arrives as %2F.
var (
	logIDRE  = regexp.MustCompile(`^[A-Za-z0-9_.%-]{1,512}$`)
	sinkIDRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
)

// parentName is one of the four containers that own logs and sinks. The
// id is kept literally: the fake does not map project ids to numbers.
type parentName struct {
	Kind string // projects, folders, organizations or billingAccounts
	ID   string
}

func (n parentName) String() string { return n.Kind + "/" + n.ID }

func parseParent(s string) (parentName, error) {
	parts := strings.Split(s, "/")
	if len(parts) == 2 && parts[1] != "" {
		switch parts[0] {
		case "projects", "folders", "organizations", "billingAccounts":
			return parentName{Kind: parts[0], ID: parts[1]}, nil
		}
	}
	return parentName{}, status.Errorf(codes.InvalidArgument, "Invalid resource name %q: expected projects/[PROJECT_ID], organizations/[ORGANIZATION_ID], billingAccounts/[BILLING_ACCOUNT_ID] or folders/[FOLDER_ID].", s)
}

// logName is PARENT/logs/LOG_ID.
type logName struct {
	parentName
	LogID string
}

func (n logName) String() string { return n.parentName.String() + "/logs/" + n.LogID }

func parseLogName(s string) (logName, error) {
	parts := strings.SplitN(s, "/", 4)
	if len(parts) == 4 && parts[2] == "logs" && logIDRE.MatchString(parts[3]) {
		p, err := parseParent(parts[0] + "/" + parts[1])
		if err == nil {
			return logName{parentName: p, LogID: parts[3]}, nil
		}
	}
	return logName{}, status.Errorf(codes.InvalidArgument, "Invalid log name %q: expected projects/[PROJECT_ID]/logs/[LOG_ID] with a URL-encoded LOG_ID.", s)
}

// sinkName is PARENT/sinks/SINK_ID.
type sinkName struct {
	parentName
	SinkID string
}

func (n sinkName) String() string { return n.parentName.String() + "/sinks/" + n.SinkID }

func parseSinkName(s string) (sinkName, error) {
	parts := strings.Split(s, "/")
	if len(parts) == 4 && parts[2] == "sinks" && sinkIDRE.MatchString(parts[3]) {
		p, err := parseParent(parts[0] + "/" + parts[1])
		if err == nil {
			return sinkName{parentName: p, SinkID: parts[3]}, nil
		}
	}
	return sinkName{}, status.Errorf(codes.InvalidArgument, "Invalid sink name %q: expected projects/[PROJECT_ID]/sinks/[SINK_ID].", s)
}
