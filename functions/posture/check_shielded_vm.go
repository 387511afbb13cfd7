package posture

import (
	"context"
	"fmt"
	"strings"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// shieldedVM: secure boot, vTPM and integrity monitoring are all on.
type shieldedVM struct{}

func (shieldedVM) Name() string { return "shielded-vm" }

func (shieldedVM) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	inst, err := in.instance(ctx, c)
	if err != nil {
		return readError(err, "compute.instances.get")
	}
	if inst == nil {
		return noVM(in)
	}
	sh := inst.GetShieldedInstanceConfig()
	var off []string
	if !sh.GetEnableSecureBoot() {
		off = append(off, "secure boot")
	}
	if !sh.GetEnableVtpm() {
		off = append(off, "vTPM")
	}
	if !sh.GetEnableIntegrityMonitoring() {
		off = append(off, "integrity monitoring")
	}
	if len(off) > 0 {
		// Shielded VM options change only while the VM is stopped, and
		// only on an image that supports them (debian-12 does).
		return fail(fmt.Sprintf("VM %s: %s off", inst.GetName(), strings.Join(off, ", ")),
			fmt.Sprintf("gcloud compute instances stop %[1]s --zone %[2]s --project %[3]s && gcloud compute instances update %[1]s --zone %[2]s --project %[3]s --shielded-secure-boot --shielded-vtpm --shielded-integrity-monitoring && gcloud compute instances start %[1]s --zone %[2]s --project %[3]s",
				inst.GetName(), in.Sandbox.Zone, in.Project()))
	}
	return pass("VM %s: secure boot, vTPM and integrity monitoring on", inst.GetName())
}
