package compute

import (
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// diskRoutes registers the zonal disks collection. Disks are created as
// the boot and data disks of instances; the responder snapshots them for
// forensics.
func (s *Server) diskRoutes() {
	s.handle("GET zones/disks/{}", endpoint{method: "compute.disks.get", read: s.getDisk})
	s.handle("GET zones/disks", endpoint{method: "compute.disks.list", read: func(c *call) (any, error) {
		return s.list(c, "disks", "compute#diskList")
	}})
	s.handle("POST zones/disks/{}/createSnapshot", endpoint{method: "compute.disks.createSnapshot", mutate: s.createSnapshot})
	s.handle("DELETE zones/disks/{}", endpoint{method: "compute.disks.delete", mutate: s.deleteDisk})
}

// newDisk creates the disk an instance's initializeParams describe and
// returns its URL; callers hold s.mu.
func (s *Server) newDisk(zoneScope, name string, p *computepb.AttachedDiskInitializeParams, user string) (string, error) {
	d := &computepb.Disk{
		SizeGb:           proto.Int64(10),
		Type:             proto.String(selfLinkBase + zoneScope + "/diskTypes/pd-standard"),
		Zone:             proto.String(selfLinkBase + zoneScope),
		Status:           proto.String("READY"),
		Users:            []string{user},
		LabelFingerprint: proto.String(s.fingerprint(name)),
	}
	if p != nil {
		if p.DiskSizeGb != nil {
			d.SizeGb = proto.Int64(p.GetDiskSizeGb())
		}
		if p.DiskType != nil {
			d.Type = proto.String(selfLinkBase + link(projectOf(zoneScope), p.GetDiskType()))
		}
		d.SourceImage = p.SourceImage
		d.Labels = p.GetLabels()
	}
	key := zoneScope + "/disks/" + name
	if _, err := s.create(key, "compute#disk", d); err != nil {
		return "", err
	}
	return selfLinkBase + key, nil
}

// getDisk returns one disk.
func (s *Server) getDisk(c *call) (any, error) {
	m, err := s.get(c.key("disks", c.name))
	if err != nil {
		return nil, err
	}
	return proto.Clone(m), nil
}

// createSnapshot snapshots a disk into a global snapshot named by the body.
// The operation is zonal and targets the disk, as on the real API.
func (s *Server) createSnapshot(c *call) (target, error) {
	key := c.key("disks", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	d := m.(*computepb.Disk)
	snap := &computepb.Snapshot{}
	if err := c.decode(snap); err != nil {
		return target{}, err
	}
	snap.SourceDisk = proto.String(d.GetSelfLink())
	snap.SourceDiskId = proto.String(strconv.FormatUint(d.GetId(), 10))
	snap.DiskSizeGb = proto.Int64(d.GetSizeGb())
	snap.StorageBytes = proto.Int64(d.GetSizeGb() << 28)
	// The snapshot exists while it is taken; it is READY when its
	// operation is DONE.
	snap.Status = proto.String("CREATING")
	snap.LabelFingerprint = proto.String(s.fingerprint(snap.GetName()))
	if len(snap.StorageLocations) == 0 {
		snap.StorageLocations = []string{"us"}
	}
	sk := "projects/" + c.project + "/global/snapshots/" + snap.GetName()
	id, err := s.create(sk, "compute#snapshot", snap)
	if err != nil {
		return target{}, err
	}
	return target{key: key, id: d.GetId(), done: func() {
		cur, ok := s.objects[sk].(*computepb.Snapshot)
		if !ok || cur.GetId() != id {
			return
		}
		cur = proto.Clone(cur).(*computepb.Snapshot)
		cur.Status = proto.String("READY")
		s.replace(sk, cur)
	}}, nil
}

// deleteDisk removes a disk no instance uses.
func (s *Server) deleteDisk(c *call) (target, error) {
	key := c.key("disks", c.name)
	m, err := s.get(key)
	if err != nil {
		return target{}, err
	}
	if users := m.(*computepb.Disk).GetUsers(); len(users) > 0 {
		return target{}, errInUse("disk", key, users[0])
	}
	id, err := s.remove(key)
	return target{key: key, id: id}, err
}
