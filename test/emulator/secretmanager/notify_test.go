package secretmanager_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// published is one message the fake handed to its publisher.
type published struct {
	topic string
	data  map[string]any
	attrs map[string]string
}

// capture installs a publisher that records every message (and fails, as
// an unreachable topic would, when fail is set) and returns a function
// that takes the messages recorded so far.
func capture(t *testing.T, set func(func(context.Context, string, []byte, map[string]string) error), fail bool) func() []published {
	var mu sync.Mutex
	var got []published
	set(func(_ context.Context, topic string, data []byte, attrs map[string]string) error {
		var d map[string]any
		if err := json.Unmarshal(data, &d); err != nil {
			t.Errorf("data is not JSON: %v: %s", err, data)
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, published{topic, d, attrs})
		if fail {
			return errors.New("topic not found")
		}
		return nil
	})
	return func() []published {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
}

func TestEventNotifications(t *testing.T) {
	fake, c, clk := start(t)
	ctx := context.Background()
	take := capture(t, func(f func(context.Context, string, []byte, map[string]string) error) { fake.SetPublisher(f) }, false)
	topics := []*secretmanagerpb.Topic{{Name: "projects/coopguard-demo/topics/rotation"}, {Name: "projects/coopguard-demo/topics/audit"}}
	secret := byNumber("projects/coopguard-demo/secrets/k")
	v1 := secret + "/versions/1"
	steps := []struct {
		name    string
		call    func() error
		event   string
		version string // versionId attribute, "" for secret events
		state   string // data.state for version events
	}{
		{"create with topics", func() error {
			_, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/coopguard-demo", SecretId: "k",
				Secret: &secretmanagerpb.Secret{Replication: automatic(), Topics: topics, Labels: map[string]string{"coopguard-managed": "true"}}})
			return err
		}, "SECRET_CREATE", "", ""},
		{"add version", func() error {
			_, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/coopguard-demo/secrets/k", Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-PAYLOAD")}})
			return err
		}, "SECRET_VERSION_ADD", v1, "ENABLED"},
		{"disable", func() error {
			_, err := c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: v1})
			return err
		}, "SECRET_VERSION_DISABLE", v1, "DISABLED"},
		{"enable", func() error {
			_, err := c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: v1})
			return err
		}, "SECRET_VERSION_ENABLE", v1, "ENABLED"},
		{"update", func() error {
			_, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{Secret: &secretmanagerpb.Secret{Name: secret, Labels: map[string]string{"a": "b"}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}}})
			return err
		}, "SECRET_UPDATE", "", ""},
		{"destroy", func() error {
			_, err := c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: v1})
			return err
		}, "SECRET_VERSION_DESTROY", v1, "DESTROYED"},
		{"delete", func() error {
			return c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: secret})
		}, "SECRET_DELETE", "", ""},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			clk.Advance(time.Second)
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			got := take()
			if len(got) != len(topics) {
				t.Fatalf("%d messages, want one per topic (%d): %v", len(got), len(topics), got)
			}
			for i, m := range got {
				if m.topic != topics[i].Name {
					t.Errorf("message %d to %s, want %s", i, m.topic, topics[i].Name)
				}
				want := map[string]string{"eventType": tt.event, "secretId": secret, "dataFormat": "JSON_API_V1",
					"timestamp": clk.Now().UTC().Format("2006-01-02T15:04:05.000000Z")}
				if tt.version != "" {
					want["versionId"] = tt.version
				}
				if len(m.attrs) != len(want) {
					t.Errorf("attributes = %v, want %v", m.attrs, want)
				}
				for k, v := range want {
					if m.attrs[k] != v {
						t.Errorf("attribute %s = %q, want %q", k, m.attrs[k], v)
					}
				}
				wantName := secret
				if tt.version != "" {
					wantName = tt.version
					if m.data["state"] != tt.state {
						t.Errorf("data.state = %v, want %s", m.data["state"], tt.state)
					}
				} else if m.data["labels"] == nil || m.data["createTime"] == nil {
					t.Errorf("data = %v, want the Secret in JSON (labels, createTime)", m.data)
				}
				if _, ok := m.data["payload"]; ok {
					t.Errorf("a notification carries the payload: %v", m.data)
				}
				if m.data["name"] != wantName {
					t.Errorf("data.name = %v, want %s", m.data["name"], wantName)
				}
			}
		})
	}

	t.Run("a secret without topics notifies nobody", func(t *testing.T) {
		fake.SeedSecret("coopguard-demo", "quiet", []byte("sk-QUIET"))
		if got := take(); len(got) != 0 {
			t.Errorf("a secret without topics notified: %v", got)
		}
	})
	t.Run("reads publish nothing", func(t *testing.T) {
		_, _ = c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/coopguard-demo/secrets/quiet"})
		_, _ = c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/coopguard-demo/secrets/quiet/versions/1"})
		if got := take(); len(got) != 0 {
			t.Errorf("reads published %v", got)
		}
	})
}

