package monitoring

import (
	"context"
	"sort"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/genproto/googleapis/api/label"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// channelTypes are the channel types the fake knows, with the labels each
// requires; the service refuses a channel that lacks one.
var channelTypes = []*monitoringpb.NotificationChannelDescriptor{
	{Type: "pubsub", DisplayName: "Pub/Sub", Description: "Publishes incidents to a Pub/Sub topic.",
		Labels: []*label.LabelDescriptor{{Key: "topic", Description: "The topic, projects/P/topics/T."}}},
	{Type: "email", DisplayName: "Email", Description: "Sends incidents by email.",
		Labels: []*label.LabelDescriptor{{Key: "email_address", Description: "The recipient."}}},
	{Type: "webhook_tokenauth", DisplayName: "Webhook", Description: "Posts incidents to a URL.",
		Labels: []*label.LabelDescriptor{{Key: "url", Description: "The endpoint."}}},
}

// channelService is the NotificationChannelService face of Server.
type channelService struct {
	monitoringpb.UnimplementedNotificationChannelServiceServer
	s *Server
}

// ListNotificationChannelDescriptors lists the channel types the fake knows.
func (c *channelService) ListNotificationChannelDescriptors(_ context.Context, req *monitoringpb.ListNotificationChannelDescriptorsRequest) (*monitoringpb.ListNotificationChannelDescriptorsResponse, error) {
	parent, err := parseProjectName(req.GetName())
	if err != nil {
		return nil, err
	}
	var all []*monitoringpb.NotificationChannelDescriptor
	for _, d := range channelTypes {
		d = proto.Clone(d).(*monitoringpb.NotificationChannelDescriptor)
		d.Name = parent.String() + "/notificationChannelDescriptors/" + d.Type
		all = append(all, d)
	}
	got, next, err := page(all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &monitoringpb.ListNotificationChannelDescriptorsResponse{ChannelDescriptors: got, NextPageToken: next}, nil
}

// validateChannel checks the type and its required labels.
func validateChannel(ch *monitoringpb.NotificationChannel) error {
	for _, d := range channelTypes {
		if d.Type != ch.GetType() {
			continue
		}
		for _, l := range d.Labels {
			if ch.GetLabels()[l.Key] == "" {
				return status.Errorf(codes.InvalidArgument, "Notification channel of type %q requires label %q.", ch.GetType(), l.Key)
			}
		}
		if ch.GetType() == "pubsub" {
			parts := strings.Split(ch.GetLabels()["topic"], "/")
			if len(parts) != 4 || parts[0] != "projects" || parts[2] != "topics" || parts[1] == "" || parts[3] == "" {
				return status.Errorf(codes.InvalidArgument, "Label topic %q must be of the form projects/P/topics/T.", ch.GetLabels()["topic"])
			}
		}
		return nil
	}
	return status.Errorf(codes.InvalidArgument, "Unknown notification channel type %q.", ch.GetType())
}

// CreateNotificationChannel stores a channel under a new id.
func (c *channelService) CreateNotificationChannel(ctx context.Context, req *monitoringpb.CreateNotificationChannelRequest) (*monitoringpb.NotificationChannel, error) {
	s := c.s
	parent, err := parseProjectName(req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetNotificationChannel() == nil {
		return nil, status.Error(codes.InvalidArgument, "notification_channel is required.")
	}
	ch := proto.Clone(req.GetNotificationChannel()).(*monitoringpb.NotificationChannel)
	if err := validateChannel(ch); err != nil {
		return nil, err
	}
	if ch.Enabled == nil {
		ch.Enabled = wrapperspb.Bool(true)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch.Name = childName{projectName: parent, Collection: "notificationChannels", ID: s.newID()}.String()
	// The creation is the channel's first mutation: a real create answers
	// it in both creationRecord and mutationRecords.
	ch.CreationRecord = s.record(ctx)
	ch.MutationRecords = []*monitoringpb.MutationRecord{ch.CreationRecord}
	s.channels[ch.Name] = ch
	return proto.Clone(ch).(*monitoringpb.NotificationChannel), nil
}

// GetNotificationChannel returns one channel.
func (c *channelService) GetNotificationChannel(_ context.Context, req *monitoringpb.GetNotificationChannelRequest) (*monitoringpb.NotificationChannel, error) {
	n, err := parseChildName(req.GetName(), "notificationChannels")
	if err != nil {
		return nil, err
	}
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ch, ok := c.s.channels[n.String()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Requested notification channel %s does not exist.", n)
	}
	return proto.Clone(ch).(*monitoringpb.NotificationChannel), nil
}

// channelField resolves the filter fields the fake supports on channels.
func channelField(ch *monitoringpb.NotificationChannel) func(string) (string, bool) {
	return func(field string) (string, bool) {
		switch field {
		case "type":
			return ch.GetType(), true
		case "display_name":
			return ch.GetDisplayName(), true
		case "name":
			return ch.GetName(), true
		}
		if k, ok := labelField(field, "user_labels."); ok {
			v, ok := ch.GetUserLabels()[k]
			return v, ok
		}
		if k, ok := labelField(field, "labels."); ok {
			v, ok := ch.GetLabels()[k]
			return v, ok
		}
		return "", false
	}
}

func knownChannelField(f string) bool {
	_, ul := labelField(f, "user_labels.")
	_, l := labelField(f, "labels.")
	return f == "type" || f == "display_name" || f == "name" || ul || l
}

// ListNotificationChannels lists a project's channels in name order; the
// filter supports type, display_name, name, labels.KEY and user_labels.KEY.
func (c *channelService) ListNotificationChannels(_ context.Context, req *monitoringpb.ListNotificationChannelsRequest) (*monitoringpb.ListNotificationChannelsResponse, error) {
	parent, err := parseProjectName(req.GetName())
	if err != nil {
		return nil, err
	}
	f, err := parseFilter(req.GetFilter(), knownChannelField)
	if err != nil {
		return nil, err
	}
	var kept []*monitoringpb.NotificationChannel
	for _, ch := range c.s.NotificationChannels(parent.Project) {
		if f.match(channelField(ch)) {
			kept = append(kept, ch)
		}
	}
	got, next, err := page(kept, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &monitoringpb.ListNotificationChannelsResponse{NotificationChannels: got, NextPageToken: next, TotalSize: int32(len(kept))}, nil
}

// UpdateNotificationChannel applies update_mask, or replaces the mutable
// fields when the mask is empty. The type cannot change.
func (c *channelService) UpdateNotificationChannel(ctx context.Context, req *monitoringpb.UpdateNotificationChannelRequest) (*monitoringpb.NotificationChannel, error) {
	s := c.s
	if req.GetNotificationChannel() == nil {
		return nil, status.Error(codes.InvalidArgument, "notification_channel is required.")
	}
	in := proto.Clone(req.GetNotificationChannel()).(*monitoringpb.NotificationChannel)
	n, err := parseChildName(in.GetName(), "notificationChannels")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.channels[n.String()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Requested notification channel %s does not exist.", n)
	}
	ch := proto.Clone(stored).(*monitoringpb.NotificationChannel)
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		paths = []string{"display_name", "description", "labels", "user_labels", "enabled"}
		if in.GetType() != "" && in.GetType() != ch.GetType() {
			return nil, status.Error(codes.InvalidArgument, "Field notification_channel.type cannot be changed.")
		}
		if in.Enabled == nil {
			in.Enabled = wrapperspb.Bool(true)
		}
	}
	for _, p := range paths {
		switch p {
		case "display_name":
			ch.DisplayName = in.GetDisplayName()
		case "description":
			ch.Description = in.GetDescription()
		case "labels":
			ch.Labels = in.GetLabels()
		case "user_labels":
			ch.UserLabels = in.GetUserLabels()
		case "enabled":
			ch.Enabled = in.GetEnabled()
		case "type":
			return nil, status.Error(codes.InvalidArgument, "Field notification_channel.type cannot be changed.")
		default:
			return nil, status.Errorf(codes.InvalidArgument, "Invalid update_mask path %q for a notification channel.", p)
		}
	}
	if err := validateChannel(ch); err != nil {
		return nil, err
	}
	// Real answers hold one mutation record, the latest, after an update
	// as after the create (the recorded create, update and get).
	ch.MutationRecords = []*monitoringpb.MutationRecord{s.record(ctx)}
	s.channels[ch.Name] = ch
	return proto.Clone(ch).(*monitoringpb.NotificationChannel), nil
}

// DeleteNotificationChannel removes a channel. As in the service, a channel
// that alert policies still use is only deleted with force, which also
// removes it from those policies.
func (c *channelService) DeleteNotificationChannel(ctx context.Context, req *monitoringpb.DeleteNotificationChannelRequest) (*emptypb.Empty, error) {
	s := c.s
	n, err := parseChildName(req.GetName(), "notificationChannels")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.channels[n.String()]; !ok {
		return nil, status.Errorf(codes.NotFound, "Requested notification channel %s does not exist.", n)
	}
	var users []*monitoringpb.AlertPolicy
	for _, p := range s.policies {
		for _, ch := range p.GetNotificationChannels() {
			if ch == n.String() {
				users = append(users, p)
				break
			}
		}
	}
	if len(users) > 0 && !req.GetForce() {
		return nil, status.Errorf(codes.FailedPrecondition, "Notification channel %s is referenced by %d alert policies; set force to delete it anyway.", n, len(users))
	}
	for _, p := range users {
		var keep []string
		for _, ch := range p.GetNotificationChannels() {
			if ch != n.String() {
				keep = append(keep, ch)
			}
		}
		p.NotificationChannels = keep
		p.MutationRecord = s.record(ctx)
	}
	delete(s.channels, n.String())
	return &emptypb.Empty{}, nil
}

// NotificationChannels returns copies of a project's channels in name
// order, for tests to check what Provision wired up.
func (s *Server) NotificationChannels(project string) []*monitoringpb.NotificationChannel {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := "projects/" + project + "/notificationChannels/"
	var out []*monitoringpb.NotificationChannel
	for name, ch := range s.channels {
		if strings.HasPrefix(name, prefix) {
			out = append(out, proto.Clone(ch).(*monitoringpb.NotificationChannel))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SeedNotificationChannel stores ch under its own name, as a channel the
// operator made before coopguard (the emulated project's demo email
// channel); it replaces a channel of that name. The type and labels must
// be valid.
func (s *Server) SeedNotificationChannel(ch *monitoringpb.NotificationChannel) error {
	if _, err := parseChildName(ch.GetName(), "notificationChannels"); err != nil {
		return err
	}
	if err := validateChannel(ch); err != nil {
		return err
	}
	ch = proto.Clone(ch).(*monitoringpb.NotificationChannel)
	if ch.Enabled == nil {
		ch.Enabled = wrapperspb.Bool(true)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch.CreationRecord = s.record(context.Background())
	ch.MutationRecords = []*monitoringpb.MutationRecord{ch.CreationRecord}
	s.channels[ch.GetName()] = ch
	return nil
}
