package events

import (
	"errors"
	"reflect"
	"testing"
)

// The fuzz targets check two properties of every decoder: it never panics
// and fails only with ErrUndecodable; and a decoded value, re-encoded and
// decoded again, comes back equal (the decoder's normalisation is stable).

func FuzzDecodePubSub(f *testing.F) {
	f.Add(pushBody(f))
	f.Add([]byte(`{"message":{"data":"eyJhIjoxfQ","message_id":"9","publish_time":"2026-01-02T03:04:05Z","attributes":{"n":3}}}`))
	f.Add([]byte(`{"message":{"messageId":"1"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodePubSub(data)
		if err != nil {
			mustBeUndecodable(t, err)
			return
		}
		b, err := EncodePubSub(m)
		if err != nil {
			t.Fatalf("EncodePubSub: %v", err)
		}
		m2, err := DecodePubSub(b)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if len(m.Data) == 0 {
			m.Data = nil // "" and absent data both decode to no data
		}
		assertEqual(t, m, m2)
	})
}

func FuzzDecodeIncident(f *testing.F) {
	for _, s := range samplesWithPrefix(f, "monitoring-") {
		f.Add(s)
	}
	f.Add([]byte(`{"version":"1.2","incident":{"incident_id":"i","state":"Closed","started_at":"1795341600","observed_value":0.973}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeIncident(data)
		if err != nil {
			mustBeUndecodable(t, err)
			return
		}
		b, err := EncodeIncident(m)
		if err != nil {
			t.Fatalf("EncodeIncident: %v", err)
		}
		m2, err := DecodeIncident(b)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		assertEqual(t, m, m2)
	})
}

func FuzzDecodeLogEntry(f *testing.F) {
	for _, s := range samplesWithPrefix(f, "logentry-") {
		f.Add(s)
	}
	f.Add([]byte(`{"insertId":"a","logName":"l","textPayload":"t","severity":500,"jsonPayload":{"n":1e400}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeLogEntry(data)
		if err != nil {
			mustBeUndecodable(t, err)
			return
		}
		b, err := EncodeLogEntry(e)
		if err != nil {
			t.Fatalf("EncodeLogEntry: %v", err)
		}
		e2, err := DecodeLogEntry(b)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		assertEqual(t, e, e2)
	})
}

func FuzzDecodeSecretEvent(f *testing.F) {
	for _, s := range samplesWithPrefix(f, "secretmanager-") {
		m := wrappedMessage(f, s)
		f.Add(m.Attributes["eventType"], m.Attributes["secretId"], m.Attributes["timestamp"], m.Data)
	}
	f.Add("SECRET_VERSION_ADD", "projects/1/secrets/k", "", []byte(`{"name":"projects/1/secrets/k/versions/1","state":"ENABLED"}`))
	f.Fuzz(func(t *testing.T, eventType, secretID, timestamp string, data []byte) {
		attrs := map[string]string{"eventType": eventType, "secretId": secretID, "timestamp": timestamp}
		e, err := DecodeSecretEvent(attrs, data)
		if err != nil {
			mustBeUndecodable(t, err)
			return
		}
		attrs2, data2, err := EncodeSecretEvent(e)
		if err != nil {
			t.Fatalf("EncodeSecretEvent: %v", err)
		}
		e2, err := DecodeSecretEvent(attrs2, data2)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		assertEqual(t, e, e2)
	})
}

func FuzzDecodeSchedulerMessage(f *testing.F) {
	for _, s := range samplesWithPrefix(f, "scheduler-") {
		m := wrappedMessage(f, s)
		f.Add(m.Attributes[AttrSchedulerJob], m.Data)
	}
	f.Add("rotate-keys", []byte(``))
	f.Fuzz(func(t *testing.T, job string, data []byte) {
		msg := PubSubMessage{Attributes: map[string]string{AttrSchedulerJob: job}, Data: data}
		if _, err := DecodeSchedulerMessage(msg); err != nil {
			mustBeUndecodable(t, err)
		}
		_ = Classify(msg)
	})
}

func mustBeUndecodable(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrUndecodable) {
		t.Fatalf("error %v does not wrap ErrUndecodable", err)
	}
}

func assertEqual(t *testing.T, a, b any) {
	t.Helper()
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("round trip changed the value:\n first: %#v\nsecond: %#v", a, b)
	}
}