func TestEventNotificationsDelayedDestroy(t *testing.T) {
	fake, c, clk := start(t)
	ctx := context.Background()
	take := capture(t, func(f func(context.Context, string, []byte, map[string]string) error) { fake.SetPublisher(f) }, false)
	_, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "k", Secret: &secretmanagerpb.Secret{
		Replication: automatic(), Topics: []*secretmanagerpb.Topic{{Name: "projects/p/topics/t"}}, VersionDestroyTtl: durationpb.New(24 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p/secrets/k", Payload: &secretmanagerpb.SecretPayload{Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	take()
	if _, err := c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: v.Name}); err != nil {
		t.Fatal(err)
	}
	if got := take(); len(got) != 1 || got[0].attrs["eventType"] != "SECRET_VERSION_DESTROY_SCHEDULED" {
		t.Fatalf("messages = %v, want SECRET_VERSION_DESTROY_SCHEDULED", got)
	}
	clk.Advance(25 * time.Hour)
	if _, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: v.Name}); err != nil {
		t.Fatal(err)
	}
	if got := take(); len(got) != 1 || got[0].attrs["eventType"] != "SECRET_VERSION_DESTROY" || got[0].data["state"] != "DESTROYED" {
		t.Errorf("messages = %v, want SECRET_VERSION_DESTROY", got)
	}
}

func TestFireDueRotations(t *testing.T) {
	fake, c, clk := start(t)
	ctx := context.Background()
	take := capture(t, func(f func(context.Context, string, []byte, map[string]string) error) { fake.SetPublisher(f) }, true)
	topic := []*secretmanagerpb.Topic{{Name: "projects/p/topics/rotation"}}
	t0 := clk.Now()
	for _, s := range []struct {
		id     string
		period time.Duration
	}{{"periodic", 2 * time.Hour}, {"once", 0}} {
		r := &secretmanagerpb.Rotation{NextRotationTime: timestamppb.New(t0.Add(time.Hour))}
		if s.period > 0 {
			r.RotationPeriod = durationpb.New(s.period)
		}
		if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: s.id,
			Secret: &secretmanagerpb.Secret{Replication: automatic(), Topics: topic, Rotation: r}}); err != nil {
			t.Fatal(err)
		}
	}
	take()
	periodic, once := byNumber("projects/p/secrets/periodic"), byNumber("projects/p/secrets/once")
	steps := []struct {
		advance  time.Duration
		fired    []string
		nextOf   time.Time // periodic's next_rotation_time afterwards
		onceNext bool      // once still has a next_rotation_time
	}{
		{59 * time.Minute, nil, t0.Add(time.Hour), true},
		{time.Minute, []string{once, periodic}, t0.Add(3 * time.Hour), false},
		{time.Minute, nil, t0.Add(3 * time.Hour), false},
		// A clock that jumps several periods fires once and lands past now.
		{7 * time.Hour, []string{periodic}, t0.Add(9 * time.Hour), false},
	}
	for i, st := range steps {
		clk.Advance(st.advance)
		fired := fake.FireDueRotations(ctx)
		if len(fired) != len(st.fired) || (len(fired) > 0 && (fired[0] != st.fired[0] || fired[len(fired)-1] != st.fired[len(st.fired)-1])) {
			t.Errorf("step %d: fired %v, want %v", i, fired, st.fired)
		}
		msgs := take()
		if len(msgs) != len(st.fired) {
			t.Errorf("step %d: %d messages, want %d (a failing publisher must not stop the schedule)", i, len(msgs), len(st.fired))
		}
		for _, m := range msgs {
			if m.attrs["eventType"] != "SECRET_ROTATE" || m.topic != topic[0].Name {
				t.Errorf("step %d: message %v, want SECRET_ROTATE to %s", i, m.attrs, topic[0].Name)
			}
		}
		p, _ := fake.Secret(periodic)
		if got := p.GetRotation().GetNextRotationTime().AsTime(); !got.Equal(st.nextOf) {
			t.Errorf("step %d: periodic next_rotation_time = %v, want %v", i, got, st.nextOf)
		}
		o, _ := fake.Secret(once)
		if (o.GetRotation().GetNextRotationTime() != nil) != st.onceNext {
			t.Errorf("step %d: once rotation = %v, want next time set: %v", i, o.GetRotation(), st.onceNext)
		}
	}
}

