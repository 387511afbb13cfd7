package posture

import (
	"context"
	"fmt"
	"strings"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// defaultComputeSASuffix ends the default Compute Engine service account's
// email (PROJECT_NUMBER-compute@developer.gserviceaccount.com), which holds
// Editor on the project unless someone removed it.
const defaultComputeSASuffix = "-compute@developer.gserviceaccount.com"

// dedicatedServiceAccount: the VM runs as the configured, dedicated
// service account, not the default Compute one.
type dedicatedServiceAccount struct{}

func (dedicatedServiceAccount) Name() string { return "dedicated-service-account" }

func (dedicatedServiceAccount) Run(ctx context.Context, c *gcp.Clients, in *Input) Result {
	inst, err := in.instance(ctx, c)
	if err != nil {
		return readError(err, "compute.instances.get")
	}
	if inst == nil {
		return noVM(in)
	}
	want := in.Config.Cloud.GCP.ServiceAccount
	// Changing a VM's service account needs it stopped; provisioning
	// cannot do it for a running sandbox, so the fix spells it out.
	fix := fmt.Sprintf("gcloud compute instances stop %[1]s --zone %[2]s --project %[3]s && gcloud compute instances set-service-account %[1]s --zone %[2]s --project %[3]s --service-account %[4]s --scopes cloud-platform && gcloud compute instances start %[1]s --zone %[2]s --project %[3]s",
		inst.GetName(), in.Sandbox.Zone, in.Project(), want)
	sas := inst.GetServiceAccounts()
	if len(sas) == 0 {
		return fail(fmt.Sprintf("VM %s runs without a service account; config says %s", inst.GetName(), want), fix)
	}
	got := sas[0].GetEmail()
	switch {
	case strings.HasSuffix(got, defaultComputeSASuffix) || got == "default":
		return fail(fmt.Sprintf("VM %s runs as the default Compute service account %s (Editor on the project by default)", inst.GetName(), got), fix)
	case got != want:
		return fail(fmt.Sprintf("VM %s runs as %s; config cloud.gcp.service_account is %s", inst.GetName(), got, want), fix)
	}
	return pass("VM %s runs as the dedicated service account %s", inst.GetName(), got)
}
