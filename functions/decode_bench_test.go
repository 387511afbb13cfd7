package functions

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/functions/playbook"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/events"
)

// pubsubEvent wraps a sample file as an Eventarc Pub/Sub CloudEvent.
func pubsubEvent(tb testing.TB, file string) event.Event {
	tb.Helper()
	payload, err := os.ReadFile("../testdata/samples/" + file)
	if err != nil {
		tb.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{"message": map[string]any{
		"data": base64.StdEncoding.EncodeToString(payload), "messageId": "1", "attributes": map[string]string{},
	}})
	ev := event.New()
	ev.SetID("1")
	ev.SetType(events.PubSubMessagePublished)
	ev.SetSource("//pubsub.googleapis.com/projects/coopguard-demo/topics/t")
	if err := ev.SetData("application/json", data); err != nil {
		tb.Fatal(err)
	}
	return ev
}

// BenchmarkDecidePerEvent is the per-event cost before any GCP call:
// decode the CloudEvent and payload, match (alert: pick the playbook; log
// entry: run the detection rules) and plan.
func BenchmarkDecidePerEvent(b *testing.B) {
	cfg := config.Demo()
	cfg.Cloud.GCP.Project = "coopguard-demo"
	cfg.Cloud.GCP.ServiceAccount = "cc-sandbox@coopguard-demo.iam.gserviceaccount.com"
	engine, err := detect.Compile(detect.DefaultRules())
	if err != nil {
		b.Fatal(err)
	}
	sb := detect.Sandbox{Project: cfg.Cloud.GCP.Project, ServiceAccount: cfg.Cloud.GCP.ServiceAccount, Network: "coopguard-claude-sandbox-net", Secrets: cfg.Coopguard.Secrets}
	ctx := context.Background()
	b.Run("alert", func(b *testing.B) {
		ev := pubsubEvent(b, "monitoring-incident-open.json")
		b.ReportAllocs()
		for b.Loop() {
			msg, err := events.DecodePubSubEvent(ev)
			if err != nil {
				b.Fatal(err)
			}
			m, err := events.DecodeIncident(msg.Data)
			if err != nil {
				b.Fatal(err)
			}
			inc := alertIncident(&cfg, m, msg)
			if _, err := playbook.For(inc.Playbook); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, file := range []string{"logentry-setiampolicy-by-sandbox-sa.json", "logentry-benign-instance-start.json"} {
		b.Run(file, func(b *testing.B) {
			ev := pubsubEvent(b, file)
			b.ReportAllocs()
			for b.Loop() {
				msg, err := events.DecodePubSubEvent(ev)
				if err != nil {
					b.Fatal(err)
				}
				entry, err := events.DecodeLogEntry(msg.Data)
				if err != nil {
					b.Fatal(err)
				}
				matches, _ := engine.Evaluate(ctx, entry, sb)
				if len(matches) > 0 {
					if _, err := playbook.For(matches[0].Playbook); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
