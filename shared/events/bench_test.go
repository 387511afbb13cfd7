package events

import "testing"

func BenchmarkDecode(b *testing.B) {
	secret := wrappedMessage(b, sample(b, "secretmanager-rotate-notification.json"))
	sched := wrappedMessage(b, sample(b, "scheduler-rotation-message.json"))
	benches := []struct {
		name string
		run  func() error
	}{
		{"PubSub", decodeWith(DecodePubSub, pushBody(b))},
		{"IncidentOpen", decodeWith(DecodeIncident, sample(b, "monitoring-incident-open.json"))},
		{"IncidentClosed", decodeWith(DecodeIncident, sample(b, "monitoring-incident-closed.json"))},
		{"LogEntrySetIamPolicy", decodeWith(DecodeLogEntry, sample(b, "logentry-setiampolicy-by-sandbox-sa.json"))},
		{"LogEntrySecretAccess", decodeWith(DecodeLogEntry, sample(b, "logentry-secret-access-unknown-principal.json"))},
		{"LogEntryBenign", decodeWith(DecodeLogEntry, sample(b, "logentry-benign-instance-start.json"))},
		{"SecretEvent", func() error { _, err := DecodeSecretEvent(secret.Attributes, secret.Data); return err }},
		{"SchedulerMessage", func() error { _, err := DecodeSchedulerMessage(sched); return err }},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bb.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func decodeWith[T any](decode func([]byte) (T, error), data []byte) func() error {
	return func() error { _, err := decode(data); return err }
}
