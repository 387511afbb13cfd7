package audit

// Compute instance writes added with the catalogue's second batch: giving
// an interface an external address needs compute.instances.addAccessConfig
// on the VM and compute.subnetworks.useExternalIp on its subnetwork
// (https://cloud.google.com/compute/docs/reference/rest/v1/instances/addAccessConfig,
// https://cloud.google.com/compute/docs/access/iam-permissions); both are
// checked on the VM here.
func init() {
	REST["compute.instances.addAccessConfig"] = rest("compute.instances.addAccessConfig", AdminWrite, "compute.subnetworks.useExternalIp")
}
