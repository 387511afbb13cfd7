package functions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
)

// StatusReport is the read-only view of the sandbox that Status returns.
type StatusReport struct {
	Project   string           `json:"project"`
	Instances []InstanceStatus `json:"instances"`
	Secrets   []SecretStatus   `json:"secrets"`
	Incidents []IncidentRecord `json:"incidents"`
	// Deaf lists what keeps events from reaching coopguard (its log sink
	// missing or disabled, a topic or a trigger's subscription missing),
	// each with its fix; empty when the pipeline is whole.
	Deaf []posture.Finding `json:"deaf,omitempty"`
	// Sandboxes are the sandbox registry's, every project's (fleet.go).
	Sandboxes []SandboxStatus `json:"sandboxes,omitempty"`
}

// IncidentRecord is one incident as Status lists it: its latest report.
type IncidentRecord = incident.Report

// InstanceStatus is one sandbox VM.
type InstanceStatus struct {
	Name           string            `json:"name"`
	ID             string            `json:"id"`
	Zone           string            `json:"zone"`
	Status         string            `json:"status"`
	Labels         map[string]string `json:"labels"`
	NetworkTags    []string          `json:"networkTags"`
	ExternalIP     bool              `json:"externalIP"`
	ServiceAccount string            `json:"serviceAccount"`
	AgentsFlag     string            `json:"agentsFlag,omitempty"`
}

// SecretStatus is one managed secret and its versions, newest first, with
// the rotation policy's verdict.
type SecretStatus struct {
	Name string `json:"name"`
	// Sandbox is the sandbox whose own secret it is
	// (config.SandboxSecrets).
	Sandbox  string          `json:"sandbox"`
	Missing  bool            `json:"missing,omitempty"`
	Versions []VersionStatus `json:"versions"`
	// RotationDue reports that the newest ENABLED version is older than
	// rotation.max_age (or that there is no ENABLED version);
	// RotationDueReason says which.
	RotationDue       bool   `json:"rotationDue"`
	RotationDueReason string `json:"rotationDueReason,omitempty"`
	// NextRotation is when the newest ENABLED version reaches max_age
	// (absent when there is none).
	NextRotation time.Time `json:"nextRotation,omitzero"`
}

// VersionStatus is one secret version (never its payload).
type VersionStatus struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// CreateTime is when the version was added; AgeSeconds is its age when
	// Status ran.
	CreateTime time.Time `json:"createTime"`
	AgeSeconds int64     `json:"ageSeconds"`
}

