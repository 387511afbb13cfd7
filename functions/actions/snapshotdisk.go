package actions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// SnapshotDisk snapshots the stopped VM's boot disk for forensics, as a
// follow-up step after vm-terminated. One snapshot per incident; a VM that
// was already stopped when the incident came in keeps the snapshot an
// earlier incident took, since its disk has not changed since. It never
// waits: it requests the snapshot, then each look reports it pending while
// it is CREATING or UPLOADING (minutes in GCP) and done once READY.
type SnapshotDisk struct{}

// Name implements Action.
func (SnapshotDisk) Name() string { return "snapshot-disk" }

// Mutates implements Action.
func (SnapshotDisk) Mutates() bool { return true }

// maxSnapshotRequests bounds the snapshots one incident requests, each
// after the one before failed.
const maxSnapshotRequests = 5

// diskLabel labels coopguard's snapshots with the disk they copy.
const diskLabel = "coopguard-disk"

// Run implements Action.
func (SnapshotDisk) Run(ctx context.Context, c *gcp.Clients, t *Target) (Outcome, error) {
	disk := bootDisk(t.Instance)
	out := Outcome{Target: "zones/" + t.Zone + "/disks/" + disk}
	if disk == "" {
		return out, permanent(errors.New("the instance has no boot disk to snapshot"))
	}
	name := snapshotName(t)
	ref := "global/snapshots/" + name
	snap, err := c.Snapshots.Get(ctx, &computepb.GetSnapshotRequest{Project: t.Project, Snapshot: name})
	switch {
	case err == nil:
		ours := snap.GetLabels()[IncidentLabel] == t.Incident.LabelValue()
		switch snap.GetStatus() {
		case "READY":
			out.Result, out.Detail = incident.ResultAlready, "snapshot "+name
			if ours {
				out.Result, out.Changed = incident.ResultDone, []string{ref}
			}
		case "FAILED":
			return out, permanent(fmt.Errorf("snapshot %s of disk %s FAILED: delete it (gcloud compute snapshots delete %s) and take one by hand", name, disk, name))
		default:
			out.Result, out.Detail = incident.ResultPending, "snapshot "+name+" is "+snap.GetStatus()
			if ours {
				out.Changed = []string{ref}
			}
		}
		return out, nil
	case !retry.IsNotFound(err):
		return out, errorf(err, "read snapshot %s", name)
	}
	rid := *requestID(t, "snapshot", disk)
	if !t.DryRun {
		// Earlier looks' requests that left no snapshot: their
		// operations say why (or that one is still queued).
		op, next, requested, failed, err := requestChain(ctx, c, t, rid)
		switch {
		case err != nil:
			return out, err
		case failed != nil && requested >= maxSnapshotRequests:
			return out, permanent(fmt.Errorf("%d snapshots of disk %s failed, the last: %w; take one by hand (gcloud compute disks snapshot %s --zone %s)", requested, disk, failed, disk, t.Zone))
		case failed != nil:
			rid = next
		case op != nil && op.GetStatus() != computepb.Operation_DONE:
			out.Result, out.Detail = incident.ResultPending, "snapshot "+name+" requested (operation "+op.GetName()+" "+op.GetStatus().String()+")"
			return out, nil
		}
	}
	if prior := t.Prior["stop-vm"]; prior.Result == incident.ResultAlready {
		// The VM was stopped before this incident: its disk may be in an
		// earlier incident's snapshot already.
		prev, err := earlierSnapshot(ctx, c, t, disk)
		if err != nil {
			return out, err
		}
		if prev != "" {
			out.Result, out.Detail = incident.ResultAlready, "VM was already stopped; disk unchanged since snapshot "+prev
			return out, nil
		}
	}
	out.Detail = "snapshot " + name
	if t.DryRun {
		out.Result = incident.ResultDryRun
		return out, nil
	}
	op, err := c.Disks.CreateSnapshot(ctx, &computepb.CreateSnapshotDiskRequest{
		Project: t.Project, Zone: t.Zone, Disk: disk,
		RequestId: &rid,
		SnapshotResource: &computepb.Snapshot{
			Name:        proto.String(name),
			Description: proto.String("coopguard forensics: " + t.Incident.ID + " " + t.Incident.Trigger),
			Labels: map[string]string{
				config.SandboxLabel: t.Instance.GetName(),
				IncidentLabel:       t.Incident.LabelValue(),
				diskLabel:           disk,
			},
		},
	})
	switch {
	case retry.IsAlreadyExists(err):
		// Another look of this incident requested it first.
		out.Result, out.Detail = incident.ResultPending, "snapshot "+name+" requested"
		return out, nil
	case retry.IsNotFound(err):
		return out, permanent(errorf(err, "snapshot disk %s", disk))
	case err != nil:
		return out, errorf(err, "snapshot disk %s", disk)
	}
	out.Result, out.Changed = incident.ResultPending, []string{ref}
	out.Detail = "snapshot " + name + " requested (operation " + op.Name() + ")"
	return out, nil
}

// bootDisk returns the boot disk's name.
func bootDisk(inst *computepb.Instance) string {
	for _, d := range inst.GetDisks() {
		if d.GetBoot() {
			src := d.GetSource()
			return src[strings.LastIndex(src, "/")+1:]
		}
	}
	return ""
}

// snapshotName is "coopguard-<incident>", within 63 characters.
func snapshotName(t *Target) string {
	n := "coopguard-" + t.Incident.LabelValue()
	if len(n) > 63 {
		n = n[:63]
	}
	return strings.TrimRight(strings.ReplaceAll(n, "_", "-"), "-")
}

// earlierSnapshot finds a coopguard snapshot of disk, if any.
func earlierSnapshot(ctx context.Context, c *gcp.Clients, t *Target, disk string) (string, error) {
	it := c.Snapshots.List(ctx, &computepb.ListSnapshotsRequest{Project: t.Project, Filter: proto.String("labels." + diskLabel + " = " + disk)})
	for {
		s, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return "", nil
		}
		if err != nil {
			return "", errorf(err, "list snapshots")
		}
		if s.GetLabels()[diskLabel] == disk && s.GetLabels()[config.SandboxLabel] == t.Instance.GetName() {
			return s.GetName(), nil
		}
	}
}
