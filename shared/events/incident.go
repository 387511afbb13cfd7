package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// IncidentState is the normalised (lower-case) state of a Monitoring incident.
type IncidentState string

// Incident states Cloud Monitoring sends.
const (
	IncidentOpen   IncidentState = "open"
	IncidentClosed IncidentState = "closed"
)

// MonitoredResource is a Cloud Monitoring / Cloud Logging monitored resource.
type MonitoredResource struct {
	// Type is the resource type, e.g. "gce_instance".
	Type string
	// Labels identify the resource; which keys exist depends on Type.
	Labels map[string]string
}

// InstanceID returns the "instance_id" label (gce_instance resources).
func (r MonitoredResource) InstanceID() string { return r.Labels["instance_id"] }

// Zone returns the "zone" label (gce_instance resources).
func (r MonitoredResource) Zone() string { return r.Labels["zone"] }

// ProjectID returns the "project_id" label.
func (r MonitoredResource) ProjectID() string { return r.Labels["project_id"] }

// MonitoringIncident is a Cloud Monitoring incident notification (schema
// version "1.2", or "test" for the console's test notifications), received
// either from a Pub/Sub notification channel or a webhook.
type MonitoringIncident struct {
	// Version is the notification schema version: "1.2" or "test".
	Version string
	// IncidentID identifies the incident; the open and the closed
	// notification of one incident share it.
	IncidentID string
	// State is open or closed, normalised to lower case.
	State IncidentState
	// PolicyName is the alert policy's display name.
	PolicyName string
	// PolicyUserLabels are the alert policy's user labels; coopguard reads its
	// playbook choice from them.
	PolicyUserLabels map[string]string
	// ConditionName is the display name of the condition that fired.
	ConditionName string
	// Resource is the monitored resource the incident is about.
	Resource MonitoredResource
	// StartedAt is when the incident opened (zero if not given).
	StartedAt time.Time
	// EndedAt is when it closed; zero while open (ended_at is null then).
	EndedAt time.Time
	// Summary is the human-readable one-line description.
	Summary string
	// URL links to the incident in the console.
	URL string
	// Severity is the policy severity as sent ("Critical", "Error", …), possibly empty.
	Severity string
	// ObservedValue and ThresholdValue are kept as text: the samples send
	// strings, other producers send numbers, and neither needs arithmetic here.
	ObservedValue, ThresholdValue string
}

// IsTest reports whether this is a test notification sent from the console;
// handlers report it but never run a playbook for it.
func (m MonitoringIncident) IsTest() bool { return m.Version == "test" }

type incidentWire struct {
	Version  string `json:"version"`
	Incident *struct {
		IncidentID       string          `json:"incident_id"`
		State            string          `json:"state"`
		PolicyName       string          `json:"policy_name"`
		PolicyUserLabels json.RawMessage `json:"policy_user_labels"`
		ConditionName    string          `json:"condition_name"`
		Resource         *struct {
			Type   string          `json:"type"`
			Labels json.RawMessage `json:"labels"`
		} `json:"resource"`
		StartedAt      json.RawMessage `json:"started_at"`
		EndedAt        json.RawMessage `json:"ended_at"`
		Summary        string          `json:"summary"`
		URL            string          `json:"url"`
		Severity       string          `json:"severity"`
		ObservedValue  json.RawMessage `json:"observed_value"`
		ThresholdValue json.RawMessage `json:"threshold_value"`
	} `json:"incident"`
}

const formatIncident = "monitoring incident"

