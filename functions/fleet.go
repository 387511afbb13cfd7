package functions

import (
	"context"
	"fmt"
	"slices"

	"github.com/cloudcoop/coopguard/shared/incident"
)

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
