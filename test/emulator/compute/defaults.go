package compute

import (
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// fillScheduling fills the scheduling fields a request leaves unset with
// what GCP answers for them (Scheduling in the API reference): a standard
// VM migrates on host maintenance and restarts automatically; a
// preemptible or Spot VM does neither. provisioningModel is STANDARD
// unless asked otherwise (the reference names no default; GCP answers
// STANDARD).
func fillScheduling(inst *computepb.Instance) {
	if inst.Scheduling == nil {
		inst.Scheduling = &computepb.Scheduling{}
	}
	sc := inst.Scheduling
	if sc.Preemptible == nil {
		sc.Preemptible = proto.Bool(false)
	}
	if sc.ProvisioningModel == nil || sc.GetProvisioningModel() == "" {
		sc.ProvisioningModel = proto.String("STANDARD")
	}
	spare := sc.GetPreemptible() || sc.GetProvisioningModel() == "SPOT"
	if sc.OnHostMaintenance == nil || sc.GetOnHostMaintenance() == "" {
		if spare {
			sc.OnHostMaintenance = proto.String("TERMINATE")
		} else {
			sc.OnHostMaintenance = proto.String("MIGRATE")
		}
	}
	if sc.AutomaticRestart == nil {
		sc.AutomaticRestart = proto.Bool(!spare)
	}
	// A Spot VM that names no termination action is stopped, not
	// deleted, when preempted (create-use-spot: STOP is the default).
	if sc.GetProvisioningModel() == "SPOT" && sc.GetInstanceTerminationAction() == "" {
		sc.InstanceTerminationAction = proto.String("STOP")
	}
}

// fillShielded fills the Shielded VM options a request leaves unset with
// their documented defaults (ShieldedInstanceConfig in the API
// reference): Secure Boot off, vTPM and integrity monitoring on. Every
// image the emulator boots stands for a Shielded-VM-capable public image.
func fillShielded(inst *computepb.Instance) {
	if inst.ShieldedInstanceConfig == nil {
		inst.ShieldedInstanceConfig = &computepb.ShieldedInstanceConfig{}
	}
	sh := inst.ShieldedInstanceConfig
	if sh.EnableSecureBoot == nil {
		sh.EnableSecureBoot = proto.Bool(false)
	}
	if sh.EnableVtpm == nil {
		sh.EnableVtpm = proto.Bool(true)
	}
	if sh.EnableIntegrityMonitoring == nil {
		sh.EnableIntegrityMonitoring = proto.Bool(true)
	}
}

// defaultTCPTimeWait is the TIME_WAIT timeout of a NAT that sets none
// (RouterNat.tcpTimeWaitTimeoutSec in the API reference).
const defaultTCPTimeWait = 120

// fillNats sets the fields the server fills on every NAT of a router, as
// a recorded routers.get shows them after a patch that did not send them:
// type PUBLIC, endpointTypes [ENDPOINT_TYPE_VM], autoNetworkTier PREMIUM
// for auto-allocated addresses, and the output-only
// effectiveTcpTimeWaitTimeoutSec, recomputed from tcpTimeWaitTimeoutSec
// whatever the request said of it.
func fillNats(rt *computepb.Router) {
	for _, n := range rt.GetNats() {
		if n.GetType() == "" {
			n.Type = proto.String("PUBLIC")
		}
		if len(n.GetEndpointTypes()) == 0 {
			n.EndpointTypes = []string{"ENDPOINT_TYPE_VM"}
		}
		if n.GetAutoNetworkTier() == "" && n.GetNatIpAllocateOption() == "AUTO_ONLY" && n.GetType() == "PUBLIC" {
			n.AutoNetworkTier = proto.String("PREMIUM")
		}
		wait := n.GetTcpTimeWaitTimeoutSec()
		if n.TcpTimeWaitTimeoutSec == nil {
			wait = defaultTCPTimeWait
		}
		n.EffectiveTcpTimeWaitTimeoutSec = proto.Int32(wait)
	}
}
