package compute

import (
	"strconv"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// imageRoutes registers the global images collection, as far as an image
// of a project's own disk goes: images.insert from sourceDisk, get and
// delete (https://cloud.google.com/compute/docs/reference/rest/v1/images).
// Its getIamPolicy and setIamPolicy are in iamPolicyRoutes.
func (s *Server) imageRoutes() {
	s.handle("POST global/images", endpoint{method: "compute.images.insert", mutate: s.insertImage})
	s.handle("GET global/images/{}", endpoint{method: "compute.images.get", read: func(c *call) (any, error) {
		m, err := s.get(c.key("images", c.name))
		if err != nil {
			return nil, err
		}
		return proto.Clone(m), nil
	}})
	s.handle("DELETE global/images/{}", endpoint{method: "compute.images.delete", mutate: func(c *call) (target, error) {
		key := c.key("images", c.name)
		id, err := s.remove(key)
		return target{key: key, id: id}, err
	}})
}

// insertImage creates an image of a disk (sourceDisk, the only source
// modelled). A disk an instance uses is refused unless forceCreate=true
// (https://cloud.google.com/compute/docs/images/create-custom: an image
// of an attached disk needs --force); GCP refuses only while the VM runs,
// the emulator whenever the disk is attached (stricter). The image is
// PENDING until its operation is DONE, then READY.
func (s *Server) insertImage(c *call) (target, error) {
	img := &computepb.Image{}
	if err := c.decode(img); err != nil {
		return target{}, err
	}
	if img.GetSourceDisk() == "" {
		return target{}, errInvalid("Invalid value for field 'resource.sourceDisk': ''. The emulated Compute creates images from a source disk only.")
	}
	dk := link(c.project, img.GetSourceDisk())
	m, err := s.get(dk)
	if err != nil {
		return target{}, err
	}
	d, ok := m.(*computepb.Disk)
	if !ok {
		return target{}, errNotFound(dk)
	}
	if users := d.GetUsers(); len(users) > 0 && c.query("forceCreate") != "true" {
		return target{}, errInUse("disk", dk, users[0])
	}
	img.SourceDisk = proto.String(d.GetSelfLink())
	img.SourceDiskId = proto.String(strconv.FormatUint(d.GetId(), 10))
	img.SourceType = proto.String("RAW")
	img.DiskSizeGb = proto.Int64(d.GetSizeGb())
	img.Status = proto.String("PENDING")
	img.LabelFingerprint = proto.String(s.fingerprint(img.GetName()))
	if len(img.StorageLocations) == 0 {
		img.StorageLocations = []string{"us"}
	}
	key := c.key("images", img.GetName())
	id, err := s.create(key, "compute#image", img)
	if err != nil {
		return target{}, err
	}
	return target{key: key, id: id, done: func() {
		cur, ok := s.objects[key].(*computepb.Image)
		if !ok || cur.GetId() != id {
			return
		}
		cur = proto.Clone(cur).(*computepb.Image)
		cur.Status = proto.String("READY")
		s.replace(key, cur)
	}}, nil
}
