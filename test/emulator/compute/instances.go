package compute

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/protobuf/proto"
)

// instanceRoutes registers the zonal instances collection and the
// aggregated listing across zones.
func (s *Server) instanceRoutes() {
	s.handle("POST zones/instances", endpoint{method: "compute.instances.insert", mutate: s.insertInstance})
	s.handle("GET zones/instances/{}", endpoint{method: "compute.instances.get", read: s.getInstance})
	s.handle("GET zones/instances", endpoint{method: "compute.instances.list", read: func(c *call) (any, error) {
		return s.list(c, "instances", "compute#instanceList")
	}})
	s.handle("GET aggregated/instances", endpoint{method: "compute.instances.aggregatedList", read: s.aggregatedInstances})
	s.handle("DELETE zones/instances/{}", endpoint{method: "compute.instances.delete", mutate: s.deleteInstance})
	s.handle("POST zones/instances/{}/start", endpoint{method: "compute.instances.start", mutate: func(c *call) (target, error) {
		return s.startInstance(c)
	}})
	s.handle("POST zones/instances/{}/stop", endpoint{method: "compute.instances.stop", mutate: func(c *call) (target, error) {
		return s.stopInstance(c)
	}})
	s.handle("POST zones/instances/{}/setMetadata", endpoint{method: "compute.instances.setMetadata", mutate: s.setMetadata})
	s.handle("POST zones/instances/{}/setLabels", endpoint{method: "compute.instances.setLabels", mutate: s.setLabels})
	s.handle("POST zones/instances/{}/setTags", endpoint{method: "compute.instances.setTags", mutate: s.setTags})
	s.handle("GET zones/instances/{}/getGuestAttributes", endpoint{method: "compute.instances.getGuestAttributes", read: s.getGuestAttributes})
}

var (
	labelKeyRE    = regexp.MustCompile(`^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$`)
	labelValueRE  = regexp.MustCompile(`^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$`)
	metadataKeyRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
)

// insertInstance creates a RUNNING instance with its boot and data disks.
func (s *Server) insertInstance(c *call) (target, error) {
	inst := &computepb.Instance{}
	if err := c.decode(inst); err != nil {
		return target{}, err
	}
	key := c.key("instances", inst.GetName())
	if err := s.materialize(c.scopePath(), key, inst, true); err != nil {
		return target{}, err
	}
	return target{key: key, id: inst.GetId()}, nil
}

