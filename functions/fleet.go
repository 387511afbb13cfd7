package functions

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/store"
)

// ErrNotRecorded is returned for a sandbox the registry does not hold.
var ErrNotRecorded = errors.New("not in the sandbox registry")

// PostureOf runs every posture check (CheckPosture) for the sandbox
// (project, name): "" project is coopguard's own, "" name the configured
// sandbox's, both empty the configured sandbox. Any other sandbox must be
// in the registry (Provision or adopt recorded it); the checks read its
// project as the reader, which must hold its roles there.
func PostureOf(ctx context.Context, e *Env, project, name string) (posture.Report, error) {
	home := e.Config.Cloud.GCP.Project
	if project == "" {
		project = home
	}
	if name == "" {
		name = e.Config.VM.Name
	}
	if project == home && name == e.Config.VM.Name {
		return CheckPosture(ctx, e)
	}
	sb, err := provisioner.SandboxIn(e.Config, project, name, "")
	if err != nil {
		return posture.Report{}, err
	}
	if e.Store == nil {
		return posture.Report{}, fmt.Errorf("sandbox %s/%s: %w: no incident store is configured", project, name, ErrNotRecorded)
	}
	in, err := e.Store.SandboxesIn(ctx, project)
	if err != nil {
		return posture.Report{}, err
	}
	if !slices.ContainsFunc(in, func(r store.Registered) bool { return r.Name == name }) {
		return posture.Report{}, fmt.Errorf("sandbox %s/%s: %w: coopguard status lists the sandboxes it guards; coopguard provision or adopt records one", project, name, ErrNotRecorded)
	}
	return checkPosture(ctx, e, config.AccountReader, sb)
}

// SandboxStatus is one sandbox of the registry as Status lists it: where
// it is, how it is guarded, its VM's status where Status reads it, and
// its incidents among those Status lists.
type SandboxStatus struct {
	Project    string `json:"project"`
	Zone       string `json:"zone"`
	Name       string `json:"name"`
	InstanceID string `json:"instanceId,omitempty"`
	Network    string `json:"network"`
	Adopted    bool   `json:"adopted,omitempty"`
	// VM is the VM's status as Compute reports it; "" when Status does
	// not read that project's VMs (another project than coopguard's).
	VM string `json:"vm,omitempty"`
	// Incidents counts its incidents among Status's latest; Latest is the
	// newest one's outcome.
	Incidents int    `json:"incidents"`
	Latest    string `json:"latest,omitempty"`
}

// fleetStatus lists the registry's sandboxes with what rep already holds
// of them (VM status, incidents). Without a store there is no registry.
func fleetStatus(ctx context.Context, e *Env, rep *StatusReport) ([]SandboxStatus, error) {
	if e.Store == nil {
		return nil, nil
	}
	recs, err := e.Store.Sandboxes(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the sandbox registry: %w", err)
	}
	out := make([]SandboxStatus, 0, len(recs))
	for _, r := range recs {
		s := SandboxStatus{Project: r.Project, Zone: r.Zone, Name: r.Name, InstanceID: r.InstanceID, Network: r.Network, Adopted: r.Adopted}
		if r.Project == rep.Project {
			if i := slices.IndexFunc(rep.Instances, func(in InstanceStatus) bool { return in.Name == r.Name && in.Zone == r.Zone }); i >= 0 {
				s.VM = rep.Instances[i].Status
			}
		}
		for _, inc := range rep.Incidents { // newest first
			if IncidentSandbox(inc, rep.Project) == r.Project+"/"+r.Name {
				if s.Incidents == 0 {
					s.Latest = inc.Outcome
				}
				s.Incidents++
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// IncidentSandbox is the address ("<project>/<name>") of the sandbox an
// incident acted on, home being coopguard's project (an incident that
// names none is about it); "" when it acted on no VM.
func IncidentSandbox(r incident.Report, home string) string {
	if r.Instance == "" {
		return ""
	}
	p := r.Incident.Project
	if p == "" {
		p = home
	}
	return p + "/" + r.Instance
}