// TestBlockedPublishStallsOnlyItsCall: a publish that does not return (a
// Pub/Sub under load) holds up only the call whose change it announces.
// While it blocks, the Server answers reads, other changes and their own
// notifications' queueing; once it returns, every notification is
// published, in the order of the changes.
func TestBlockedPublishStallsOnlyItsCall(t *testing.T) {
	fake, c, _ := start(t)
	ctx := context.Background()
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var events []string
	block := true
	fake.SetPublisher(func(_ context.Context, _ string, _ []byte, attrs map[string]string) error {
		mu.Lock()
		events = append(events, attrs["eventType"])
		first := block
		block = false
		mu.Unlock()
		if first {
			close(entered)
			<-release
		}
		return nil
	})
	topics := []*secretmanagerpb.Topic{{Name: "projects/coopguard-demo/topics/rotation"}}
	for _, id := range []string{"a", "b"} {
		if _, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/coopguard-demo", SecretId: id,
			Secret: &secretmanagerpb.Secret{Replication: automatic()}}); err != nil {
			t.Fatal(err)
		}
	}
	// The first notification (a's version) blocks its publisher.
	added := make(chan error, 1)
	go func() {
		_, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{Secret: &secretmanagerpb.Secret{Name: "projects/coopguard-demo/secrets/a", Topics: topics},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"topics"}}})
		added <- err
	}()
	<-entered
	// Meanwhile: a read, a change that announces nothing, and a change
	// that announces something on the same secret all answer.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.GetSecret(cctx, &secretmanagerpb.GetSecretRequest{Name: "projects/coopguard-demo/secrets/a"}); err != nil {
		t.Fatalf("GetSecret while a publish blocks: %v", err)
	}
	if _, err := c.AddSecretVersion(cctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/coopguard-demo/secrets/b", Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-PAYLOAD")}}); err != nil {
		t.Fatalf("AddSecretVersion (no topics) while a publish blocks: %v", err)
	}
	if _, err := c.AddSecretVersion(cctx, &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/coopguard-demo/secrets/a", Payload: &secretmanagerpb.SecretPayload{Data: []byte("sk-PAYLOAD")}}); err != nil {
		t.Fatalf("AddSecretVersion (with topics) while a publish blocks: %v", err)
	}
	select {
	case err := <-added:
		t.Fatalf("the call whose publish blocks returned (%v) before its publish did", err)
	default:
	}
	close(release)
	if err := <-added; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"SECRET_UPDATE", "SECRET_VERSION_ADD"}; !slices.Equal(events, want) {
		t.Errorf("published %v, want %v (every notification, in the order of the changes)", events, want)
	}
}