// materialize validates inst (strictly for API calls, leniently for
// seeding), creates its disks and stores it at key, filling the fields the
// server owns. Callers hold s.mu. On error nothing has changed.
func (s *Server) materialize(zoneScope, key string, inst *computepb.Instance, strict bool) error {
	project := projectOf(zoneScope)
	name := key[strings.LastIndex(key, "/")+1:]
	if !rfc1035.MatchString(name) {
		return errInvalidField("resource.name", name, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
	}
	if _, ok := s.objects[key]; ok {
		return errAlreadyExists(key)
	}
	selfLink := selfLinkBase + key
	switch mt := inst.GetMachineType(); {
	case mt == "" && strict:
		return errInvalidField("resource.machineType", "", "Machine type must be specified.")
	case mt == "":
		inst.MachineType = proto.String(selfLinkBase + zoneScope + "/machineTypes/e2-small")
	case !strings.Contains(mt, "/"):
		inst.MachineType = proto.String(selfLinkBase + zoneScope + "/machineTypes/" + mt)
	default:
		inst.MachineType = proto.String(selfLinkBase + link(project, mt))
	}
	if err := validateLabels(inst.GetLabels()); err != nil {
		return err
	}
	if inst.Metadata == nil {
		inst.Metadata = &computepb.Metadata{}
	}
	if err := validateMetadata(inst.Metadata); err != nil {
		return err
	}
	if len(inst.GetDisks()) == 0 {
		if strict {
			return errInvalidField("resource.disks", "", "Boot disk must be specified.")
		}
		inst.Disks = []*computepb.AttachedDisk{{Boot: proto.Bool(true), AutoDelete: proto.Bool(true),
			InitializeParams: &computepb.AttachedDiskInitializeParams{}}}
	}
	if len(inst.GetNetworkInterfaces()) == 0 && !strict {
		inst.NetworkInterfaces = []*computepb.NetworkInterface{{}}
	}
	for i, ni := range inst.GetNetworkInterfaces() {
		if err := s.attachNetwork(project, ni, i, strict); err != nil {
			return err
		}
	}
	// Check every disk before creating any, so a failed insert leaves no
	// orphan disks behind.
	type newDisk struct {
		name   string
		params *computepb.AttachedDiskInitializeParams
		ad     *computepb.AttachedDisk
	}
	var creates []newDisk
	var attaches []string
	for i, ad := range inst.GetDisks() {
		if ad.InitializeParams != nil {
			dn := ad.InitializeParams.GetDiskName()
			if dn == "" {
				dn = name
				if !ad.GetBoot() {
					dn = fmt.Sprintf("%s-%d", name, i)
				}
			}
			dk := zoneScope + "/disks/" + dn
			if !rfc1035.MatchString(dn) {
				return errInvalidField("resource.disks.initializeParams.diskName", dn, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
			}
			if d, ok := s.objects[dk].(*computepb.Disk); ok {
				if strict || len(d.GetUsers()) > 0 {
					return errAlreadyExists(dk)
				}
				ad.Source = proto.String(selfLinkBase + dk)
				attaches = append(attaches, dk)
				ad.InitializeParams = nil
				continue
			}
			creates = append(creates, newDisk{dn, ad.InitializeParams, ad})
			ad.InitializeParams = nil
			continue
		}
		if ad.GetSource() == "" {
			return errInvalidField("resource.disks.source", "", "Source or initializeParams must be specified.")
		}
		dk := link(project, ad.GetSource())
		d, ok := s.objects[dk].(*computepb.Disk)
		if !ok {
			return errNotFound(dk)
		}
		if len(d.GetUsers()) > 0 && ad.GetMode() != "READ_ONLY" {
			return errInUse("disk", dk, d.GetUsers()[0])
		}
		ad.Source = proto.String(selfLinkBase + dk)
		attaches = append(attaches, dk)
	}
	for _, nd := range creates {
		src, err := s.newDisk(zoneScope, nd.name, nd.params, selfLink)
		if err != nil {
			return err
		}
		nd.ad.Source = proto.String(src)
		if nd.params.DiskSizeGb != nil {
			nd.ad.DiskSizeGb = nd.params.DiskSizeGb
		}
	}
	for _, dk := range attaches {
		d := proto.Clone(s.objects[dk]).(*computepb.Disk)
		d.Users = append(d.Users, selfLink)
		s.replace(dk, d)
	}
	for i, ad := range inst.GetDisks() {
		ad.Index = proto.Int32(int32(i))
		ad.Kind = proto.String("compute#attachedDisk")
		if ad.Type == nil {
			ad.Type = proto.String("PERSISTENT")
		}
		if ad.Mode == nil {
			ad.Mode = proto.String("READ_WRITE")
		}
		if ad.AutoDelete == nil {
			ad.AutoDelete = proto.Bool(false)
		}
		if ad.Boot == nil {
			ad.Boot = proto.Bool(i == 0)
		}
		if ad.DeviceName == nil {
			ad.DeviceName = proto.String(fmt.Sprintf("persistent-disk-%d", i))
		}
	}
	now := timestamp(s.now())
	inst.Zone = proto.String(selfLinkBase + zoneScope)
	inst.Status = proto.String("RUNNING")
	inst.LastStartTimestamp = proto.String(now)
	inst.CpuPlatform = proto.String("Intel Broadwell")
	inst.Metadata.Kind = proto.String("compute#metadata")
	inst.Metadata.Fingerprint = proto.String(s.fingerprint(key + "/metadata"))
	if inst.Tags == nil {
		inst.Tags = &computepb.Tags{}
	}
	inst.Tags.Fingerprint = proto.String(s.fingerprint(key + "/tags"))
	inst.LabelFingerprint = proto.String(s.fingerprint(key + "/labels"))
	inst.Fingerprint = proto.String(s.fingerprint(key))
	fillScheduling(inst)
	fillShielded(inst)
	s.stamp(key, "compute#instance", inst)
	s.replace(key, inst)
	return nil
}

// attachNetwork resolves a network interface's network and subnetwork to
// full URLs and gives it a name and an internal address.
func (s *Server) attachNetwork(project string, ni *computepb.NetworkInterface, i int, strict bool) error {
	ni.Kind = proto.String("compute#networkInterface")
	ni.Name = proto.String(fmt.Sprintf("nic%d", i))
	ni.Fingerprint = proto.String(s.fingerprint(fmt.Sprintf("%s/nic%d", project, i)))
	if ni.GetSubnetwork() != "" {
		sk := link(project, ni.GetSubnetwork())
		sn, ok := s.objects[sk].(*computepb.Subnetwork)
		if !ok {
			if strict {
				return errNotFound(sk)
			}
			ni.Subnetwork = proto.String(selfLinkBase + sk)
		} else {
			ni.Subnetwork = proto.String(sn.GetSelfLink())
			if ni.GetNetwork() != "" && link(project, ni.GetNetwork()) != link(project, sn.GetNetwork()) {
				return errInvalidField("resource.networkInterfaces[0].subnetwork", ni.GetSubnetwork(), "Subnetwork does not belong to the network.")
			}
			ni.Network = proto.String(sn.GetNetwork())
			if ni.NetworkIP == nil {
				if p, err := netip.ParsePrefix(sn.GetIpCidrRange()); err == nil {
					addr := p.Addr().Next().Next()
					for range s.seq % 200 {
						addr = addr.Next()
					}
					if p.Contains(addr) {
						ni.NetworkIP = proto.String(addr.String())
					}
				}
			}
		}
	}
	if ni.GetNetwork() == "" {
		ni.Network = proto.String("global/networks/default")
	}
	nk := link(project, ni.GetNetwork())
	if _, ok := s.objects[nk].(*computepb.Network); !ok && strict {
		return errNotFound(nk)
	}
	ni.Network = proto.String(selfLinkBase + nk)
	return nil
}

// validateLabels applies the label rules of the API.
func validateLabels(labels map[string]string) error {
	if len(labels) > 64 {
		return errInvalid("Invalid value for field 'resource.labels': at most 64 labels are allowed.")
	}
	for k, v := range labels {
		if !labelKeyRE.MatchString(k) {
			return errInvalidField("resource.labels", k, "Label keys must start with a lowercase letter and contain only lowercase letters, digits, '_' and '-'.")
		}
		if !labelValueRE.MatchString(v) {
			return errInvalidField("resource.labels", v, "Label values may contain only lowercase letters, digits, '_' and '-'.")
		}
	}
	return nil
}

// validateMetadata applies the metadata rules of the API: key syntax,
// unique keys and the 512 KB total.
func validateMetadata(md *computepb.Metadata) error {
	seen := map[string]bool{}
	total := 0
	for _, it := range md.GetItems() {
		if !metadataKeyRE.MatchString(it.GetKey()) {
			return errInvalidField("resource.metadata.items.key", it.GetKey(), "Must be a match of regex '[a-zA-Z0-9-_]{1,128}'")
		}
		if seen[it.GetKey()] {
			return errInvalid(fmt.Sprintf("Invalid value for field 'resource.metadata': duplicate key '%s'.", it.GetKey()))
		}
		seen[it.GetKey()] = true
		total += len(it.GetKey()) + len(it.GetValue())
	}
	if total > 512*1024 {
		return errInvalid("Invalid value for field 'resource.metadata': the total size exceeds 512 KB.")
	}
	return nil
}

// instance returns a clone of the instance the call names, by name or
// by its numeric id (the API accepts either in instance paths).
func (s *Server) instance(c *call) (string, *computepb.Instance, error) {
	key := c.key("instances", c.name)
	if numberRE.MatchString(c.name) {
		for _, k := range s.children(c.key("instances", "")) {
			if strconv.FormatUint(idOf(s.objects[k]), 10) == c.name {
				key = k
				break
			}
		}
	}
	m, err := s.get(key)
	if err != nil {
		return key, nil, err
	}
	return key, proto.Clone(m).(*computepb.Instance), nil
}

// getInstance returns one instance.
func (s *Server) getInstance(c *call) (any, error) {
	_, inst, err := s.instance(c)
	return inst, err
}

// aggregatedInstances lists instances of every zone, keyed "zones/<zone>",
// filtered like list; it does not page.
func (s *Server) aggregatedInstances(c *call) (any, error) {
	f, err := parseFilter(c.query("filter"))
	if err != nil {
		return nil, err
	}
	out := &computepb.InstanceAggregatedList{
		Kind:     proto.String("compute#instanceAggregatedList"),
		Id:       proto.String("projects/" + c.project + "/aggregated/instances"),
		SelfLink: proto.String(selfLinkBase + "projects/" + c.project + "/aggregated/instances"),
		Items:    map[string]*computepb.InstancesScopedList{},
	}
	for _, k := range sortedKeys(s.objects) {
		inst, ok := s.objects[k].(*computepb.Instance)
		if !ok || projectOf(k) != c.project {
			continue
		}
		if ok, err := f.match(inst); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		zone := "zones/" + strings.Split(k, "/")[3]
		sl := out.Items[zone]
		if sl == nil {
			sl = &computepb.InstancesScopedList{}
			out.Items[zone] = sl
		}
		sl.Instances = append(sl.Instances, proto.Clone(inst).(*computepb.Instance))
	}
	return out, nil
}

// deleteInstance removes an instance, detaching its disks and deleting
// those marked autoDelete, and forgets its guest attributes.
func (s *Server) deleteInstance(c *call) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	s.dropInstance(key, inst)
	return target{key: key, id: inst.GetId()}, nil
}

// dropInstance removes inst (stored at key) and its traces; callers hold s.mu.
func (s *Server) dropInstance(key string, inst *computepb.Instance) {
	for _, ad := range inst.GetDisks() {
		dk := link(projectOf(key), ad.GetSource())
		d, ok := s.objects[dk].(*computepb.Disk)
		if !ok {
			continue
		}
		if ad.GetAutoDelete() {
			delete(s.objects, dk)
			continue
		}
		d = proto.Clone(d).(*computepb.Disk)
		var users []string
		for _, u := range d.GetUsers() {
			if u != inst.GetSelfLink() {
				users = append(users, u)
			}
		}
		d.Users = users
		s.replace(dk, d)
	}
	delete(s.objects, key)
	delete(s.guest, key)
	delete(s.guestReads, key)
}

// lifecycle is one half of an instance's power cycle: the request moves
// the instance from one of from to via, and its operation, when DONE,
// moves it on to status.
type lifecycle struct {
	method string
	from   []string
	via    string
	status string
}

var (
	// stopCycle: the guest shuts down (STOPPING) and the VM is TERMINATED.
	stopCycle = lifecycle{"compute.instances.stop", []string{"RUNNING", "PROVISIONING", "STAGING", "REPAIRING", "SUSPENDED"}, "STOPPING", "TERMINATED"}
	// startCycle: the VM is STAGING, then RUNNING.
	startCycle = lifecycle{"compute.instances.start", []string{"TERMINATED"}, "STAGING", "RUNNING"}
)

// startInstance starts a TERMINATED instance. Starting a RUNNING one does
// nothing; starting one that is still STOPPING is refused as not ready.
func (s *Server) startInstance(c *call) (target, error) {
	return s.cycle(c, startCycle, "STOPPING")
}

// stopInstance stops an instance; stopping a TERMINATED one does nothing.
func (s *Server) stopInstance(c *call) (target, error) {
	return s.cycle(c, stopCycle, "")
}

// cycle applies one half of the power cycle. A request on an instance
// already on its way (status via) gets an operation that is DONE when the
// first one is; one already there gets an operation that is DONE at once.
func (s *Server) cycle(c *call, lc lifecycle, notReady string) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	t := target{key: key, id: inst.GetId()}
	switch st := inst.GetStatus(); {
	case st == notReady:
		return target{}, errNotReady(key, st)
	case st == lc.via:
		for _, p := range s.pending {
			if p.op.GetTargetLink() == selfLinkBase+key && p.op.GetOperationType() == lc.method[strings.LastIndex(lc.method, ".")+1:] && p.at.After(t.until) {
				t.until = p.at
			}
		}
		if t.until.IsZero() {
			t.until = s.now()
		}
	case slices.Contains(lc.from, st):
		inst.Status = proto.String(lc.via)
		s.replace(key, inst)
		t.done = func() {
			cur, ok := s.objects[key].(*computepb.Instance)
			if !ok || cur.GetId() != inst.GetId() || cur.GetStatus() != lc.via {
				return
			}
			cur = proto.Clone(cur).(*computepb.Instance)
			cur.Status = proto.String(lc.status)
			now := proto.String(timestamp(s.now()))
			if lc.status == "RUNNING" {
				cur.LastStartTimestamp = now
			} else {
				cur.LastStopTimestamp = now
			}
			s.replace(key, cur)
		}
	default:
		t.until = s.now()
	}
	return t, nil
}

