package compute

import (
	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// snapshotRoutes registers the global snapshots collection; snapshots are
// created through disks.createSnapshot.
func (s *Server) snapshotRoutes() {
	s.handle("GET global/snapshots/{}", endpoint{method: "compute.snapshots.get", read: s.getSnapshot})
	s.handle("GET global/snapshots", endpoint{method: "compute.snapshots.list", read: func(c *call) (any, error) {
		return s.list(c, "snapshots", "compute#snapshotList")
	}})
	s.handle("DELETE global/snapshots/{}", endpoint{method: "compute.snapshots.delete", mutate: s.deleteSnapshot})
}

// getSnapshot returns one snapshot.
func (s *Server) getSnapshot(c *call) (any, error) {
	m, err := s.get(c.key("snapshots", c.name))
	if err != nil {
		return nil, err
	}
	return proto.Clone(m), nil
}

// deleteSnapshot removes a snapshot.
func (s *Server) deleteSnapshot(c *call) (target, error) {
	key := c.key("snapshots", c.name)
	id, err := s.remove(key)
	return target{key: key, id: id}, err
}

// Snapshots returns clones of the project's snapshots, sorted by name.
func (s *Server) Snapshots(project string) []*computepb.Snapshot {
	s.lock()
	defer s.mu.Unlock()
	var out []*computepb.Snapshot
	for _, k := range s.children("projects/" + project + "/global/snapshots/") {
		out = append(out, proto.Clone(s.objects[k]).(*computepb.Snapshot))
	}
	return out
}
