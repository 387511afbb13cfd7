package attack

import "context"

// copyScenarios drill a copy of the sandbox's disk shared under a name
// that says nothing of the sandbox (Stratus Red Team's
// gcp.exfiltration.share-compute-image, renamed): the share is
// recognised by the disk Compute says the image was made from, read when
// the share's entry arrives. Its benign counterpart is
// operator-team-image (an image of the team's VM's disk, shared).
func copyScenarios() []Scenario {
	return []Scenario{
		{Name: "sandbox-disk-copy-shared", Kind: Attack, Actor: actorOther, Counterpart: "operator-team-image",
			Summary: "makes an image named golden of the sandbox's boot disk and shares it with an outside account: images.insert sourceDisk forceCreate, images.setIamPolicy (allowed)",
			Act: func(ctx context.Context, w *World) error {
				p, z, d := w.Cfg.Cloud.GCP.Project, w.Cfg.Cloud.GCP.Zone, w.Sandbox.Name
				return w.shareImageOf(ctx, p, "zones/"+z+"/disks/"+d, "golden", shareWithAttacker())
			}},
	}
}
