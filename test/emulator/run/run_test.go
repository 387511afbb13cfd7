package run_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	runapi "cloud.google.com/go/run/apiv2"
	"cloud.google.com/go/run/apiv2/runpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
	"github.com/cloudcoop/coopguard/test/emulator/run"
)

// start serves a fresh fake on loopback and returns it with an official
// client connected over gRPC.
func start(t *testing.T) (*run.Server, *runapi.ServicesClient) {
	t.Helper()
	fake := run.New(func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) })
	return fake, grpctest.Client(t, grpctest.Serve(t, fake.Register), runapi.NewServicesClient)
}

const invoker = "serviceAccount:coopguard-invoker@p.iam.gserviceaccount.com"

func TestGetService(t *testing.T) {
	fake, c := start(t)
	fake.SeedService("p", "us-central1", "coopguard-status", []string{invoker})
	tests := []struct {
		name, svc string
		want      codes.Code
		msg       string
	}{
		{"seeded", "projects/p/locations/us-central1/services/coopguard-status", codes.OK, ""},
		{"missing", "projects/p/locations/us-central1/services/coopguard-provision", codes.NotFound,
			"Resource 'coopguard-provision' of kind 'SERVICE' in region 'us-central1' in project 'p' does not exist."},
		{"other region", "projects/p/locations/europe-west1/services/coopguard-status", codes.NotFound, ""},
		{"upper case id", "projects/p/locations/us-central1/services/Status", codes.InvalidArgument, ""},
		{"bad name", "projects/p/services/coopguard-status", codes.InvalidArgument, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.GetService(context.Background(), &runpb.GetServiceRequest{Name: tt.svc})
			grpctest.WantCode(t, err, tt.want)
			if tt.msg != "" && status.Convert(err).Message() != tt.msg {
				t.Errorf("message = %q, want %q", status.Convert(err).Message(), tt.msg)
			}
			if err == nil && (got.Name != tt.svc || got.Uri == "" || got.Generation != 1) {
				t.Errorf("service = %v", got)
			}
		})
	}
}

func TestListServicesPages(t *testing.T) {
	fake, c := start(t)
	for _, n := range []string{"e", "c", "a", "d", "b"} {
		fake.SeedService("p", "us-central1", n, nil)
	}
	fake.SeedService("p", "europe-west1", "z", nil)
	fake.SeedService("q", "us-central1", "y", nil)
	tests := []struct {
		name   string
		parent string
		want   []string
		code   codes.Code
	}{
		{"region", "projects/p/locations/us-central1", []string{"a", "b", "c", "d", "e"}, codes.OK},
		{"other region", "projects/p/locations/europe-west1", []string{"z"}, codes.OK},
		{"empty", "projects/p/locations/asia-east1", nil, codes.OK},
		{"wildcard refused", "projects/p/locations/-", nil, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			it := c.ListServices(context.Background(), &runpb.ListServicesRequest{Parent: tt.parent, PageSize: 2})
			var got []string
			for {
				svc, err := it.Next()
				if errors.Is(err, iterator.Done) {
					break
				}
				if err != nil {
					grpctest.WantCode(t, err, tt.code)
					return
				}
				got = append(got, svc.Name[len(tt.parent+"/services/"):])
			}
			grpctest.WantCode(t, nil, tt.code)
			if len(got) != len(tt.want) {
				t.Fatalf("services = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("services = %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestServiceIamPolicy(t *testing.T) {
	const name = "projects/p/locations/us-central1/services/coopguard-status"
	tests := []struct {
		name     string
		invokers []string
		set      func(etag []byte) *iampb.Policy
		want     []string
		code     codes.Code
	}{
		{"seeded invokers", []string{invoker}, nil, []string{invoker}, codes.OK},
		{"no invokers, no binding", nil, nil, nil, codes.OK},
		{"made public", []string{invoker}, func(etag []byte) *iampb.Policy {
			return &iampb.Policy{Etag: etag, Bindings: []*iampb.Binding{{Role: run.InvokerRole, Members: []string{invoker, "allUsers"}}}}
		}, []string{invoker, "allUsers"}, codes.OK},
		{"stale etag", []string{invoker}, func([]byte) *iampb.Policy {
			return &iampb.Policy{Etag: []byte("old"), Bindings: []*iampb.Binding{{Role: run.InvokerRole, Members: []string{"allUsers"}}}}
		}, []string{invoker}, codes.Aborted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := start(t)
			fake.SeedService("p", "us-central1", "coopguard-status", tt.invokers)
			ctx := context.Background()
			p, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name})
			if err != nil {
				t.Fatal(err)
			}
			if tt.set != nil {
				_, err := c.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: tt.set(p.Etag)})
				grpctest.WantCode(t, err, tt.code)
				if p, err = c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name}); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, b := range p.GetBindings() {
				if b.Role == run.InvokerRole {
					got = append(got, b.Members...)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("invokers = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("invokers = %v, want %v", got, tt.want)
				}
			}
		})
	}
	t.Run("missing service", func(t *testing.T) {
		_, c := start(t)
		_, err := c.GetIamPolicy(context.Background(), &iampb.GetIamPolicyRequest{Resource: name})
		grpctest.WantCode(t, err, codes.NotFound)
	})
}

func TestInvokerIAMDisabled(t *testing.T) {
	fake, c := start(t)
	fake.SeedService("p", "us-central1", "coopguard-status", nil)
	fake.SetInvokerIAMDisabled("p", "us-central1", "coopguard-status", true)
	got, err := c.GetService(context.Background(), &runpb.GetServiceRequest{Name: "projects/p/locations/us-central1/services/coopguard-status"})
	if err != nil {
		t.Fatal(err)
	}
	if !got.InvokerIamDisabled {
		t.Error("invoker_iam_disabled not set")
	}
}