// setMetadata replaces the instance's metadata items; the body must carry
// the current fingerprint, so concurrent writers cannot lose each other's
// changes.
func (s *Server) setMetadata(c *call) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	md := &computepb.Metadata{}
	if err := c.decode(md); err != nil {
		return target{}, err
	}
	if md.GetFingerprint() != inst.GetMetadata().GetFingerprint() {
		return target{}, errConditionNotMet("Supplied fingerprint does not match current metadata fingerprint.")
	}
	if err := validateMetadata(md); err != nil {
		return target{}, err
	}
	md.Kind = proto.String("compute#metadata")
	md.Fingerprint = proto.String(s.fingerprint(key + "/metadata"))
	inst.Metadata = md
	s.replace(key, inst)
	if s.watcherStandIn && s.guestAttributesEnabled(key) {
		for _, it := range md.GetItems() {
			if incident, ok := strings.CutPrefix(it.GetValue(), "stop"); it.GetKey() == "coopguard-agents" && ok {
				s.setGuest(key, "coopguard/agents", strings.TrimSpace(fmt.Sprintf("stopped%s %d", incident, s.now().Unix())))
			}
		}
	}
	return target{key: key, id: inst.GetId()}, nil
}

// StandInForWatcher makes every VM confirm a coopguard-agents=stop at once
// (guest attribute coopguard/agents), as the agent watcher on a real VM
// does within milliseconds. Benchmarks and fault tests use it; the
// end-to-end tests run the real watcher script instead.
func (s *Server) StandInForWatcher() {
	s.lock()
	defer s.mu.Unlock()
	s.watcherStandIn = true
}