// DecodeIncident decodes a Cloud Monitoring notification. version,
// incident, incident.incident_id and incident.state are required; an
// unsupported schema version or an unknown state is undecodable.
func DecodeIncident(data []byte) (MonitoringIncident, error) {
	if err := checkSize(formatIncident, data); err != nil {
		return MonitoringIncident{}, err
	}
	var w incidentWire
	if err := json.Unmarshal(data, &w); err != nil {
		return MonitoringIncident{}, jsonError(formatIncident, err)
	}
	// Only 1.x shares this shape; a future major version must be looked at
	// rather than misread.
	if w.Version != "test" && !strings.HasPrefix(w.Version, "1.") {
		if w.Version == "" {
			return MonitoringIncident{}, undecodable(formatIncident, "field version: missing")
		}
		return MonitoringIncident{}, undecodable(formatIncident, "field version: unsupported schema version")
	}
	in := w.Incident
	if in == nil {
		return MonitoringIncident{}, undecodable(formatIncident, "field incident: missing")
	}
	if in.IncidentID == "" {
		return MonitoringIncident{}, undecodable(formatIncident, "field incident.incident_id: missing")
	}
	state := IncidentState(strings.ToLower(strings.TrimSpace(in.State)))
	switch state {
	case IncidentOpen, IncidentClosed:
	case "":
		return MonitoringIncident{}, undecodable(formatIncident, "field incident.state: missing")
	default:
		return MonitoringIncident{}, undecodable(formatIncident, "field incident.state: want open or closed")
	}
	out := MonitoringIncident{
		Version:       w.Version,
		IncidentID:    in.IncidentID,
		State:         state,
		PolicyName:    in.PolicyName,
		ConditionName: in.ConditionName,
		Summary:       in.Summary,
		URL:           in.URL,
		Severity:      in.Severity,
	}
	var err error
	if out.PolicyUserLabels, err = flexLabels(in.PolicyUserLabels); err != nil {
		return MonitoringIncident{}, undecodable(formatIncident, "field incident.policy_user_labels: %v", err)
	}
	if in.Resource != nil {
		out.Resource.Type = in.Resource.Type
		if out.Resource.Labels, err = flexLabels(in.Resource.Labels); err != nil {
			return MonitoringIncident{}, undecodable(formatIncident, "field incident.resource.labels: %v", err)
		}
	}
	if out.StartedAt, err = flexUnix(in.StartedAt); err != nil {
		return MonitoringIncident{}, undecodable(formatIncident, "field incident.started_at: %v", err)
	}
	if out.EndedAt, err = flexUnix(in.EndedAt); err != nil {
		return MonitoringIncident{}, undecodable(formatIncident, "field incident.ended_at: %v", err)
	}
	if out.ObservedValue, err = flexString(in.ObservedValue); err != nil {
		return MonitoringIncident{}, undecodable(formatIncident, "field incident.observed_value: %v", err)
	}
	if out.ThresholdValue, err = flexString(in.ThresholdValue); err != nil {
		return MonitoringIncident{}, undecodable(formatIncident, "field incident.threshold_value: %v", err)
	}
	return out, nil
}

// EncodeIncident renders m in the notification shape DecodeIncident reads.
// The drill command and tests use it to fabricate incidents.
func EncodeIncident(m MonitoringIncident) ([]byte, error) {
	type resource struct {
		Type   string            `json:"type,omitempty"`
		Labels map[string]string `json:"labels,omitempty"`
	}
	type incident struct {
		IncidentID       string            `json:"incident_id"`
		State            IncidentState     `json:"state"`
		PolicyName       string            `json:"policy_name,omitempty"`
		PolicyUserLabels map[string]string `json:"policy_user_labels,omitempty"`
		ConditionName    string            `json:"condition_name,omitempty"`
		Resource         resource          `json:"resource"`
		StartedAt        *int64            `json:"started_at"`
		EndedAt          *int64            `json:"ended_at"`
		Summary          string            `json:"summary,omitempty"`
		URL              string            `json:"url,omitempty"`
		Severity         string            `json:"severity,omitempty"`
		ObservedValue    string            `json:"observed_value,omitempty"`
		ThresholdValue   string            `json:"threshold_value,omitempty"`
	}
	unix := func(t time.Time) *int64 {
		if t.IsZero() {
			return nil
		}
		s := t.Unix()
		return &s
	}
	w := struct {
		Incident incident `json:"incident"`
		Version  string   `json:"version"`
	}{
		Incident: incident{
			IncidentID:       m.IncidentID,
			State:            m.State,
			PolicyName:       m.PolicyName,
			PolicyUserLabels: m.PolicyUserLabels,
			ConditionName:    m.ConditionName,
			Resource:         resource(m.Resource),
			StartedAt:        unix(m.StartedAt),
			EndedAt:          unix(m.EndedAt),
			Summary:          m.Summary,
			URL:              m.URL,
			Severity:         m.Severity,
			ObservedValue:    m.ObservedValue,
			ThresholdValue:   m.ThresholdValue,
		},
		Version: m.Version,
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("events.EncodeIncident: %w", err)
	}
	return b, nil
}
