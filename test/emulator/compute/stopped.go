package compute

import (
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
)

// hardeningRoutes registers the instance changes that close an adopted
// VM's gaps: instances.deleteAccessConfig
// (https://cloud.google.com/compute/docs/reference/rest/v1/instances/deleteAccessConfig)
// takes its external address away while it runs;
// instances.updateShieldedInstanceConfig
// (https://cloud.google.com/compute/docs/reference/rest/v1/instances/updateShieldedInstanceConfig)
// and instances.setServiceAccount
// (https://cloud.google.com/compute/docs/reference/rest/v1/instances/setServiceAccount,
// https://cloud.google.com/compute/docs/instances/change-service-account)
// need it stopped.
func (s *Server) hardeningRoutes() {
	s.handle("POST zones/instances/{}/deleteAccessConfig", endpoint{method: "compute.instances.deleteAccessConfig", mutate: s.deleteAccessConfig})
	s.handle("PATCH zones/instances/{}/updateShieldedInstanceConfig", endpoint{method: "compute.instances.updateShieldedInstanceConfig", mutate: s.updateShieldedInstanceConfig})
	s.handle("POST zones/instances/{}/setServiceAccount", endpoint{method: "compute.instances.setServiceAccount", mutate: s.setServiceAccount})
}

// deleteAccessConfig removes the access config named by the accessConfig
// query parameter from the interface networkInterface names; both are
// required. GCP's answer for a name the interface does not carry is not
// documented: the emulator refuses it with a 400 and changes nothing,
// the stricter choice.
func (s *Server) deleteAccessConfig(c *call) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	name := c.query("accessConfig")
	if name == "" {
		return target{}, errInvalid("Required parameter accessConfig is missing.")
	}
	i, err := nicOf(c, inst)
	if err != nil {
		return target{}, err
	}
	nic := inst.GetNetworkInterfaces()[i]
	var kept []*computepb.AccessConfig
	for _, ac := range nic.GetAccessConfigs() {
		if ac.GetName() != name {
			kept = append(kept, ac)
		}
	}
	if len(kept) == len(nic.GetAccessConfigs()) {
		return target{}, errInvalidField("accessConfig", name, "No access config of the network interface has this name.")
	}
	nic.AccessConfigs = kept
	s.replace(key, inst)
	return target{key: key, id: inst.GetId()}, nil
}

// mustBeStopped refuses a change the reference allows only on a stopped
// (TERMINATED) instance. GCP's status code and wording are not
// documented: a 400 here.
func mustBeStopped(inst *computepb.Instance, what string) error {
	if st := inst.GetStatus(); st != "TERMINATED" {
		return errInvalid(fmt.Sprintf("The instance %s must be stopped to change its %s (it is %s): stop it first.", inst.GetName(), what, st))
	}
	return nil
}

// updateShieldedInstanceConfig merges the body (JSON merge patch, as the
// reference says) into the instance's Shielded VM options, on a stopped
// instance only.
func (s *Server) updateShieldedInstanceConfig(c *call) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	body := &computepb.ShieldedInstanceConfig{}
	if err := c.decode(body); err != nil {
		return target{}, err
	}
	if err := mustBeStopped(inst, "Shielded VM options"); err != nil {
		return target{}, err
	}
	if inst.ShieldedInstanceConfig == nil {
		inst.ShieldedInstanceConfig = &computepb.ShieldedInstanceConfig{}
	}
	if err := mergePatch(inst.ShieldedInstanceConfig, c.body); err != nil {
		return target{}, err
	}
	s.replace(key, inst)
	return target{key: key, id: inst.GetId()}, nil
}

// setServiceAccount replaces the account the instance runs as (and its
// scopes), on a stopped instance only; an empty email leaves it with no
// account.
func (s *Server) setServiceAccount(c *call) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	body := &computepb.InstancesSetServiceAccountRequest{}
	if err := c.decode(body); err != nil {
		return target{}, err
	}
	if err := mustBeStopped(inst, "service account"); err != nil {
		return target{}, err
	}
	inst.ServiceAccounts = nil
	if body.GetEmail() != "" {
		inst.ServiceAccounts = []*computepb.ServiceAccount{{Email: body.Email, Scopes: body.GetScopes()}}
	}
	s.replace(key, inst)
	return target{key: key, id: inst.GetId()}, nil
}
