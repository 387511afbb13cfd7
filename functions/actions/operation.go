package actions

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// resumeOperation finds the zonal operation that requestId rid started
// (Compute echoes it as clientOperationId) and waits until it is DONE. It
// reports false, with no error, when there is none: the change, if any,
// was not this incident's. A retry after a timed-out attempt, or a
// redelivery, thus reports the change it made instead of "already".
func resumeOperation(ctx context.Context, c *gcp.Clients, t *Target, rid string) (bool, error) {
	it := c.ZoneOperations.List(ctx, &computepb.ListZoneOperationsRequest{
		Project: t.Project, Zone: t.Zone,
		Filter: proto.String(fmt.Sprintf("clientOperationId = %q", rid)),
	})
	op, err := it.Next()
	if errors.Is(err, iterator.Done) {
		return false, nil
	}
	if err != nil {
		return false, errorf(err, "look up the operation of request %s in %s", rid, t.Zone)
	}
	// Each wait returns within about two minutes, DONE or not.
	for op.GetStatus() != computepb.Operation_DONE {
		op, err = c.ZoneOperations.Wait(ctx, &computepb.WaitZoneOperationRequest{Project: t.Project, Zone: t.Zone, Operation: op.GetName()})
		if err != nil {
			return true, errorf(err, "wait for operation %s", op.GetName())
		}
	}
	if code := op.GetHttpErrorStatusCode(); code != 0 && (code < 200 || code > 299) {
		return true, fmt.Errorf("operation %s (%s) failed: %d %s", op.GetName(), op.GetOperationType(), code, op.GetError().String())
	}
	return true, nil
}
