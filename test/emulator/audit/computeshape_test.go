package audit_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/test/emulator"
)

// TestComputeAnswersBehindIAM pins, through the emulated IAM in front of
// Compute, two recorded details: an operation's `user` is the caller who
// asked for it, and Compute's errors, a permission denial included, have
// no `status` member.
func TestComputeAnswersBehindIAM(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	op := w.clients(t, emulator.Operator)
	ins, err := op.Networks.Insert(ctx, &computepb.InsertNetworkRequest{Project: project, NetworkResource: &computepb.Network{
		Name: proto.String("vpc"), AutoCreateSubnetworks: proto.Bool(false),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ins.Proto().GetUser(); got != emulator.Operator {
		t.Errorf("operation user = %q, want the caller %q", got, emulator.Operator)
	}
	if err := ins.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = w.clients(t, someone).Networks.Get(ctx, &computepb.GetNetworkRequest{Project: project, Network: "vpc"})
	var ge *googleapi.Error
	if !errors.As(err, &ge) || ge.Code != http.StatusForbidden {
		t.Fatalf("get by someone without a role = %v, want 403", err)
	}
	if strings.Contains(ge.Body, `"status"`) || len(ge.Errors) != 1 || ge.Errors[0].Reason != "forbidden" {
		t.Errorf("403 body %s: want Compute's shape, errors [{reason forbidden}] and no status", ge.Body)
	}
}
