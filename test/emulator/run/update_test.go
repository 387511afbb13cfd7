package run_test

import (
	"context"
	"testing"

	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
)

// TestUpdateService: UpdateService through the official client replaces
// the service's template (a new image is new code) and bumps its
// generation, as a finished operation whose result is the service; a
// stale etag is ABORTED and changes nothing, validate_only changes
// nothing, an unknown service is NOT_FOUND.
func TestUpdateService(t *testing.T) {
	ctx := context.Background()
	fake, c := start(t)
	fake.SeedService("p", "us-central1", "coopguard-status", []string{invoker})
	name := "projects/p/locations/us-central1/services/coopguard-status"
	cur, err := c.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	update := func(img, etag string, validate bool) (*runpb.Service, error) {
		svc := proto.Clone(cur).(*runpb.Service)
		svc.Etag = etag
		svc.Template = &runpb.RevisionTemplate{Containers: []*runpb.Container{{Image: img}}}
		op, err := c.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: svc, ValidateOnly: validate})
		if err != nil {
			return nil, err
		}
		return op.Wait(ctx)
	}
	if _, err := update("attacker.example/x", `"stale"`, false); err != nil {
		grpctest.WantCode(t, err, codes.Aborted)
	} else {
		t.Error("UpdateService with a stale etag succeeded, want ABORTED")
	}
	if _, err := update("attacker.example/x", "", true); err != nil {
		t.Fatalf("validate_only: %v", err)
	}
	if got, _ := fake.Service("p", "us-central1", "coopguard-status"); got.GetGeneration() != 1 {
		t.Errorf("after a refused and a validate-only update: generation %d, want 1", got.GetGeneration())
	}
	got, err := update("attacker.example/x", cur.GetEtag(), false)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetGeneration() != 2 || got.GetTemplate().GetContainers()[0].GetImage() != "attacker.example/x" || got.GetEtag() == cur.GetEtag() {
		t.Errorf("updated service = generation %d image %q etag %s, want 2, the new image, a new etag", got.GetGeneration(), got.GetTemplate().GetContainers()[0].GetImage(), got.GetEtag())
	}
	missing := proto.Clone(cur).(*runpb.Service)
	missing.Name, missing.Etag = "projects/p/locations/us-central1/services/coopguard-nothing", ""
	_, err = c.UpdateService(ctx, &runpb.UpdateServiceRequest{Service: missing})
	grpctest.WantCode(t, err, codes.NotFound)
}

// TestDeleteService: DeleteService through the official client answers a
// finished operation whose result is the deleted service, after which
// the service is NOT_FOUND and another stays; a stale etag is ABORTED and
// validate_only deletes nothing; deleting again is NOT_FOUND.
func TestDeleteService(t *testing.T) {
	ctx := context.Background()
	fake, c := start(t)
	fake.SeedService("p", "us-central1", "coopguard-status", []string{invoker})
	fake.SeedService("p", "us-central1", "team-api", nil)
	name := "projects/p/locations/us-central1/services/coopguard-status"
	del := func(etag string, validate bool) (*runpb.Service, error) {
		op, err := c.DeleteService(ctx, &runpb.DeleteServiceRequest{Name: name, Etag: etag, ValidateOnly: validate})
		if err != nil {
			return nil, err
		}
		return op.Wait(ctx)
	}
	_, err := del(`"stale"`, false)
	grpctest.WantCode(t, err, codes.Aborted)
	if _, err := del("", true); err != nil {
		t.Fatalf("validate_only: %v", err)
	}
	if _, ok := fake.Service("p", "us-central1", "coopguard-status"); !ok {
		t.Fatal("a refused or validate-only DeleteService deleted the service")
	}
	got, err := del("", false)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetName() != name || got.GetDeleteTime() == nil {
		t.Errorf("DeleteService result = %s (delete time %v), want the deleted service", got.GetName(), got.GetDeleteTime())
	}
	_, err = c.GetService(ctx, &runpb.GetServiceRequest{Name: name})
	grpctest.WantCode(t, err, codes.NotFound)
	_, err = del("", false)
	grpctest.WantCode(t, err, codes.NotFound)
	if _, ok := fake.Service("p", "us-central1", "team-api"); !ok {
		t.Error("deleting one service deleted another")
	}
}
