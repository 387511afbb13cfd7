package events

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Attribute names that identify the kind of a Pub/Sub message.
const (
	// AttrSchedulerJob is set by coopguard's Cloud Scheduler jobs (value: the job's purpose).
	AttrSchedulerJob = "coopguard-job"
	// AttrSecretEventType is set by Secret Manager on its notifications.
	AttrSecretEventType = "eventType"
	// AttrLogTimestamp is set by Cloud Logging on entries a sink publishes.
	AttrLogTimestamp = "logging.googleapis.com/timestamp"
)

// Kind is what a Pub/Sub message carries, judged from its attributes only.
type Kind int

// Message kinds recognised by Classify.
const (
	KindUnknown Kind = iota
	KindScheduler
	KindSecretEvent
	KindLogEntry
)

// String names the kind for logs.
func (k Kind) String() string {
	switch k {
	case KindScheduler:
		return "scheduler"
	case KindSecretEvent:
		return "secret-event"
	case KindLogEntry:
		return "log-entry"
	default:
		return "unknown"
	}
}

// Classify tells apart the messages that share a topic or a function
// (RotateKeys receives both Scheduler jobs and Secret Manager notifications)
// without decoding their data. Monitoring incidents carry no attributes and
// classify as KindUnknown.
func Classify(msg PubSubMessage) Kind {
	switch {
	case msg.Attributes[AttrSchedulerJob] != "":
		return KindScheduler
	case msg.Attributes[AttrSecretEventType] != "":
		return KindSecretEvent
	case msg.Attributes[AttrLogTimestamp] != "":
		return KindLogEntry
	default:
		return KindUnknown
	}
}

// SecretEvent is a Secret Manager notification.
type SecretEvent struct {
	// EventType is e.g. SECRET_ROTATE, SECRET_UPDATE, SECRET_VERSION_ADD.
	EventType string
	// SecretID is the full secret name, "projects/<number>/secrets/<id>".
	SecretID string
	// VersionID is the full version name for version events, else "".
	VersionID string
	// DataFormat is the format of the data ("JSON_API_V1").
	DataFormat string
	// Timestamp is when the event happened (zero if absent).
	Timestamp time.Time
	// Secret is the decoded data: the Secret (or, for version events, the
	// SecretVersion, whose name and state fill Name and State).
	Secret Secret
}

// SecretName returns the short secret id, e.g. "anthropic-api-key", which is
// how config names managed secrets.
func (e SecretEvent) SecretName() string {
	_, name, ok := strings.Cut(e.SecretID, "/secrets/")
	if !ok {
		return e.SecretID
	}
	name, _, _ = strings.Cut(name, "/")
	return name
}

// Secret is the part of the Secret Manager Secret resource coopguard reads.
type Secret struct {
	// Name is the full resource name.
	Name string
	// Labels are the secret's labels (coopguard marks managed ones).
	Labels map[string]string
	// Etag is the secret's etag, for conditional updates.
	Etag string
	// CreateTime is when the secret was created.
	CreateTime time.Time
	// NextRotationTime and RotationPeriod are the rotation schedule, zero if none.
	NextRotationTime time.Time
	RotationPeriod   time.Duration
	// Topics are the notification topics' full names.
	Topics []string
	// State is set for SecretVersion payloads (ENABLED, DISABLED, DESTROYED).
	State string
}

type secretWire struct {
	Name       string          `json:"name"`
	Labels     json.RawMessage `json:"labels"`
	Etag       string          `json:"etag"`
	CreateTime string          `json:"createTime"`
	State      string          `json:"state"`
	Rotation   *struct {
		NextRotationTime string `json:"nextRotationTime"`
		RotationPeriod   string `json:"rotationPeriod"`
	} `json:"rotation"`
	Topics []struct {
		Name string `json:"name"`
	} `json:"topics"`
}

const formatSecretEvent = "secret manager notification"

// DecodeSecretEvent decodes a Secret Manager notification from its Pub/Sub
// attributes and data. Attributes eventType and secretId are required; empty
// data is tolerated (the event alone says what happened).
func DecodeSecretEvent(attrs map[string]string, data []byte) (SecretEvent, error) {
	if len(data) > MaxPayloadSize {
		return SecretEvent{}, checkSize(formatSecretEvent, data)
	}
	out := SecretEvent{
		EventType:  attrs[AttrSecretEventType],
		SecretID:   attrs["secretId"],
		VersionID:  attrs["versionId"],
		DataFormat: attrs["dataFormat"],
	}
	if out.EventType == "" {
		return SecretEvent{}, undecodable(formatSecretEvent, "attribute eventType: missing")
	}
	if out.SecretID == "" {
		return SecretEvent{}, undecodable(formatSecretEvent, "attribute secretId: missing")
	}
	var err error
	if out.Timestamp, err = parseTime(attrs["timestamp"]); err != nil {
		return SecretEvent{}, undecodable(formatSecretEvent, "attribute timestamp: %v", err)
	}
	if len(data) == 0 {
		return out, nil
	}
	if out.DataFormat != "" && out.DataFormat != "JSON_API_V1" {
		return SecretEvent{}, undecodable(formatSecretEvent, "attribute dataFormat: unsupported format")
	}
	var w secretWire
	if err := json.Unmarshal(data, &w); err != nil {
		return SecretEvent{}, jsonError(formatSecretEvent, err)
	}
	s := Secret{Name: w.Name, Etag: w.Etag, State: w.State}
	if s.Labels, err = flexLabels(w.Labels); err != nil {
		return SecretEvent{}, undecodable(formatSecretEvent, "field labels: %v", err)
	}
	if s.CreateTime, err = parseTime(w.CreateTime); err != nil {
		return SecretEvent{}, undecodable(formatSecretEvent, "field createTime: %v", err)
	}
	if w.Rotation != nil {
		if s.NextRotationTime, err = parseTime(w.Rotation.NextRotationTime); err != nil {
			return SecretEvent{}, undecodable(formatSecretEvent, "field rotation.nextRotationTime: %v", err)
		}
		if s.RotationPeriod, err = parseProtoDuration(w.Rotation.RotationPeriod); err != nil {
			return SecretEvent{}, undecodable(formatSecretEvent, "field rotation.rotationPeriod: %v", err)
		}
	}
	for _, t := range w.Topics {
		s.Topics = append(s.Topics, t.Name)
	}
	out.Secret = s
	return out, nil
}