// setLabels replaces the instance's labels, guarded by labelFingerprint.
func (s *Server) setLabels(c *call) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	req := &computepb.InstancesSetLabelsRequest{}
	if err := c.decode(req); err != nil {
		return target{}, err
	}
	if req.GetLabelFingerprint() != inst.GetLabelFingerprint() {
		return target{}, errConditionNotMet("Labels fingerprint either invalid or resource labels have changed")
	}
	if err := validateLabels(req.GetLabels()); err != nil {
		return target{}, err
	}
	inst.Labels = req.GetLabels()
	inst.LabelFingerprint = proto.String(s.fingerprint(key + "/labels"))
	s.replace(key, inst)
	return target{key: key, id: inst.GetId()}, nil
}

// setTags replaces the instance's network tags, guarded by tags.fingerprint;
// firewall rules select instances by these tags.
func (s *Server) setTags(c *call) (target, error) {
	key, inst, err := s.instance(c)
	if err != nil {
		return target{}, err
	}
	tags := &computepb.Tags{}
	if err := c.decode(tags); err != nil {
		return target{}, err
	}
	if tags.GetFingerprint() != inst.GetTags().GetFingerprint() {
		return target{}, errConditionNotMet("Supplied fingerprint does not match current tags fingerprint.")
	}
	for _, t := range tags.GetItems() {
		if !rfc1035.MatchString(t) {
			return target{}, errInvalidField("resource.tags.items", t, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
		}
	}
	tags.Fingerprint = proto.String(s.fingerprint(key + "/tags"))
	inst.Tags = tags
	s.replace(key, inst)
	return target{key: key, id: inst.GetId()}, nil
}

// guestAttributesEnabled reports whether the VM at instKey may write
// guest attributes: metadata enable-guest-attributes=TRUE on the instance
// or, when the instance does not say, on its project. Callers hold s.mu.
func (s *Server) guestAttributesEnabled(instKey string) bool {
	inst, ok := s.objects[instKey].(*computepb.Instance)
	if !ok {
		return false
	}
	if v, ok := metadataValueOf(inst.GetMetadata(), guestAttributesKey); ok {
		return strings.EqualFold(v, "true")
	}
	pv, _ := s.projectMetadata(projectOf(instKey))
	return strings.EqualFold(pv[guestAttributesKey], "true")
}

// metadataValueOf returns the value of key in md.
func metadataValueOf(md *computepb.Metadata, key string) (string, bool) {
	for _, it := range md.GetItems() {
		if it.GetKey() == key {
			return it.GetValue(), true
		}
	}
	return "", false
}

// guestAttributesKey is the metadata key that turns guest attributes on.
const guestAttributesKey = "enable-guest-attributes"

// Guest attribute reads are limited per VM: a burst of guestReadBurst,
// then one every guestReadEvery (10 a minute).
const (
	guestReadBurst = 3
	guestReadEvery = 6 * time.Second
)

// takeGuestRead spends one guest attribute read of the VM at instKey, or
// reports false when its budget is spent. Callers hold s.mu.
func (s *Server) takeGuestRead(instKey string) bool {
	now := s.now()
	b, ok := s.guestReads[instKey]
	if !ok {
		b = &readBudget{tokens: guestReadBurst, at: now}
		s.guestReads[instKey] = b
	}
	if gained := float64(now.Sub(b.at)) / float64(guestReadEvery); gained > 0 {
		b.tokens = min(guestReadBurst, b.tokens+gained)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// readBudget is a token bucket on the emulator's clock.
type readBudget struct {
	tokens float64
	at     time.Time
}

// getGuestAttributes answers a variableKey ("namespace/key") with its
// value, or a queryPath ("namespace/" or "namespace/key", empty for all)
// with the matching entries; 404 when nothing matches, as on the real API.
func (s *Server) getGuestAttributes(c *call) (any, error) {
	key, _, err := s.instance(c)
	if err != nil {
		return nil, err
	}
	if !s.takeGuestRead(key) {
		return nil, errRateLimited(fmt.Sprintf("Guest attributes of '%s' were read too often: at most %d a minute, bursts of %d.", key, int(time.Minute/guestReadEvery), guestReadBurst))
	}
	attrs := s.guest[key]
	out := &computepb.GuestAttributes{
		Kind:     proto.String("compute#guestAttributes"),
		SelfLink: proto.String(selfLinkBase + key + "/getGuestAttributes"),
	}
	notFound := errNotFoundMsg(fmt.Sprintf("The resource '%s/guestAttributes' was not found", key))
	if vk := c.query("variableKey"); vk != "" {
		v, ok := attrs[vk]
		if !ok {
			return nil, notFound
		}
		out.VariableKey, out.VariableValue = proto.String(vk), proto.String(v)
		return out, nil
	}
	qp := c.query("queryPath")
	out.QueryPath = proto.String(qp)
	out.QueryValue = &computepb.GuestAttributesValue{}
	for _, k := range sortedStrings(attrs) {
		ns, name, _ := strings.Cut(k, "/")
		if qp != "" && k != qp && !(strings.HasSuffix(qp, "/") && strings.HasPrefix(k, qp)) {
			continue
		}
		out.QueryValue.Items = append(out.QueryValue.Items, &computepb.GuestAttributesEntry{
			Namespace: proto.String(ns), Key: proto.String(name), Value: proto.String(attrs[k]),
		})
	}
	if len(out.QueryValue.Items) == 0 {
		return nil, notFound
	}
	return out, nil
}

// sortedStrings returns the keys of m in order.
func sortedStrings(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Instance returns a clone of an instance, for tests to inspect.
func (s *Server) Instance(project, zone, name string) (*computepb.Instance, bool) {
	s.lock()
	defer s.mu.Unlock()
	inst, ok := s.objects["projects/"+project+"/zones/"+zone+"/instances/"+name].(*computepb.Instance)
	if !ok {
		return nil, false
	}
	return proto.Clone(inst).(*computepb.Instance), true
}

// Instances returns clones of the project's instances in every zone,
// sorted by zone and name.
func (s *Server) Instances(project string) []*computepb.Instance {
	s.lock()
	defer s.mu.Unlock()
	var out []*computepb.Instance
	for _, k := range sortedKeys(s.objects) {
		if inst, ok := s.objects[k].(*computepb.Instance); ok && projectOf(k) == project {
			out = append(out, proto.Clone(inst).(*computepb.Instance))
		}
	}
	return out
}

// SeedInstance stores an instance directly, bypassing faults and call
// counts, so tests can start from a sandbox that already has VMs. It fills
// what the API would (id, selfLink, zone, status RUNNING, fingerprints, a
// boot disk named after the instance unless disks are given) without
// requiring the networks it names to exist. An instance of the same name
// is replaced. It panics on an invalid name, which is a bug in the test.
func (s *Server) SeedInstance(project, zone string, inst *computepb.Instance) *computepb.Instance {
	inst = proto.Clone(inst).(*computepb.Instance)
	zoneScope := "projects/" + project + "/zones/" + zone
	key := zoneScope + "/instances/" + inst.GetName()
	s.lock()
	defer s.mu.Unlock()
	if old, ok := s.objects[key].(*computepb.Instance); ok {
		s.dropInstance(key, old)
	}
	if err := s.materialize(zoneScope, key, inst, false); err != nil {
		panic("compute: SeedInstance: " + err.Error())
	}
	s.notify()
	return proto.Clone(inst).(*computepb.Instance)
}

// SetGuestAttribute sets a guest attribute as the guest agent of the VM
// would, bypassing faults and call counts.
func (s *Server) SetGuestAttribute(project, zone, instance, namespace, key, value string) {
	s.lock()
	defer s.mu.Unlock()
	s.setGuest("projects/"+project+"/zones/"+zone+"/instances/"+instance, namespace+"/"+key, value)
}

// GuestAttribute returns a guest attribute of the VM as its guest agent
// last wrote it, bypassing faults, read limits and call counts.
func (s *Server) GuestAttribute(project, zone, instance, namespace, key string) (string, bool) {
	s.lock()
	defer s.mu.Unlock()
	v, ok := s.guest["projects/"+project+"/zones/"+zone+"/instances/"+instance][namespace+"/"+key]
	return v, ok
}

// setGuest stores a guest attribute; callers hold s.mu.
func (s *Server) setGuest(instKey, attr, value string) {
	if s.guest[instKey] == nil {
		s.guest[instKey] = map[string]string{}
	}
	s.guest[instKey][attr] = value
	s.notify()
}
