package actions

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// findOperation finds the zonal operation that requestId rid started
// (Compute echoes it as clientOperationId), as it is now: nil, with no
// error, when there is none (the change, if any, was not this incident's).
// It never waits: a retry, a redelivery or a follow-up thus reports the
// change this incident made instead of "already", without holding a
// request while the operation runs.
func findOperation(ctx context.Context, c *gcp.Clients, t *Target, rid string) (*computepb.Operation, error) {
	it := c.ZoneOperations.List(ctx, &computepb.ListZoneOperationsRequest{
		Project: t.Project, Zone: t.Zone,
		Filter: proto.String(fmt.Sprintf("clientOperationId = %q", rid)),
	})
	op, err := it.Next()
	if errors.Is(err, iterator.Done) {
		return nil, nil
	}
	if err != nil {
		return nil, errorf(err, "look up the operation of request %s in %s", rid, t.Zone)
	}
	return op, nil
}

// operationError is the error a DONE operation ended with, or nil.
func operationError(op *computepb.Operation) error {
	if op.GetStatus() != computepb.Operation_DONE {
		return nil
	}
	if code := op.GetHttpErrorStatusCode(); code != 0 && (code < 200 || code > 299) {
		return fmt.Errorf("operation %s (%s) failed: %d %s", op.GetName(), op.GetOperationType(), code, op.GetError().String())
	}
	return nil
}

// requestChain follows the operations one incident requested for one
// change, each after the one before failed: the first under requestId
// base, each next under a requestId naming the failed operation. It
// returns the newest operation (nil when the next request has not been
// made), the requestId of the next request, how many were requested and
// the newest failure.
func requestChain(ctx context.Context, c *gcp.Clients, t *Target, base string) (op *computepb.Operation, next string, requested int, failed error, err error) {
	rid := base
	for {
		found, err := findOperation(ctx, c, t, rid)
		if err != nil || found == nil {
			return op, rid, requested, failed, err
		}
		op, requested = found, requested+1
		if failed = operationError(found); failed == nil {
			return op, "", requested, nil, nil
		}
		rid = *gcp.RequestID(base, "after", found.GetName())
	}
}

// resumed reports whether the instance's current state is this incident's
// own power change (kind "stop" or "start", requested by an attempt that
// timed out or a delivery that died): out is then done, naming it; false
// leaves out alone.
func resumed(ctx context.Context, c *gcp.Clients, t *Target, kind string, out *Outcome) (bool, error) {
	if t.DryRun {
		return false, nil
	}
	op, err := findOperation(ctx, c, t, *requestID(t, kind))
	if err == nil && op != nil {
		err = operationError(op)
	}
	if err != nil {
		return false, errorf(err, "%s %s", kind, t.instanceRef())
	}
	if op == nil {
		return false, nil
	}
	out.Result, out.Changed = incident.ResultDone, []string{t.instanceRef()}
	out.Detail = kind + " requested (this incident's, resumed); VM is " + t.Instance.GetStatus()
	return true, nil
}
