package functions

import (
	"context"
	"slices"
	"strings"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// copySource returns the disk the snapshot or image a sharing entry
// concerns was made from, as Compute reports its sourceDisk, so that a
// copy of a sandbox's disk shared under any name is that sandbox's
// (detect.Sandbox.CopyOf). The entry names only the snapshot or image,
// and the sandbox can write neither it nor Compute's answer. Other
// entries, and coopguard's own calls, need no read and get "". When the
// read fails the share is judged by its name alone, as before the read,
// and the failure is logged.
func copySource(ctx context.Context, e *Env, entry events.LogEntry) string {
	res := entry.Audit.ResourceName
	if !detect.IsCopyShare(entry.Audit.MethodName) || slices.Contains(e.Sandbox.Coopguard, entry.Audit.PrincipalEmail) {
		return ""
	}
	// projects/P/global/snapshots/N or projects/P/global/images/N.
	seg := strings.Split(res, "/")
	if len(seg) != 5 || seg[0] != "projects" || seg[2] != "global" {
		return ""
	}
	var (
		src string
		err error
	)
	switch seg[3] {
	case "snapshots":
		var s *computepb.Snapshot
		s, err = e.Clients.Snapshots.Get(ctx, &computepb.GetSnapshotRequest{Project: seg[1], Snapshot: seg[4]})
		src = s.GetSourceDisk()
	case "images":
		var i *computepb.Image
		i, err = e.Clients.Images.Get(ctx, &computepb.GetImageRequest{Project: seg[1], Image: seg[4]})
		src = i.GetSourceDisk()
	default:
		return ""
	}
	if err != nil {
		logger.FromContext(ctx).Warn("cannot read which disk a shared snapshot or image was made from: judged by its name only", "resource", res, "error", err)
		return ""
	}
	return src
}
