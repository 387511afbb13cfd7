package events

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
)

// secretMarker stands for key material that a payload might carry; no error
// message may ever contain it.
const secretMarker = "sk-ant-SECRET-0123456789"

// assertUndecodable checks err wraps ErrUndecodable, names want and does not
// echo the secret marker.
func assertUndecodable(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, ErrUndecodable) {
		t.Fatalf("error = %v, want ErrUndecodable", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not mention %q", err, want)
	}
	if strings.Contains(err.Error(), secretMarker) || strings.Contains(err.Error(), "sk-ant") {
		t.Errorf("error leaks payload content: %q", err)
	}
}

func TestDecodeIncident(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantErr string // "" for success
		check   func(t *testing.T, m MonitoringIncident)
	}{
		{name: "open sample", data: string(sample(t, "monitoring-incident-open.json")), check: func(t *testing.T, m MonitoringIncident) {
			if m.IncidentID != "0.n1m3x8a2b7kq" || m.State != IncidentOpen || m.IsTest() {
				t.Errorf("got %+v", m)
			}
			if m.Resource.InstanceID() != "4410915023349531000" || m.Resource.Zone() != "us-central1-a" || m.Resource.ProjectID() != "coopguard-demo" {
				t.Errorf("resource = %+v", m.Resource)
			}
			if m.PolicyUserLabels["coopguard-playbook"] != "contain" || m.Severity != "Critical" {
				t.Errorf("labels/severity = %v %q", m.PolicyUserLabels, m.Severity)
			}
			if !m.StartedAt.Equal(time.Unix(1795341600, 0)) || !m.EndedAt.IsZero() {
				t.Errorf("times = %v %v", m.StartedAt, m.EndedAt)
			}
			if m.ObservedValue != "0.973" || m.ThresholdValue != "0.9" {
				t.Errorf("values = %q %q", m.ObservedValue, m.ThresholdValue)
			}
		}},
		{name: "closed sample", data: string(sample(t, "monitoring-incident-closed.json")), check: func(t *testing.T, m MonitoringIncident) {
			if m.State != IncidentClosed || !m.EndedAt.Equal(time.Unix(1795342200, 0)) {
				t.Errorf("got state %q ended %v", m.State, m.EndedAt)
			}
		}},
		{name: "test notification upper-case state", data: string(sample(t, "monitoring-test-notification.json")), check: func(t *testing.T, m MonitoringIncident) {
			if !m.IsTest() || m.State != IncidentOpen || !m.StartedAt.IsZero() {
				t.Errorf("got %+v", m)
			}
		}},
		{name: "numbers where strings are usual", data: `{"version":"1.2","incident":{"incident_id":"i","state":"Closed","started_at":"1795341600","observed_value":0.973,"threshold_value":1,"resource":{"type":"gce_instance","labels":{"instance_id":4410915023349531000}}}}`, check: func(t *testing.T, m MonitoringIncident) {
			if m.ObservedValue != "0.973" || m.ThresholdValue != "1" || m.State != IncidentClosed || m.Resource.InstanceID() != "4410915023349531000" || m.StartedAt.Unix() != 1795341600 {
				t.Errorf("got %+v", m)
			}
		}},
		{name: "unknown fields ignored", data: `{"version":"1.2","extra":[1,2],"incident":{"incident_id":"i","state":"open","new_field":{"x":1}}}`},
		{name: "missing incident_id", data: `{"version":"1.2","incident":{"state":"open"}}`, wantErr: "incident.incident_id: missing"},
		{name: "missing state", data: `{"version":"1.2","incident":{"incident_id":"i"}}`, wantErr: "incident.state: missing"},
		{name: "unknown state", data: `{"version":"1.2","incident":{"incident_id":"i","state":"` + secretMarker + `"}}`, wantErr: "incident.state"},
		{name: "missing incident", data: `{"version":"1.2"}`, wantErr: "field incident: missing"},
		{name: "missing version", data: `{"incident":{"incident_id":"i","state":"open"}}`, wantErr: "field version: missing"},
		{name: "future version", data: `{"version":"2.0","incident":{"incident_id":"i","state":"open"}}`, wantErr: "unsupported schema version"},
		{name: "wrong type", data: `{"version":"1.2","incident":{"incident_id":12345678,"state":"open"}}`, wantErr: "incident.incident_id"},
		{name: "bad started_at", data: `{"version":"1.2","incident":{"incident_id":"i","state":"open","started_at":"` + secretMarker + `"}}`, wantErr: "incident.started_at"},
		{name: "nested label", data: `{"version":"1.2","incident":{"incident_id":"i","state":"open","policy_user_labels":{"a":{"b":1}}}}`, wantErr: "incident.policy_user_labels"},
		{name: "malformed", data: `{"version":"1.2","incident":{"incident_id":"` + secretMarker, wantErr: "malformed JSON"},
		{name: "not an object", data: `["` + secretMarker + `"]`, wantErr: "monitoring incident"},
		{name: "null", data: `null`, wantErr: "field version: missing"},
		{name: "empty", data: ``, wantErr: "empty payload"},
		{name: "too large", data: `{"version":"1.2","pad":"` + strings.Repeat("x", MaxPayloadSize) + `"}`, wantErr: "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeIncident([]byte(tt.data))
			if tt.wantErr != "" {
				assertUndecodable(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("DecodeIncident: %v", err)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestDecodePubSub(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name    string
		data    string
		wantErr string
		check   func(t *testing.T, m PubSubMessage)
	}{
		{name: "http sample body", data: string(pushBody(t)), check: func(t *testing.T, m PubSubMessage) {
			if m.MessageID != "17342918237461" || !strings.HasSuffix(m.Subscription, "handlealert-sub-123") {
				t.Errorf("got %+v", m)
			}
			if !m.PublishTime.Equal(time.Date(2026, 11, 22, 9, 40, 5, 123e6, time.UTC)) {
				t.Errorf("publishTime = %v", m.PublishTime)
			}
			inc, err := DecodeIncident(m.Data)
			if err != nil || inc.IncidentID != "0.n1m3x8a2b7kq" {
				t.Errorf("inner incident: %v %+v", err, inc)
			}
		}},
		{name: "snake case and unpadded base64", data: `{"message":{"data":"eyJhIjoxfQ","message_id":"9","publish_time":"2026-01-02T03:04:05Z","attributes":{"coopguard-job":"rotate-keys","n":3}}}`, check: func(t *testing.T, m PubSubMessage) {
			if string(m.Data) != `{"a":1}` || m.MessageID != "9" || m.Attributes["n"] != "3" || m.PublishTime.Year() != 2026 {
				t.Errorf("got %+v", m)
			}
		}},
		{name: "attributes only", data: `{"message":{"messageId":"1","attributes":{"k":"v"}}}`, check: func(t *testing.T, m PubSubMessage) {
			if m.Data != nil || m.Attributes["k"] != "v" {
				t.Errorf("got %+v", m)
			}
		}},
		{name: "missing message", data: `{"subscription":"s"}`, wantErr: "field message: missing"},
		{name: "missing messageId", data: `{"message":{"data":"` + b64("x") + `"}}`, wantErr: "message.messageId: missing"},
		{name: "bad base64", data: `{"message":{"messageId":"1","data":"` + secretMarker + `!!"}}`, wantErr: "message.data: not base64"},
		{name: "bad publishTime", data: `{"message":{"messageId":"1","publishTime":"` + secretMarker + `"}}`, wantErr: "message.publishTime"},
		{name: "data not a string", data: `{"message":{"messageId":"1","data":12}}`, wantErr: "data"},
		{name: "too large", data: `{"message":{"messageId":"1","data":"` + strings.Repeat("A", MaxPayloadSize) + `"}}`, wantErr: "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodePubSub([]byte(tt.data))
			if tt.wantErr != "" {
				assertUndecodable(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("DecodePubSub: %v", err)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestDecodePubSubEvent(t *testing.T) {
	newEvent := func(t *testing.T, typ string) event.Event {
		t.Helper()
		e := event.New()
		e.SetID("17342918237461")
		e.SetSource("//pubsub.googleapis.com/projects/coopguard-demo/topics/coopguard-alerts")
		e.SetType(typ)
		if err := e.SetData(event.ApplicationJSON, pushBody(t)); err != nil {
			t.Fatalf("SetData: %v", err)
		}
		return e
	}
	m, err := DecodePubSubEvent(newEvent(t, PubSubMessagePublished))
	if err != nil || m.MessageID != "17342918237461" {
		t.Fatalf("DecodePubSubEvent = %+v, %v", m, err)
	}
	_, err = DecodePubSubEvent(newEvent(t, "google.cloud.storage.object.v1.finalized"))
	assertUndecodable(t, err, "is not "+PubSubMessagePublished)
}

func TestDecodeLogEntry(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		wantErr string
		check   func(t *testing.T, e LogEntry)
	}{
		{name: "setIamPolicy by sandbox SA", data: string(sample(t, "logentry-setiampolicy-by-sandbox-sa.json")), check: func(t *testing.T, e LogEntry) {
			a := e.Audit
			if a.MethodName != "SetIamPolicy" || a.ServiceName != "cloudresourcemanager.googleapis.com" || a.ResourceName != "projects/coopguard-demo" {
				t.Errorf("audit = %+v", a)
			}
			if a.PrincipalEmail != "cc-sandbox@coopguard-demo.iam.gserviceaccount.com" || a.Status.Code != 7 || a.Status.Message != "PERMISSION_DENIED" || a.CallerIP != "10.10.0.2" {
				t.Errorf("audit = %+v", a)
			}
			if len(a.AuthorizationInfo) != 1 || a.AuthorizationInfo[0].Granted || a.AuthorizationInfo[0].Permission != "resourcemanager.projects.setIamPolicy" {
				t.Errorf("authorizationInfo = %+v", a.AuthorizationInfo)
			}
			if e.Severity != "ERROR" || e.Resource.Type != "project" || e.ProtoPayload["methodName"] != "SetIamPolicy" || e.Timestamp.IsZero() || e.ReceiveTimestamp.IsZero() {
				t.Errorf("entry = %+v", e)
			}
		}},
		{name: "secret access", data: string(sample(t, "logentry-secret-access-unknown-principal.json")), check: func(t *testing.T, e LogEntry) {
			if e.Audit.PrincipalEmail != "someone@example.com" || !strings.HasSuffix(e.Audit.MethodName, "AccessSecretVersion") || e.Audit.Status.Code != 0 {
				t.Errorf("audit = %+v", e.Audit)
			}
		}},
		{name: "benign", data: string(sample(t, "logentry-benign-instance-start.json")), check: func(t *testing.T, e LogEntry) {
			if e.Audit.MethodName != "v1.compute.instances.start" || e.InsertID != "-abc123def" {
				t.Errorf("entry = %+v", e)
			}
		}},
		{name: "text payload numeric severity", data: `{"insertId":"a","logName":"projects/p/logs/x","textPayload":"hello","severity":500,"labels":{"k":"v"}}`, check: func(t *testing.T, e LogEntry) {
			if e.TextPayload != "hello" || e.Severity != "ERROR" || e.ProtoPayload != nil || e.Audit.MethodName != "" || e.Labels["k"] != "v" {
				t.Errorf("entry = %+v", e)
			}
		}},
		{name: "json payload", data: `{"insertId":"a","logName":"l","jsonPayload":{"n":12345678901234567890,"s":"x"}}`, check: func(t *testing.T, e LogEntry) {
			if e.JSONPayload["n"].(interface{ String() string }).String() != "12345678901234567890" {
				t.Errorf("jsonPayload = %v", e.JSONPayload)
			}
		}},
		{name: "odd audit field kinds are tolerated", data: `{"insertId":"a","logName":"l","protoPayload":{"methodName":5,"status":{"code":"7"},"authorizationInfo":[1,{"granted":"yes"}]}}`, check: func(t *testing.T, e LogEntry) {
			if e.Audit.MethodName != "" || e.Audit.Status.Code != 0 || len(e.Audit.AuthorizationInfo) != 1 {
				t.Errorf("audit = %+v", e.Audit)
			}
		}},
		{name: "missing insertId", data: `{"logName":"l"}`, wantErr: "field insertId: missing"},
		{name: "missing logName", data: `{"insertId":"a"}`, wantErr: "field logName: missing"},
		{name: "protoPayload not an object", data: `{"insertId":"a","logName":"l","protoPayload":"` + secretMarker + `"}`, wantErr: "field protoPayload"},
		{name: "bad timestamp", data: `{"insertId":"a","logName":"l","timestamp":"` + secretMarker + `"}`, wantErr: "field timestamp"},
		{name: "bad numeric severity", data: `{"insertId":"a","logName":"l","severity":12345}`, wantErr: "field severity"},
		{name: "textPayload wrong type", data: `{"insertId":"a","logName":"l","textPayload":{"k":"` + secretMarker + `"}}`, wantErr: "textPayload"},
		{name: "too large", data: `{"insertId":"a","logName":"l","textPayload":"` + strings.Repeat("x", MaxPayloadSize) + `"}`, wantErr: "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := DecodeLogEntry([]byte(tt.data))
			if tt.wantErr != "" {
				assertUndecodable(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("DecodeLogEntry: %v", err)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func TestDecodeSecretEvent(t *testing.T) {
	msg := wrappedMessage(t, sample(t, "secretmanager-rotate-notification.json"))
	tests := []struct {
		name    string
		attrs   map[string]string
		data    string
		wantErr string
		check   func(t *testing.T, e SecretEvent)
	}{
		{name: "rotate sample", attrs: msg.Attributes, data: string(msg.Data), check: func(t *testing.T, e SecretEvent) {
			if e.EventType != "SECRET_ROTATE" || e.SecretName() != "anthropic-api-key" || e.DataFormat != "JSON_API_V1" || e.Timestamp.IsZero() {
				t.Errorf("event = %+v", e)
			}
			s := e.Secret
			if s.Name != e.SecretID || s.Labels["coopguard-managed"] != "true" || s.RotationPeriod != 90*24*time.Hour || s.NextRotationTime.Year() != 2027 {
				t.Errorf("secret = %+v", s)
			}
			if len(s.Topics) != 1 || s.Topics[0] != "projects/coopguard-demo/topics/coopguard-rotation" || s.Etag == "" || s.CreateTime.IsZero() {
				t.Errorf("secret = %+v", s)
			}
		}},
		{name: "version event", attrs: map[string]string{"eventType": "SECRET_VERSION_DISABLE", "secretId": "projects/1/secrets/k", "versionId": "projects/1/secrets/k/versions/3"},
			data: `{"name":"projects/1/secrets/k/versions/3","state":"DISABLED"}`, check: func(t *testing.T, e SecretEvent) {
				if e.Secret.State != "DISABLED" || e.VersionID == "" || e.SecretName() != "k" {
					t.Errorf("event = %+v", e)
				}
			}},
		{name: "no data", attrs: map[string]string{"eventType": "SECRET_DELETE", "secretId": "projects/1/secrets/k"}},
		{name: "fractional period", attrs: map[string]string{"eventType": "SECRET_UPDATE", "secretId": "s"}, data: `{"rotation":{"rotationPeriod":"1.5s"}}`, check: func(t *testing.T, e SecretEvent) {
			if e.Secret.RotationPeriod != 1500*time.Millisecond {
				t.Errorf("period = %v", e.Secret.RotationPeriod)
			}
		}},
		{name: "missing eventType", attrs: map[string]string{"secretId": "s"}, wantErr: "attribute eventType: missing"},
		{name: "missing secretId", attrs: map[string]string{"eventType": "SECRET_ROTATE"}, wantErr: "attribute secretId: missing"},
		{name: "bad period", attrs: map[string]string{"eventType": "SECRET_ROTATE", "secretId": "s"}, data: `{"rotation":{"rotationPeriod":"` + secretMarker + `"}}`, wantErr: "rotation.rotationPeriod"},
		{name: "bad data", attrs: map[string]string{"eventType": "SECRET_ROTATE", "secretId": "s"}, data: `{"name":` + secretMarker, wantErr: "malformed JSON"},
		{name: "unknown format", attrs: map[string]string{"eventType": "SECRET_ROTATE", "secretId": "s", "dataFormat": "PROTO"}, data: `x`, wantErr: "dataFormat"},
		{name: "too large", attrs: map[string]string{"eventType": "SECRET_ROTATE", "secretId": "s"}, data: strings.Repeat(" ", MaxPayloadSize+1), wantErr: "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := DecodeSecretEvent(tt.attrs, []byte(tt.data))
			if tt.wantErr != "" {
				assertUndecodable(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("DecodeSecretEvent: %v", err)
			}
			if tt.check != nil {
				tt.check(t, e)
			}
		})
	}
}

func TestDecodeSchedulerMessage(t *testing.T) {
	tests := []struct {
		name    string
		msg     PubSubMessage
		want    SchedulerMessage
		wantErr string
	}{
		{name: "sample", msg: wrappedMessage(t, sample(t, "scheduler-rotation-message.json")), want: SchedulerMessage{Job: "rotate-keys", Reason: "scheduled"}},
		{name: "empty body", msg: PubSubMessage{Attributes: map[string]string{"coopguard-job": "rotate-keys"}}, want: SchedulerMessage{Job: "rotate-keys"}},
		{name: "missing job", msg: PubSubMessage{Data: []byte(`{}`)}, wantErr: "attribute coopguard-job: missing"},
		{name: "body not an object", msg: PubSubMessage{Attributes: map[string]string{"coopguard-job": "j"}, Data: []byte(secretMarker)}, wantErr: "data"},
		{name: "trailing data", msg: PubSubMessage{Attributes: map[string]string{"coopguard-job": "j"}, Data: []byte(`{} {}`)}, wantErr: "trailing"},
		{name: "reason not a string", msg: PubSubMessage{Attributes: map[string]string{"coopguard-job": "j"}, Data: []byte(`{"reason":["` + secretMarker + `"]}`)}, wantErr: "field reason"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSchedulerMessage(tt.msg)
			if tt.wantErr != "" {
				assertUndecodable(t, err, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("DecodeSchedulerMessage: %v", err)
			}
			if got.Job != tt.want.Job || got.Reason != tt.want.Reason {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name  string
		attrs map[string]string
		want  Kind
	}{
		{"scheduler", wrappedMessage(t, sample(t, "scheduler-rotation-message.json")).Attributes, KindScheduler},
		{"secret manager", wrappedMessage(t, sample(t, "secretmanager-rotate-notification.json")).Attributes, KindSecretEvent},
		{"log sink", map[string]string{AttrLogTimestamp: "2026-11-22T09:41:03.502Z"}, KindLogEntry},
		{"incident", nil, KindUnknown},
		{"empty job attribute", map[string]string{AttrSchedulerJob: ""}, KindUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(PubSubMessage{Attributes: tt.attrs}); got != tt.want {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
		})
	}
}
