package compute

import (
	"fmt"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// projectRoutes registers projects.get and projects.setCommonInstanceMetadata:
// project-wide metadata, which every VM of the project sees beside its own.
func (s *Server) projectRoutes() {
	s.handle("GET project", endpoint{method: "compute.projects.get", read: func(c *call) (any, error) {
		_, p := s.project(c.project)
		return proto.Clone(p), nil
	}})
	s.handle("POST project/setCommonInstanceMetadata", endpoint{method: "compute.projects.setCommonInstanceMetadata", mutate: s.setCommonInstanceMetadata})
}

// project returns the stored Compute project resource of id, making it on
// first use: every project the fake hears of has one. Callers hold s.mu
// and must clone the result before it escapes.
func (s *Server) project(id string) (string, *computepb.Project) {
	key := "projects/" + id
	if p, ok := s.objects[key].(*computepb.Project); ok {
		return key, p
	}
	number := projectNumber(id)
	p := &computepb.Project{
		Name:                  proto.String(id),
		Id:                    proto.Uint64(uint64(number)),
		Kind:                  proto.String("compute#project"),
		SelfLink:              proto.String(selfLinkBase + key),
		CreationTimestamp:     proto.String(timestamp(s.now())),
		DefaultServiceAccount: proto.String(fmt.Sprintf("%d-compute@developer.gserviceaccount.com", number)),
		CommonInstanceMetadata: &computepb.Metadata{
			Kind:        proto.String("compute#metadata"),
			Fingerprint: proto.String(s.fingerprint(key + "/metadata")),
		},
		XpnProjectStatus: proto.String("UNSPECIFIED_XPN_PROJECT_STATUS"),
	}
	s.objects[key] = p
	return key, p
}

// setCommonInstanceMetadata replaces the project's metadata items,
// guarded by their fingerprint like an instance's.
func (s *Server) setCommonInstanceMetadata(c *call) (target, error) {
	key, cur := s.project(c.project)
	md := &computepb.Metadata{}
	if err := c.decode(md); err != nil {
		return target{}, err
	}
	if md.GetFingerprint() != cur.GetCommonInstanceMetadata().GetFingerprint() {
		return target{}, errConditionNotMet("Supplied fingerprint does not match current metadata fingerprint.")
	}
	if err := validateMetadata(md); err != nil {
		return target{}, err
	}
	next := proto.Clone(cur).(*computepb.Project)
	md.Kind = proto.String("compute#metadata")
	md.Fingerprint = proto.String(s.fingerprint(key + "/metadata"))
	next.CommonInstanceMetadata = md
	s.replace(key, next)
	return target{key: key, id: next.GetId()}, nil
}

// projectMetadata returns the project's metadata items as a map, and its
// keys in order; callers hold s.mu.
func (s *Server) projectMetadata(id string) (map[string]string, []string) {
	p, _ := s.objects["projects/"+id].(*computepb.Project)
	return metadataItems(p.GetCommonInstanceMetadata())
}

// metadataItems returns metadata items as a map and their keys in order.
func metadataItems(md *computepb.Metadata) (map[string]string, []string) {
	items := map[string]string{}
	var keys []string
	for _, it := range md.GetItems() {
		items[it.GetKey()] = it.GetValue()
		keys = append(keys, it.GetKey())
	}
	return items, keys
}
