package run

import (
	"regexp"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// serviceIDRE is a Cloud Run service id: lower-case letters, digits and
	// hyphens, starting with a letter, at most 49 characters.
	serviceIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,47}[a-z0-9])?$`)
	// regionRE is a region such as us-central1.
	regionRE = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
)

// locationName is projects/P/locations/R.
type locationName struct {
	Project, Region string
}

func (n locationName) String() string { return "projects/" + n.Project + "/locations/" + n.Region }

func parseLocationName(s string) (locationName, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "locations" {
		return locationName{}, status.Errorf(codes.InvalidArgument, "Invalid parent %q: must be of the form projects/{project}/locations/{location}.", s)
	}
	if parts[3] == "-" {
		return locationName{}, status.Errorf(codes.InvalidArgument, "Invalid parent %q: location must be a valid Google Cloud region, and cannot be the \"-\" wildcard.", s)
	}
	if !regionRE.MatchString(parts[3]) {
		return locationName{}, status.Errorf(codes.InvalidArgument, "Invalid location %q: must be a Google Cloud region such as us-central1.", parts[3])
	}
	return locationName{Project: parts[1], Region: parts[3]}, nil
}

// serviceName is projects/P/locations/R/services/S.
type serviceName struct {
	locationName
	Service string
}

func (n serviceName) String() string { return n.locationName.String() + "/services/" + n.Service }

func (n serviceName) check() error {
	if !regionRE.MatchString(n.Region) || n.Project == "" || !serviceIDRE.MatchString(n.Service) {
		return status.Errorf(codes.InvalidArgument, "Invalid service name %q: must be projects/{project}/locations/{location}/services/{service} with a lower-case service id of at most 49 characters.", n.String())
	}
	return nil
}

func parseServiceName(s string) (serviceName, error) {
	i := strings.LastIndex(s, "/services/")
	if i < 0 {
		return serviceName{}, status.Errorf(codes.InvalidArgument, "Invalid service name %q: must be projects/{project}/locations/{location}/services/{service}.", s)
	}
	loc, err := parseLocationName(s[:i])
	if err != nil {
		return serviceName{}, err
	}
	n := serviceName{loc, s[i+len("/services/"):]}
	return n, n.check()
}

// errNotFound is the service's wording for a missing service.
func errNotFound(n serviceName) error {
	return status.Errorf(codes.NotFound, "Resource '%s' of kind 'SERVICE' in region '%s' in project '%s' does not exist.", n.Service, n.Region, n.Project)
}