// EncodeSecretEvent is the inverse of DecodeSecretEvent: the attributes and
// data of the notification. Tests and the emulated Secret Manager use it.
func EncodeSecretEvent(e SecretEvent) (map[string]string, []byte, error) {
	attrs := map[string]string{AttrSecretEventType: e.EventType, "secretId": e.SecretID}
	for k, v := range map[string]string{"versionId": e.VersionID, "dataFormat": e.DataFormat, "timestamp": formatTime(e.Timestamp)} {
		if v != "" {
			attrs[k] = v
		}
	}
	type topic struct {
		Name string `json:"name"`
	}
	type rotation struct {
		NextRotationTime string `json:"nextRotationTime,omitempty"`
		RotationPeriod   string `json:"rotationPeriod,omitempty"`
	}
	s := e.Secret
	w := struct {
		Name       string            `json:"name,omitempty"`
		Labels     map[string]string `json:"labels,omitempty"`
		Etag       string            `json:"etag,omitempty"`
		CreateTime string            `json:"createTime,omitempty"`
		State      string            `json:"state,omitempty"`
		Rotation   *rotation         `json:"rotation,omitempty"`
		Topics     []topic           `json:"topics,omitempty"`
	}{Name: s.Name, Labels: s.Labels, Etag: s.Etag, CreateTime: formatTime(s.CreateTime), State: s.State}
	if !s.NextRotationTime.IsZero() || s.RotationPeriod != 0 {
		w.Rotation = &rotation{NextRotationTime: formatTime(s.NextRotationTime)}
		if s.RotationPeriod != 0 {
			w.Rotation.RotationPeriod = strconv.FormatFloat(s.RotationPeriod.Seconds(), 'f', -1, 64) + "s"
		}
	}
	for _, t := range s.Topics {
		w.Topics = append(w.Topics, topic{t})
	}
	data, err := json.Marshal(w)
	if err != nil {
		return nil, nil, fmt.Errorf("events.EncodeSecretEvent: %w", err)
	}
	return attrs, data, nil
}

// parseProtoDuration reads a google.protobuf.Duration in JSON form ("7776000s",
// "1.5s"); "" is zero.
func parseProtoDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	num, ok := strings.CutSuffix(s, "s")
	if !ok {
		return 0, fmt.Errorf("want a duration like \"3600s\"")
	}
	secs, frac, _ := strings.Cut(num, ".")
	n, err := strconv.ParseInt(secs, 10, 64)
	// ±315,576,000,000 s is protobuf's range, but time.Duration holds ~292 years.
	if err != nil || n < 0 || n > int64((1<<63-1)/time.Second)-1 {
		return 0, fmt.Errorf("want non-negative whole seconds within range")
	}
	d := time.Duration(n) * time.Second
	if frac != "" {
		if len(frac) > 9 || strings.Trim(frac, "0123456789") != "" {
			return 0, fmt.Errorf("want at most nanosecond precision")
		}
		ns, _ := strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
		d += time.Duration(ns)
	}
	return d, nil
}

// SchedulerMessage is a message from one of coopguard's Cloud Scheduler
// jobs: exactly the job's configured attributes and body.
type SchedulerMessage struct {
	// Job is the value of the coopguard-job attribute, e.g. "rotate-keys".
	Job string
	// Reason is the body's "reason" field, if any.
	Reason string
	// Body is the whole decoded body (nil if empty), for job-specific fields.
	Body map[string]any
}

const formatScheduler = "scheduler message"

// DecodeSchedulerMessage decodes a Scheduler job message. The coopguard-job
// attribute is required; the body, if any, must be a JSON object.
func DecodeSchedulerMessage(msg PubSubMessage) (SchedulerMessage, error) {
	if len(msg.Data) > MaxPayloadSize {
		return SchedulerMessage{}, checkSize(formatScheduler, msg.Data)
	}
	out := SchedulerMessage{Job: msg.Attributes[AttrSchedulerJob]}
	if out.Job == "" {
		return SchedulerMessage{}, undecodable(formatScheduler, "attribute %s: missing", AttrSchedulerJob)
	}
	if len(msg.Data) == 0 {
		return out, nil
	}
	body, err := decodeObject(msg.Data)
	if err != nil {
		return SchedulerMessage{}, undecodable(formatScheduler, "data: %v", err)
	}
	out.Body = body
	if r, ok := body["reason"]; ok {
		s, ok := r.(string)
		if !ok {
			return SchedulerMessage{}, undecodable(formatScheduler, "field reason: want a string, got %s", jsonKind(r))
		}
		out.Reason = s
	}
	return out, nil
}
