package gcp

import (
	"context"
	"strconv"
	"strings"
	"sync"

	compute "cloud.google.com/go/compute/apiv1"
	"github.com/google/uuid"
)

// burned holds request ids whose operation ended in error. Compute answers
// a reused request id with the same operation, so a failed one must never
// be sent again: the next attempt gets the next id in its sequence.
var burned sync.Map

// RequestID is the Compute requestId of one mutation, named by parts (the
// resource, the desired change). It is deterministic, so concurrent or
// retried identical mutations, in this process or another, share it and
// Compute applies them once; an id whose operation failed is skipped.
func RequestID(parts ...string) *string {
	key := "coopguard:" + strings.Join(parts, "\x00")
	for gen := 0; ; gen++ {
		id := uuid.NewSHA1(uuid.NameSpaceURL, []byte(key+"\x00"+strconv.Itoa(gen))).String()
		if _, bad := burned.Load(id); !bad {
			return &id
		}
	}
}

// Wait returns a function that waits for the Compute operation of a call
// that returned op, err; it reads as gcp.Wait(ctx)(client.Insert(...)).
// An operation that ends in error returns that error, and its request id
// is not used again.
func Wait(ctx context.Context) func(op *compute.Operation, err error) error {
	return func(op *compute.Operation, err error) error {
		if err != nil {
			return err
		}
		err = op.Wait(ctx)
		if err != nil && op.Done() {
			if id := op.Proto().GetClientOperationId(); id != "" {
				burned.Store(id, true)
			}
		}
		return err
	}
}
