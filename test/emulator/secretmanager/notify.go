package secretmanager

import (
	"context"
	"maps"
	"slices"
	"strings"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Event types of the notifications the service publishes to a secret's
// topics (event notifications reference).
const (
	EventSecretCreate            = "SECRET_CREATE"
	EventSecretUpdate            = "SECRET_UPDATE"
	EventSecretDelete            = "SECRET_DELETE"
	EventSecretRotate            = "SECRET_ROTATE"
	EventVersionAdd              = "SECRET_VERSION_ADD"
	EventVersionEnable           = "SECRET_VERSION_ENABLE"
	EventVersionDisable          = "SECRET_VERSION_DISABLE"
	EventVersionDestroy          = "SECRET_VERSION_DESTROY"
	EventVersionDestroyScheduled = "SECRET_VERSION_DESTROY_SCHEDULED"
)

// dataFormat is the one format of a notification's data: the resource as
// the API's JSON; timestampLayout is its timestamp attribute, to the
// microsecond as in the reference's samples.
const (
	dataFormat      = "JSON_API_V1"
	timestampLayout = "2006-01-02T15:04:05.000000Z07:00"
)

// Publisher publishes one message to a Pub/Sub topic (projects/P/topics/T).
// It is called in the order of the changes, never with the Server's lock
// held: a publish that blocks (a Pub/Sub under load) holds up only the
// call whose change it announces, not the Server's other calls.
type Publisher func(ctx context.Context, topic string, data []byte, attrs map[string]string) error

// SetPublisher makes the fake publish its event notifications with p (nil:
// none, the default). The emulator points it at its Pub/Sub.
func (s *Server) SetPublisher(p Publisher) {
	s.mu.Lock()
	defer s.unlock()
	s.publish = p
}

// notify publishes one event about sec (and v, for version events) to
// each of sec's topics: attributes eventType, secretId, versionId,
// dataFormat and timestamp, data the resource in the API's JSON form.
// Delivery is the service's business, not the caller's: a failed publish
// does not fail the call that caused it. Callers hold s.mu; the messages
// are queued and published once it is released (see unlock).
func (s *Server) notify(ctx context.Context, event string, sec *secretmanagerpb.Secret, v *secretmanagerpb.SecretVersion) {
	if s.publish == nil || len(sec.GetTopics()) == 0 {
		return
	}
	var res proto.Message = sec
	attrs := map[string]string{
		"eventType":  event,
		"secretId":   sec.GetName(),
		"dataFormat": dataFormat,
		"timestamp":  s.now().UTC().Format(timestampLayout),
	}
	if v != nil {
		res = v
		attrs["versionId"] = v.GetName()
	}
	data, err := protojson.Marshal(res)
	if err != nil {
		return // cannot happen for these messages
	}
	s.outMu.Lock()
	defer s.outMu.Unlock()
	for _, t := range sec.GetTopics() {
		s.outbox = append(s.outbox, outgoing{ctx: context.WithoutCancel(ctx), publish: s.publish, topic: t.GetName(), data: data, attrs: maps.Clone(attrs)})
	}
}

// outgoing is a notification queued under s.mu, published after it.
type outgoing struct {
	ctx     context.Context
	publish Publisher
	topic   string
	data    []byte
	attrs   map[string]string
}

// unlock releases s.mu, then publishes the notifications queued under it.
func (s *Server) unlock() {
	s.mu.Unlock()
	s.flush()
}

// flush publishes the queued notifications in the order they were queued.
// One caller publishes at a time; a caller that finds another publishing
// leaves its notifications to it and returns, so a blocked publish stalls
// only the call that is publishing.
func (s *Server) flush() {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	if s.flushing {
		return
	}
	s.flushing = true
	for len(s.outbox) > 0 {
		m := s.outbox[0]
		s.outbox = s.outbox[1:]
		s.outMu.Unlock()
		_ = m.publish(m.ctx, m.topic, m.data, m.attrs)
		s.outMu.Lock()
	}
	s.flushing = false
}

// notifyVersion publishes a version event to the topics of the version's
// secret. Callers hold s.mu.
func (s *Server) notifyVersion(ctx context.Context, event string, v *secretmanagerpb.SecretVersion) {
	sec, ok := s.secrets[strings.SplitN(v.GetName(), "/versions/", 2)[0]]
	if !ok {
		return
	}
	s.notify(ctx, event, sec, v)
}

// FireDueRotations sends SECRET_ROTATE for every secret whose
// next_rotation_time has come on the fake's clock, and moves that time on
// by the rotation period (past now), or clears it when the secret has no
// period, as the service does when it sends a rotation notification. The
// emulator's clock owner calls it whenever time moves; it returns the
// names of the secrets it fired for.
func (s *Server) FireDueRotations(ctx context.Context) []string {
	s.mu.Lock()
	defer s.unlock()
	now := s.now()
	var fired []string
	for _, name := range slices.Sorted(maps.Keys(s.secrets)) {
		sec := s.secrets[name]
		r := sec.GetRotation()
		if r.GetNextRotationTime() == nil || r.GetNextRotationTime().AsTime().After(now) {
			continue
		}
		s.notify(ctx, EventSecretRotate, sec, nil)
		fired = append(fired, name)
		next := sec.Rotation.NextRotationTime.AsTime()
		if p := r.GetRotationPeriod().AsDuration(); p > 0 {
			for !next.After(now) {
				next = next.Add(p)
			}
			sec.Rotation.NextRotationTime = timestamppb.New(next)
		} else {
			sec.Rotation.NextRotationTime = nil
		}
		sec.Etag = s.newEtag()
	}
	return fired
}
