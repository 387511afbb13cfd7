package audit

// Compute instance writes that close an adopted VM's gaps: each needs the
// permission of its own name on the VM
// (https://cloud.google.com/compute/docs/access/iam-permissions), and
// setting the account a VM runs as acts as that account, so it also needs
// iam.serviceAccounts.actAs on it
// (https://cloud.google.com/compute/docs/access/iam#the_serviceaccountuser_role).
// Each is audited as v1.compute.instances.<method>
// (https://cloud.google.com/compute/docs/logging/audit-logging).
func init() {
	REST["compute.instances.deleteAccessConfig"] = rest("compute.instances.deleteAccessConfig", AdminWrite)
	REST["compute.instances.updateShieldedInstanceConfig"] = rest("compute.instances.updateShieldedInstanceConfig", AdminWrite)
	r := rest("compute.instances.setServiceAccount", AdminWrite)
	r.ActAs = true
	REST["compute.instances.setServiceAccount"] = r
}
