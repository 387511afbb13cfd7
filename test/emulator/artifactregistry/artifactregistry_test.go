package artifactregistry_test

import (
	"context"
	"testing"

	ar "cloud.google.com/go/artifactregistry/apiv1"
	"cloud.google.com/go/artifactregistry/apiv1/artifactregistrypb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/test/emulator/artifactregistry"
	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
)

type (
	cfg   = artifactregistrypb.Repository_VulnerabilityScanningConfig_EnablementConfig
	state = artifactregistrypb.Repository_VulnerabilityScanningConfig_EnablementState
)

const (
	inherited   = artifactregistrypb.Repository_VulnerabilityScanningConfig_INHERITED
	unspecified = artifactregistrypb.Repository_VulnerabilityScanningConfig_ENABLEMENT_CONFIG_UNSPECIFIED
	disabled    = artifactregistrypb.Repository_VulnerabilityScanningConfig_DISABLED
	active      = artifactregistrypb.Repository_VulnerabilityScanningConfig_SCANNING_ACTIVE
	off         = artifactregistrypb.Repository_VulnerabilityScanningConfig_SCANNING_DISABLED
	unsupported = artifactregistrypb.Repository_VulnerabilityScanningConfig_SCANNING_UNSUPPORTED
)

// TestEnablementState pins FIDELITY.md's Artifact Registry rows: the
// output-only state combines the repository's config, its format and the
// Container Scanning API.
func TestEnablementState(t *testing.T) {
	tests := []struct {
		name   string
		format artifactregistrypb.Repository_Format
		cfg    cfg
		apiOn  bool
		want   state
	}{
		{"inherited, API on", artifactregistrypb.Repository_DOCKER, inherited, true, active},
		{"unset reads as inherited", artifactregistrypb.Repository_DOCKER, unspecified, true, active},
		{"inherited, API off", artifactregistrypb.Repository_DOCKER, inherited, false, off},
		{"disabled, API on", artifactregistrypb.Repository_DOCKER, disabled, true, off},
		{"not docker", artifactregistrypb.Repository_MAVEN, inherited, true, unsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := artifactregistry.New(func(p, s string) bool { return tt.apiOn && p == "p" && s == artifactregistry.ScanningAPI })
			c := grpctest.Client(t, grpctest.Serve(t, fake.Register), ar.NewClient)
			fake.SeedRepository("p", "us-central1", "images", tt.format, tt.cfg)
			fake.SeedRepository("p", "europe-west1", "elsewhere", tt.format, tt.cfg)
			it := c.ListRepositories(context.Background(), &artifactregistrypb.ListRepositoriesRequest{Parent: "projects/p/locations/us-central1"})
			var got []*artifactregistrypb.Repository
			for {
				r, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					t.Fatalf("ListRepositories: %v", err)
				}
				got = append(got, r)
			}
			if len(got) != 1 || got[0].GetName() != "projects/p/locations/us-central1/repositories/images" {
				t.Fatalf("ListRepositories = %v, want the us-central1 repository only", got)
			}
			if s := got[0].GetVulnerabilityScanningConfig().GetEnablementState(); s != tt.want {
				t.Errorf("enablement state = %v, want %v", s, tt.want)
			}
		})
	}
}

func TestListRepositoriesBadParent(t *testing.T) {
	fake := artifactregistry.New(func(string, string) bool { return true })
	c := grpctest.Client(t, grpctest.Serve(t, fake.Register), ar.NewClient)
	_, err := c.ListRepositories(context.Background(), &artifactregistrypb.ListRepositoriesRequest{Parent: "projects/p"}).Next()
	grpctest.WantCode(t, err, codes.InvalidArgument)
}