// Status returns the sandbox's state as JSON (GET).
func (e *Env) Status(w http.ResponseWriter, r *http.Request) {
	r, ok := e.begin(w, r, http.MethodGet, nil)
	if !ok {
		return
	}
	rep, err := e.statusBurst.Do(r.Context(), e.Config.Cloud.GCP.Project, func(ctx context.Context) (*StatusReport, error) { return CollectStatus(ctx, e) })
	if err != nil {
		writeError(w, http.StatusBadGateway, "read sandbox status: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// CollectStatus reads the sandbox instances (those labelled
// coopguard-sandbox in the configured zone) and the managed secrets from
// GCP while it reads the incidents from the store.
func CollectStatus(ctx context.Context, e *Env) (*StatusReport, error) {
	cfg := e.Config
	rep := &StatusReport{Project: cfg.Cloud.GCP.Project, Instances: []InstanceStatus{}, Secrets: []SecretStatus{}, Incidents: []IncidentRecord{}}
	type listed struct {
		incidents []IncidentRecord
		err       error
	}
	fromStore := make(chan listed, 1)
	go func() {
		incidents, err := ListIncidents(ctx, e, StatusIncidents)
		fromStore <- listed{incidents, err}
	}()
	var others []*provisioner.Sandbox
	it := e.ClientsOf(config.AccountReader).Instances.List(ctx, &computepb.ListInstancesRequest{
		Project: cfg.Cloud.GCP.Project,
		Zone:    cfg.Cloud.GCP.Zone,
		Filter:  ptr("labels." + config.SandboxLabel + ":*"),
	})
	for {
		inst, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list instances in %s: %w", cfg.Cloud.GCP.Zone, err)
		}
		rep.Instances = append(rep.Instances, instanceStatus(inst, cfg.Cloud.GCP.Zone))
		if sb, ok := builtSandbox(cfg, inst); ok {
			others = append(others, sb)
		}
	}
	// Each sandbox's own secrets: the configured sandbox's first.
	secrets := cfg.SandboxSecrets(cfg.VM.Name)
	owners := slices.Repeat([]string{cfg.VM.Name}, len(secrets))
	for _, sb := range others {
		secrets = append(secrets, sb.Secrets...)
		owners = append(owners, slices.Repeat([]string{sb.Name}, len(sb.Secrets))...)
	}
	for i, id := range secrets {
		s, err := secretStatus(ctx, e, id)
		if err != nil {
			return nil, err
		}
		s.Sandbox = owners[i]
		rep.Secrets = append(rep.Secrets, s)
	}
	if sb, err := provisioner.NewSandbox(cfg, "", ""); err == nil {
		deaf, err := posture.Deaf(ctx, e.ClientsOf(config.AccountReader), sb)
		if err != nil {
			deaf = []posture.Finding{{What: "could not check coopguard's sink, topics and subscriptions: " + err.Error(),
				Fix: "grant logging.sinks.get, pubsub.topics.get and pubsub.subscriptions.list to coopguard-reader (deploy/roles/reader.yaml), then retry"}}
		}
		rep.Deaf = deaf
	}
	got := <-fromStore
	if got.err != nil {
		return nil, got.err
	}
	rep.Incidents = append(rep.Incidents, got.incidents...)
	fleet, err := fleetStatus(ctx, e, rep)
	if err != nil {
		return nil, err
	}
	rep.Sandboxes = fleet
	return rep, nil
}

func instanceStatus(inst *computepb.Instance, zone string) InstanceStatus {
	st := InstanceStatus{
		Name:        inst.GetName(),
		ID:          fmt.Sprint(inst.GetId()),
		Zone:        zone,
		Status:      inst.GetStatus(),
		Labels:      inst.GetLabels(),
		NetworkTags: inst.GetTags().GetItems(),
	}
	if st.Labels == nil {
		st.Labels = map[string]string{}
	}
	if st.NetworkTags == nil {
		st.NetworkTags = []string{}
	}
	for _, ni := range inst.GetNetworkInterfaces() {
		if len(ni.GetAccessConfigs()) > 0 {
			st.ExternalIP = true
		}
	}
	if sas := inst.GetServiceAccounts(); len(sas) > 0 {
		st.ServiceAccount = sas[0].GetEmail()
	}
	for _, item := range inst.GetMetadata().GetItems() {
		if item.GetKey() == "coopguard-agents" {
			st.AgentsFlag = item.GetValue()
		}
	}
	return st
}

// secretStatus lists a secret's versions and asks the rotation policy
// whether it is due, exactly as a rotation run would decide.
func secretStatus(ctx context.Context, e *Env, id string) (SecretStatus, error) {
	r := NewRotationRunner(e, config.AccountReader)
	r.Managed = []string{id} // a sandbox's own, as CollectStatus found it
	st := SecretStatus{Name: "projects/" + e.Config.Cloud.GCP.Project + "/secrets/" + id, Versions: []VersionStatus{}}
	plan, missing, err := r.Inspect(ctx, id)
	if err != nil {
		return st, err
	}
	st.Missing = missing
	now := e.Now()
	for _, v := range plan.Versions {
		st.Versions = append(st.Versions, VersionStatus{Name: v.Name, State: v.State, CreateTime: v.CreateTime, AgeSeconds: int64(v.Age(now) / time.Second)})
	}
	if !missing {
		st.RotationDue, st.RotationDueReason, st.NextRotation = plan.Due, plan.DueReason, plan.NextRotation
	}
	return st, nil
}

// StatusIncidents is how many incidents Status lists.
const StatusIncidents = 50

// ListIncidents returns the most recently updated incidents from the
// incident store, newest first: what coopguard recorded, never what Cloud
// Logging holds (anyone with logWriter can write there).
func ListIncidents(ctx context.Context, e *Env, limit int) ([]IncidentRecord, error) {
	if e.Store == nil {
		return nil, respond.ErrNoStore
	}
	recs, err := e.Store.List(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]IncidentRecord, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.View())
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }
