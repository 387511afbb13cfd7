package functions

import (
	"context"
	"errors"
	"strconv"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// Message attributes coopguard reads on any event.
const (
	// AttrDryRun set to "true" makes this one event a dry run.
	AttrDryRun = "coopguard-dry-run"
	// AttrDrill set to "true" marks a fire drill (coopguard drill).
	AttrDrill = "coopguard-drill"
)

// eventContext puts a logger carrying the CloudEvent's id and type in ctx.
func eventContext(ctx context.Context, e *Env, ev event.Event) context.Context {
	return logger.WithLogger(ctx, e.Logger.With("event", ev.ID(), "eventType", ev.Type()))
}

// acknowledge logs a payload that can never be processed and returns nil,
// so Pub/Sub does not redeliver it forever. The error names the field, never
// the payload.
func acknowledge(ctx context.Context, what string, err error) error {
	if !errors.Is(err, events.ErrUndecodable) {
		// Decoders only return ErrUndecodable; anything else is a bug
		// worth seeing, but still not worth a redelivery loop.
		what += " (unexpected decoder error)"
	}
	logger.FromContext(ctx).Warn(what+": acknowledged and dropped", "error", err)
	return nil
}

// sourceOf is the incident source: drill when the message says so.
func sourceOf(msg events.PubSubMessage, def string) string {
	if msg.Attributes[AttrDrill] == "true" {
		return "drill"
	}
	return def
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// beginEvent is the prelude of every event function: a logger carrying
// the event's id, and the Pub/Sub message. done is true when the caller
// must return err at once: nil for an undecodable event (acknowledged).
func (e *Env) beginEvent(ctx context.Context, ev event.Event) (_ context.Context, _ events.PubSubMessage, done bool, err error) {
	ctx = eventContext(ctx, e, ev)
	msg, err := events.DecodePubSubEvent(ev)
	if err != nil {
		return ctx, msg, true, acknowledge(ctx, "undecodable Pub/Sub event", err)
	}
	return ctx, msg, false, nil
}
