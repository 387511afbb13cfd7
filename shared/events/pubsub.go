package events

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// PubSubMessagePublished is the CloudEvent type Eventarc uses for a message
// published to a Pub/Sub topic.
const PubSubMessagePublished = "google.cloud.pubsub.topic.v1.messagePublished"

// PubSubMessage is one Pub/Sub message as delivered by a push subscription or
// Eventarc, with its payload already base64-decoded.
type PubSubMessage struct {
	// Data is the decoded message payload; it may be empty when the message
	// carries only attributes.
	Data []byte
	// Attributes are the message attributes (nil when there are none).
	Attributes map[string]string
	// MessageID is unique per topic; handlers use it to make redeliveries harmless.
	MessageID string
	// PublishTime is when Pub/Sub accepted the message (zero if absent).
	PublishTime time.Time
	// OrderingKey is set only for ordered deliveries.
	OrderingKey string
	// Subscription is the full name of the delivering subscription.
	Subscription string
}

// pubsubWire is the push envelope. Pub/Sub sends both camelCase and
// snake_case spellings of some fields; either is accepted.
type pubsubWire struct {
	Message *struct {
		Data         *string         `json:"data"`
		Attributes   json.RawMessage `json:"attributes"`
		MessageID    string          `json:"messageId"`
		MessageIDAlt string          `json:"message_id"`
		PublishTime  string          `json:"publishTime"`
		PublishAlt   string          `json:"publish_time"`
		OrderingKey  string          `json:"orderingKey"`
	} `json:"message"`
	Subscription string `json:"subscription"`
}

const formatPubSub = "pubsub push envelope"

// DecodePubSub decodes the data of a Pub/Sub push request or of an Eventarc
// messagePublished CloudEvent: {message:{data, attributes, messageId,
// publishTime}, subscription}. message and message.messageId are required.
func DecodePubSub(data []byte) (PubSubMessage, error) {
	if err := checkSize(formatPubSub, data); err != nil {
		return PubSubMessage{}, err
	}
	var w pubsubWire
	if err := json.Unmarshal(data, &w); err != nil {
		return PubSubMessage{}, jsonError(formatPubSub, err)
	}
	if w.Message == nil {
		return PubSubMessage{}, undecodable(formatPubSub, "field message: missing")
	}
	m := w.Message
	out := PubSubMessage{
		MessageID:    firstNonEmpty(m.MessageID, m.MessageIDAlt),
		OrderingKey:  m.OrderingKey,
		Subscription: w.Subscription,
	}
	if out.MessageID == "" {
		return PubSubMessage{}, undecodable(formatPubSub, "field message.messageId: missing")
	}
	if m.Data != nil && *m.Data != "" {
		b, err := decodeBase64(*m.Data)
		if err != nil {
			return PubSubMessage{}, undecodable(formatPubSub, "field message.data: not base64")
		}
		out.Data = b
	}
	attrs, err := flexLabels(m.Attributes)
	if err != nil {
		return PubSubMessage{}, undecodable(formatPubSub, "field message.attributes: %v", err)
	}
	out.Attributes = attrs
	if out.PublishTime, err = parseTime(firstNonEmpty(m.PublishTime, m.PublishAlt)); err != nil {
		return PubSubMessage{}, undecodable(formatPubSub, "field message.publishTime: %v", err)
	}
	return out, nil
}

// DecodePubSubEvent checks that e is a Pub/Sub messagePublished CloudEvent
// and decodes its data. Any other event type is undecodable for a Pub/Sub
// triggered function.
func DecodePubSubEvent(e event.Event) (PubSubMessage, error) {
	if t := e.Type(); t != PubSubMessagePublished {
		return PubSubMessage{}, undecodable("cloudevent", "type %q is not %s", t, PubSubMessagePublished)
	}
	return DecodePubSub(e.Data())
}

// EncodePubSub is the inverse of DecodePubSub: it renders m as a push
// envelope. Tests and the emulated push path use it.
func EncodePubSub(m PubSubMessage) ([]byte, error) {
	type msg struct {
		Data        string            `json:"data,omitempty"`
		Attributes  map[string]string `json:"attributes,omitempty"`
		MessageID   string            `json:"messageId"`
		PublishTime string            `json:"publishTime,omitempty"`
		OrderingKey string            `json:"orderingKey,omitempty"`
	}
	w := struct {
		Message      msg    `json:"message"`
		Subscription string `json:"subscription,omitempty"`
	}{
		Message: msg{
			Data:        base64.StdEncoding.EncodeToString(m.Data),
			Attributes:  m.Attributes,
			MessageID:   m.MessageID,
			PublishTime: formatTime(m.PublishTime),
			OrderingKey: m.OrderingKey,
		},
		Subscription: m.Subscription,
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("events.EncodePubSub: %w", err)
	}
	return b, nil
}

// decodeBase64 accepts standard base64 with or without padding; Pub/Sub
// sends padded standard encoding, hand-written test payloads often do not.
func decodeBase64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
