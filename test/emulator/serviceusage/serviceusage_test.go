package serviceusage_test

import (
	"context"
	"testing"

	su "cloud.google.com/go/serviceusage/apiv1"
	"cloud.google.com/go/serviceusage/apiv1/serviceusagepb"
	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
	"github.com/cloudcoop/coopguard/test/emulator/serviceusage"
)

// TestGetService pins FIDELITY.md's Service Usage rows: enabled services
// read ENABLED, any other DISABLED (not NotFound), bad names are refused.
func TestGetService(t *testing.T) {
	fake := serviceusage.New()
	c := grpctest.Client(t, grpctest.Serve(t, fake.Register), su.NewClient)
	fake.Enable("p", "containerscanning.googleapis.com", true)
	fake.Enable("p", "run.googleapis.com", true)
	fake.Enable("p", "run.googleapis.com", false)
	tests := []struct {
		name, svc, parent string
		code              codes.Code
		want              serviceusagepb.State
	}{
		{"enabled", "projects/p/services/containerscanning.googleapis.com", "projects/p", codes.OK, serviceusagepb.State_ENABLED},
		{"disabled again", "projects/p/services/run.googleapis.com", "projects/p", codes.OK, serviceusagepb.State_DISABLED},
		{"never enabled", "projects/p/services/compute.googleapis.com", "projects/p", codes.OK, serviceusagepb.State_DISABLED},
		{"other project", "projects/q/services/containerscanning.googleapis.com", "projects/q", codes.OK, serviceusagepb.State_DISABLED},
		{"bad name", "projects/p/containerscanning.googleapis.com", "", codes.InvalidArgument, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetService(context.Background(), &serviceusagepb.GetServiceRequest{Name: tt.svc})
			grpctest.WantCode(t, err, tt.code)
			if err == nil && (got.GetState() != tt.want || got.GetName() != tt.svc || got.GetParent() != tt.parent) {
				t.Errorf("GetService = %v, want state %v", got, tt.want)
			}
		})
	}
}
