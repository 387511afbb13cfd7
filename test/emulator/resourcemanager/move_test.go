package resourcemanager_test

import (
	"context"
	"testing"

	"cloud.google.com/go/resourcemanager/apiv3/resourcemanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestMoveProject: projects.move sets the project's parent and answers a
// done operation whose response is the moved project; a destination that
// is neither a folder nor an organization is INVALID_ARGUMENT and changes
// nothing.
func TestMoveProject(t *testing.T) {
	fake, c := start(t)
	ctx := context.Background()
	fake.SeedProject("p")
	if _, err := c.MoveProject(ctx, &resourcemanagerpb.MoveProjectRequest{Name: "projects/p", DestinationParent: "billingAccounts/1"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("move to a billing account = %v, want InvalidArgument", err)
	}
	op, err := c.MoveProject(ctx, &resourcemanagerpb.MoveProjectRequest{Name: "projects/p", DestinationParent: "folders/42"})
	if err != nil {
		t.Fatal(err)
	}
	moved, err := op.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if moved.GetParent() != "folders/42" {
		t.Errorf("moved project's parent = %q, want folders/42", moved.GetParent())
	}
	got, err := c.GetProject(ctx, &resourcemanagerpb.GetProjectRequest{Name: "projects/p"})
	if err != nil || got.GetParent() != "folders/42" {
		t.Errorf("GetProject after the move = %v, %v; want parent folders/42", got, err)
	}
}
