package functions

import (
	"cmp"
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
	i := slices.IndexFunc(in, func(r store.Registered) bool { return r.Name == name })
	if i < 0 {
		return posture.Report{}, fmt.Errorf("sandbox %s/%s: %w: coopguard status lists the sandboxes it guards; coopguard provision or adopt records one", project, name, ErrNotRecorded)
	}
	sb.Zone = cmp.Or(in[i].Zone, sb.Zone) // where its VM is, not the configured zone
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
	// VM is the VM's status as Compute reports it in the sandbox's own
	// project and zone; "" when no VM of that name is labelled there (not
	// built yet, or gone) or the list failed (ReadError).
	VM string `json:"vm,omitempty"`
	// ReadError says why its VM could not be read, with the fix.
	ReadError string `json:"readError,omitempty"`
	// Incidents counts its incidents among Status's latest; Latest is the
	// newest one's outcome.
	Incidents int    `json:"incidents"`
	Latest    string `json:"latest,omitempty"`
}

// fleetStatus lists the registry's sandboxes recs with what rep already
// holds of them: the VM Status read in the sandbox's own project and
// zone, and its incidents. readErrs are the places whose VMs could not be
// listed.
func fleetStatus(rep *StatusReport, recs []store.Registered, readErrs map[statusPlace]error) []SandboxStatus {
	if recs == nil {
		return nil
	}
	out := make([]SandboxStatus, 0, len(recs))
	for _, r := range recs {
		s := SandboxStatus{Project: r.Project, Zone: r.Zone, Name: r.Name, InstanceID: r.InstanceID, Network: r.Network, Adopted: r.Adopted}
		if i := slices.IndexFunc(rep.Instances, func(in InstanceStatus) bool {
			return in.Project == r.Project && in.Name == r.Name && in.Zone == r.Zone
		}); i >= 0 {
			s.VM = rep.Instances[i].Status
		}
		if err := readErrs[statusPlace{r.Project, r.Zone}]; err != nil {
			s.ReadError = fmt.Sprintf("%v: coopguard-reader needs compute.instances.list in project %s (deploy/roles/reader.yaml; coopguard provision --project %s --name %s binds it there)", err, r.Project, r.Project, r.Name)
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
	return out
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
