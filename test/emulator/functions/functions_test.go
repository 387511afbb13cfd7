package functions_test

import (
	"context"
	"testing"

	fnapi "cloud.google.com/go/functions/apiv2"
	"cloud.google.com/go/functions/apiv2/functionspb"
	"cloud.google.com/go/iam/apiv1/iampb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	gstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/cloudcoop/coopguard/test/emulator/functions"
	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
)

const name = "projects/p/locations/us-central1/functions/coopguard-handle-log-entry"

func start(t *testing.T) (*functions.Server, *fnapi.FunctionClient) {
	t.Helper()
	fake := functions.New(nil)
	opts := grpctest.Serve(t, func(g *grpc.Server) { fake.Register(g) })
	return fake, grpctest.Client(t, opts, fnapi.NewFunctionClient)
}

// TestUpdateFunction: through the official client, UpdateFunction changes
// only the fields its update mask names, keeps the output-only service,
// and answers a finished operation whose result is the function; an
// output-only path or an unknown field is INVALID_ARGUMENT and changes
// nothing; an unknown function is NOT_FOUND.
func TestUpdateFunction(t *testing.T) {
	ctx := context.Background()
	fake, c := start(t)
	fake.SeedFunction("p", "us-central1", "coopguard-handle-log-entry", "HandleLogEntry", "coopguard-responder@p.iam.gserviceaccount.com")
	cur, err := c.GetFunction(ctx, &functionspb.GetFunctionRequest{Name: name})
	if err != nil || cur.GetBuildConfig().GetEntryPoint() != "HandleLogEntry" || cur.GetState() != functionspb.Function_ACTIVE {
		t.Fatalf("GetFunction = %v, %v", cur, err)
	}
	update := func(paths ...string) (*functionspb.Function, error) {
		in := &functionspb.Function{Name: name, Description: "changed",
			BuildConfig:   &functionspb.BuildConfig{EntryPoint: "Backdoor"},
			ServiceConfig: &functionspb.ServiceConfig{ServiceAccountEmail: "x@p.iam.gserviceaccount.com", Service: "projects/p/locations/us-central1/services/elsewhere"}}
		op, err := c.UpdateFunction(ctx, &functionspb.UpdateFunctionRequest{Function: in, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		if err != nil {
			return nil, err
		}
		return op.Wait(ctx)
	}
	for _, bad := range []string{"state", "service_config.service", "no_such_field"} {
		if _, err := update(bad); status(err) != codes.InvalidArgument {
			t.Errorf("UpdateFunction mask %q = %v, want INVALID_ARGUMENT", bad, err)
		}
	}
	if got, _ := fake.Function(name); got.GetDescription() != "" || got.GetBuildConfig().GetEntryPoint() != "HandleLogEntry" {
		t.Fatalf("a refused update changed the function: %v", got)
	}
	got, err := update("build_config.entry_point")
	if err != nil {
		t.Fatal(err)
	}
	if got.GetBuildConfig().GetEntryPoint() != "Backdoor" || got.GetDescription() != "" || got.GetBuildConfig().GetRuntime() != "go125" ||
		got.GetServiceConfig().GetServiceAccountEmail() != "coopguard-responder@p.iam.gserviceaccount.com" {
		t.Errorf("masked update = %v, want only the entry point changed", got)
	}
	got, err = update()
	if err != nil {
		t.Fatal(err)
	}
	if got.GetDescription() != "changed" || got.GetServiceConfig().GetServiceAccountEmail() != "x@p.iam.gserviceaccount.com" ||
		got.GetServiceConfig().GetService() != "projects/p/locations/us-central1/services/coopguard-handle-log-entry" {
		t.Errorf("unmasked update = %v, want every settable field, the service kept", got)
	}
	if _, err := update(); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetFunction(ctx, &functionspb.GetFunctionRequest{Name: "projects/p/locations/us-central1/functions/nope"})
	if status(err) != codes.NotFound {
		t.Errorf("GetFunction of an unknown function = %v, want NOT_FOUND", err)
	}
}

// TestFunctionIamPolicy: the official client's Get/SetIamPolicy (the
// IAMPolicy mixin) read and replace a function's bindings; a stale etag
// is ABORTED; a resource that is not a function is refused.
func TestFunctionIamPolicy(t *testing.T) {
	ctx := context.Background()
	fake, c := start(t)
	fake.SeedFunction("p", "us-central1", "coopguard-handle-log-entry", "HandleLogEntry", "r@p.iam.gserviceaccount.com")
	pol, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: name})
	if err != nil || len(pol.GetBindings()) != 0 {
		t.Fatalf("GetIamPolicy = %v, %v; want no bindings", pol, err)
	}
	open := []*iampb.Binding{{Role: "roles/cloudfunctions.invoker", Members: []string{"allUsers"}}}
	if _, err := c.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: &iampb.Policy{Bindings: open, Etag: []byte("stale")}}); status(err) != codes.Aborted {
		t.Errorf("SetIamPolicy with a stale etag = %v, want ABORTED", err)
	}
	if _, err := c.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: name, Policy: &iampb.Policy{Bindings: open, Etag: pol.GetEtag()}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := fake.Policy(name); len(got.GetBindings()) != 1 || got.GetBindings()[0].GetMembers()[0] != "allUsers" {
		t.Errorf("policy after SetIamPolicy = %v, want allUsers invoker", got)
	}
	if _, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: "projects/p/secrets/s"}); status(err) != codes.InvalidArgument {
		t.Errorf("GetIamPolicy of a secret = %v, want INVALID_ARGUMENT", err)
	}
}

// status is err's gRPC code.
func status(err error) codes.Code { return gstatus.Code(err) }

// TestDeleteFunction: through the official client, DeleteFunction answers
// a finished operation (metadata verb "delete" naming the function) and
// the function and its IAM policy are gone; deleting it again, or a
// function that never was, is NOT_FOUND; another function stays.
func TestDeleteFunction(t *testing.T) {
	ctx := context.Background()
	fake, c := start(t)
	fake.SeedFunction("p", "us-central1", "coopguard-handle-log-entry", "HandleLogEntry", "coopguard-responder@p.iam.gserviceaccount.com")
	fake.SeedFunction("p", "us-central1", "team-api", "Serve", "team-api@p.iam.gserviceaccount.com")
	del := func(n string) error {
		op, err := c.DeleteFunction(ctx, &functionspb.DeleteFunctionRequest{Name: n})
		if err != nil {
			return err
		}
		if err := op.Wait(ctx); err != nil {
			return err
		}
		md, err := op.Metadata()
		if err != nil {
			return err
		}
		if md.GetVerb() != "delete" || md.GetTarget() != n {
			t.Errorf("DeleteFunction operation metadata = %v, want verb delete on %s", md, n)
		}
		return nil
	}
	if err := del(name); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetFunction(ctx, &functionspb.GetFunctionRequest{Name: name}); status(err) != codes.NotFound {
		t.Errorf("GetFunction of a deleted function = %v, want NOT_FOUND", err)
	}
	if _, ok := fake.Policy(name); ok {
		t.Errorf("a deleted function kept its IAM policy")
	}
	for _, n := range []string{name, "projects/p/locations/us-central1/functions/nope"} {
		if err := del(n); status(err) != codes.NotFound {
			t.Errorf("DeleteFunction %s = %v, want NOT_FOUND", n, err)
		}
	}
	if err := del("projects/p/functions/x"); status(err) != codes.InvalidArgument {
		t.Errorf("DeleteFunction of a malformed name = %v, want INVALID_ARGUMENT", err)
	}
	if _, ok := fake.Function("projects/p/locations/us-central1/functions/team-api"); !ok {
		t.Errorf("deleting one function deleted another")
	}
}
