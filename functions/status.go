package functions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
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
	// Project is the project the VM is in.
	Project        string            `json:"project"`
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
	Sandbox string `json:"sandbox"`
	// Project is the project the secret is in: its sandbox's.
	Project string `json:"project"`
	// Error says why its versions could not be read (in a sandbox's own
	// project; coopguard's own project's failures fail Status).
	Error    string          `json:"error,omitempty"`
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

// CollectStatus reads every sandbox's VM and managed secrets from GCP
// while it reads the incidents from the store: coopguard's own project's
// sandboxes (those labelled coopguard-sandbox in the configured zone) and
// every sandbox the registry records, each in its own project and zone.
// It reads per place, not per VM: one labelled instances list per
// project and zone, statusParallel of them (and of the secrets' version
// lists) at once. A read that fails in coopguard's own project fails
// Status; one that fails in a sandbox's project is reported on that
// sandbox (SandboxStatus.ReadError, SecretStatus.Error) with its fix, so
// one project's missing grant does not hide the fleet.
func CollectStatus(ctx context.Context, e *Env) (*StatusReport, error) {
	cfg := e.Config
	home := cfg.Cloud.GCP.Project
	rep := &StatusReport{Project: home, Instances: []InstanceStatus{}, Secrets: []SecretStatus{}, Incidents: []IncidentRecord{}}
	type listed struct {
		incidents []IncidentRecord
		err       error
	}
	fromStore := make(chan listed, 1)
	go func() {
		incidents, err := ListIncidents(ctx, e, StatusIncidents)
		fromStore <- listed{incidents, err}
	}()
	var recs []store.Registered
	if e.Store != nil {
		var err error
		if recs, err = e.Store.Sandboxes(ctx); err != nil {
			return nil, fmt.Errorf("read the sandbox registry: %w", err)
		}
	}
	places := statusPlaces(home, cfg.Cloud.GCP.Zone, recs)
	found := make([][]*computepb.Instance, len(places))
	failed := make([]error, len(places))
	clients := e.ClientsOf(config.AccountReader)
	eachBounded(len(places), func(i int) {
		found[i], failed[i] = labelledInstances(ctx, clients, places[i].project, places[i].zone)
	})
	readErrs := map[statusPlace]error{}
	for i, p := range places {
		if failed[i] != nil && p.project == home {
			return nil, failed[i]
		}
		if failed[i] != nil {
			readErrs[p] = failed[i]
		}
	}
	// Each sandbox's own secrets, in its own project: the configured
	// sandbox's first, then those Provision built in coopguard's project
	// (their label names them), then those the registry records in other
	// projects (the registry, not a label there, says they are ours).
	type owned struct{ project, id, name string } // name: the sandbox's
	var secrets []owned
	for _, id := range cfg.SandboxSecrets(cfg.VM.Name) {
		secrets = append(secrets, owned{home, id, cfg.VM.Name})
	}
	for i, p := range places {
		for _, inst := range found[i] {
			st := instanceStatus(inst, p.zone)
			st.Project = p.project
			rep.Instances = append(rep.Instances, st)
			if p.project != home {
				continue
			}
			if sb, ok := builtSandbox(cfg, inst); ok {
				for _, id := range sb.Secrets {
					secrets = append(secrets, owned{home, id, sb.Name})
				}
			}
		}
	}
	for _, r := range recs {
		if r.Project == home {
			continue
		}
		for _, id := range cfg.SandboxSecrets(r.Name) {
			secrets = append(secrets, owned{r.Project, id, r.Name})
		}
	}
	rep.Secrets = make([]SecretStatus, len(secrets))
	secretErrs := make([]error, len(secrets))
	eachBounded(len(secrets), func(i int) {
		s := secrets[i]
		rep.Secrets[i], secretErrs[i] = secretStatus(ctx, e, s.project, s.id)
		rep.Secrets[i].Sandbox = s.name
	})
	for i, err := range secretErrs {
		switch {
		case err == nil:
		case secrets[i].project == home:
			return nil, err
		default:
			rep.Secrets[i].Error = fmt.Sprintf("%v: coopguard-reader needs its secrets role in project %s (coopguard provision --project %s --name %s binds it)", err, secrets[i].project, secrets[i].project, secrets[i].name)
		}
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
	rep.Sandboxes = fleetStatus(rep, recs, readErrs)
	return rep, nil
}

// statusParallel bounds Status's reads of GCP in flight at once.
const statusParallel = 16

// eachBounded calls f(0..n-1), statusParallel at a time, and returns when
// every call has.
func eachBounded(n int, f func(int)) {
	sem := make(chan struct{}, statusParallel)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// statusPlace is one project and zone whose sandbox VMs Status lists.
type statusPlace struct{ project, zone string }

// statusPlaces are where Status lists VMs: coopguard's project in the
// configured zone first, then each project and zone where the registry
// records a sandbox, once each, sorted.
func statusPlaces(home, zone string, recs []store.Registered) []statusPlace {
	first := statusPlace{home, zone}
	seen := map[statusPlace]bool{first: true}
	var rest []statusPlace
	for _, r := range recs {
		p := statusPlace{r.Project, r.Zone}
		if !seen[p] {
			seen[p] = true
			rest = append(rest, p)
		}
	}
	slices.SortFunc(rest, func(a, b statusPlace) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.zone, b.zone))
	})
	return append([]statusPlace{first}, rest...)
}

// labelledInstances lists the VMs labelled coopguard-sandbox in
// project/zone: one list, whatever the number of sandboxes there.
func labelledInstances(ctx context.Context, c *gcp.Clients, project, zone string) ([]*computepb.Instance, error) {
	it := c.Instances.List(ctx, &computepb.ListInstancesRequest{
		Project: project, Zone: zone, Filter: ptr("labels." + config.SandboxLabel + ":*"),
	})
	var out []*computepb.Instance
	for {
		inst, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list the sandbox VMs in %s/%s: %w", project, zone, err)
		}
		out = append(out, inst)
	}
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

// secretStatus lists the versions of secret id of project and asks the rotation policy
// whether it is due, exactly as a rotation run would decide.
func secretStatus(ctx context.Context, e *Env, project, id string) (SecretStatus, error) {
	r := NewRotationRunner(e, config.AccountReader)
	r.Project, r.Managed = project, []string{id} // a sandbox's own, as CollectStatus found it
	st := SecretStatus{Name: "projects/" + project + "/secrets/" + id, Project: project, Versions: []VersionStatus{}}
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
