package posture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// ScanningAPI is the API that scans the images pushed to Artifact
// Registry Docker repositories for vulnerabilities
// (https://cloud.google.com/artifact-analysis/docs/enable-automatic-scanning).
const ScanningAPI = "containerscanning.googleapis.com"

// imageScanning: images the sandbox can pull are scanned for
// vulnerabilities: the Container Scanning API is enabled in the project and
// no Docker repository in the sandbox's region has scanning disabled. With
// no Docker repository there is nothing to scan, so the check passes as
// "not applicable" and says why. It reads every Docker repository in the
// region, a superset of those the sandbox's account can read.
type imageScanning struct{}

func (imageScanning) Name() string { return "image-scanning" }

func (imageScanning) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	api := "projects/" + in.Project() + "/services/" + ScanningAPI
	svc, err := c.ServiceUsage.GetService(ctx, &serviceusagepb.GetServiceRequest{Name: api})
	if err != nil {
		return readError(fmt.Errorf("read service %s: %w", api, err), "serviceusage.services.get")
	}
	apiOn := svc.GetState() == serviceusagepb.State_ENABLED
	parent := "projects/" + in.Project() + "/locations/" + in.Region
	var docker []*artifactregistrypb.Repository
	it := c.Repositories.ListRepositories(ctx, &artifactregistrypb.ListRepositoriesRequest{Parent: parent})
	for {
		r, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return readError(fmt.Errorf("list Artifact Registry repositories in %s: %w", parent, err), "artifactregistry.repositories.list")
		}
		if r.GetFormat() == artifactregistrypb.Repository_DOCKER {
			docker = append(docker, r)
		}
	}
	if len(docker) == 0 {
		return pass("not applicable: no Artifact Registry Docker repository in %s", in.Region)
	}
	var names []string
	for _, r := range docker {
		names = append(names, lastSegment(r.GetName()))
	}
	if !apiOn {
		return fail(fmt.Sprintf("%s is not enabled: images in %s are not scanned", ScanningAPI, strings.Join(names, ", ")),
			fmt.Sprintf("gcloud services enable %s --project %s", ScanningAPI, in.Project()))
	}
	var bad, fixes []string
	for _, r := range docker {
		if r.GetVulnerabilityScanningConfig().GetEnablementState() == artifactregistrypb.Repository_VulnerabilityScanningConfig_SCANNING_ACTIVE {
			continue
		}
		name := lastSegment(r.GetName())
		bad = append(bad, name+" has vulnerability scanning off")
		fixes = append(fixes, fmt.Sprintf("gcloud artifacts repositories update %s --location %s --project %s --allow-vulnerability-scanning",
			name, in.Region, in.Project()))
	}
	if len(bad) > 0 {
		return fail(strings.Join(bad, "; "), strings.Join(fixes, " && "))
	}
	return pass("%s on; scanning active in %s (%s)", ScanningAPI, strings.Join(names, ", "), in.Region)
}
