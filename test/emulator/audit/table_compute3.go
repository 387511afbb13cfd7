package audit

// Compute writes added to close the catalogue: an interface's access
// config or network changed (compute.instances.updateAccessConfig needs
// compute.subnetworks.useExternalIp as addAccessConfig does; moving an
// interface needs compute.subnetworks.use on the new subnetwork: both
// checked on the VM here, the stricter choice), and packet mirroring with
// the internal load balancer's forwarding rule its collector is
// (https://cloud.google.com/compute/docs/access/iam-permissions). Every
// method is audited as v1.compute.<collection>.<method>
// (https://cloud.google.com/compute/docs/logging/audit-logging).
func init() {
	REST["compute.instances.updateAccessConfig"] = rest("compute.instances.updateAccessConfig", AdminWrite, "compute.subnetworks.useExternalIp")
	REST["compute.instances.updateNetworkInterface"] = rest("compute.instances.updateNetworkInterface", AdminWrite, "compute.subnetworks.use")
	for _, w := range []string{"compute.forwardingRules.insert", "compute.forwardingRules.delete",
		"compute.packetMirrorings.insert", "compute.packetMirrorings.patch", "compute.packetMirrorings.delete"} {
		REST[w] = rest(w, AdminWrite)
	}
	for _, r := range []string{"compute.forwardingRules.get", "compute.forwardingRules.list",
		"compute.packetMirrorings.get", "compute.packetMirrorings.list"} {
		REST[r] = rest(r, AdminRead)
	}
}
