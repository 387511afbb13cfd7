package monitoring

import (
	"context"
	"sort"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// alertPolicyService is the AlertPolicyService face of Server.
type alertPolicyService struct {
	monitoringpb.UnimplementedAlertPolicyServiceServer
	s *Server
}

// CreateAlertPolicy stores a policy under a new id and names its conditions.
func (a *alertPolicyService) CreateAlertPolicy(ctx context.Context, req *monitoringpb.CreateAlertPolicyRequest) (*monitoringpb.AlertPolicy, error) {
	s := a.s
	parent, err := parseProjectName(req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetAlertPolicy() == nil {
		return nil, status.Error(codes.InvalidArgument, "alert_policy is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := proto.Clone(req.GetAlertPolicy()).(*monitoringpb.AlertPolicy)
	p.Name = childName{projectName: parent, Collection: "alertPolicies", ID: s.newID()}.String()
	if p.Enabled == nil {
		p.Enabled = wrapperspb.Bool(true)
	}
	if err := s.preparePolicy(p); err != nil {
		return nil, err
	}
	p.CreationRecord = s.record(ctx)
	p.MutationRecord = s.record(ctx)
	s.policies[p.Name] = p
	return proto.Clone(p).(*monitoringpb.AlertPolicy), nil
}

// preparePolicy validates p as the service does and names new conditions.
// Callers hold s.mu.
func (s *Server) preparePolicy(p *monitoringpb.AlertPolicy) error {
	if p.GetDisplayName() == "" {
		return status.Error(codes.InvalidArgument, "Field alert_policy.display_name must be set.")
	}
	if len(p.GetConditions()) == 0 {
		return status.Error(codes.InvalidArgument, "Field alert_policy.conditions must contain at least one condition.")
	}
	if err := validatePolicy(p); err != nil {
		return err
	}
	if len(p.GetConditions()) > 1 && p.GetCombiner() == monitoringpb.AlertPolicy_COMBINE_UNSPECIFIED {
		return status.Error(codes.InvalidArgument, "Field alert_policy.combiner must be specified when there is more than one condition.")
	}
	for i, c := range p.GetConditions() {
		if c.GetDisplayName() == "" {
			return status.Errorf(codes.InvalidArgument, "Field alert_policy.conditions[%d].display_name must be set.", i)
		}
		if c.GetCondition() == nil {
			return status.Errorf(codes.InvalidArgument, "Field alert_policy.conditions[%d] must set one condition type.", i)
		}
		if c.GetName() == "" {
			c.Name = p.Name + "/conditions/" + s.newID()
		} else if !strings.HasPrefix(c.GetName(), p.Name+"/conditions/") {
			return status.Errorf(codes.InvalidArgument, "Field alert_policy.conditions[%d].name %q does not belong to %s.", i, c.GetName(), p.Name)
		}
	}
	project := strings.Join(strings.Split(p.Name, "/")[:2], "/")
	for _, ch := range p.GetNotificationChannels() {
		n, err := parseChildName(ch, "notificationChannels")
		if err != nil {
			return err
		}
		if n.projectName.String() != project {
			return status.Errorf(codes.InvalidArgument, "Notification channel %s is not in %s.", ch, project)
		}
		if _, ok := s.channels[ch]; !ok {
			return status.Errorf(codes.NotFound, "Notification channel %s does not exist.", ch)
		}
	}
	return nil
}

// GetAlertPolicy returns one policy.
func (a *alertPolicyService) GetAlertPolicy(_ context.Context, req *monitoringpb.GetAlertPolicyRequest) (*monitoringpb.AlertPolicy, error) {
	n, err := parseChildName(req.GetName(), "alertPolicies")
	if err != nil {
		return nil, err
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	p, ok := a.s.policies[n.String()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Requested alert policy %s does not exist.", n)
	}
	return proto.Clone(p).(*monitoringpb.AlertPolicy), nil
}

// policyField resolves the filter fields the fake supports on policies.
func policyField(p *monitoringpb.AlertPolicy) func(string) (string, bool) {
	return func(field string) (string, bool) {
		if field == "display_name" {
			return p.GetDisplayName(), true
		}
		if field == "name" {
			return p.GetName(), true
		}
		if k, ok := labelField(field, "user_labels."); ok {
			v, ok := p.GetUserLabels()[k]
			return v, ok
		}
		return "", false
	}
}

func knownPolicyField(f string) bool {
	_, label := labelField(f, "user_labels.")
	return f == "display_name" || f == "name" || label
}

// ListAlertPolicies lists a project's policies in name order; the filter
// supports display_name, name and user_labels.KEY.
func (a *alertPolicyService) ListAlertPolicies(_ context.Context, req *monitoringpb.ListAlertPoliciesRequest) (*monitoringpb.ListAlertPoliciesResponse, error) {
	parent, err := parseProjectName(req.GetName())
	if err != nil {
		return nil, err
	}
	f, err := parseFilter(req.GetFilter(), knownPolicyField)
	if err != nil {
		return nil, err
	}
	all := a.s.AlertPolicies(parent.Project)
	var kept []*monitoringpb.AlertPolicy
	for _, p := range all {
		if f.match(policyField(p)) {
			kept = append(kept, p)
		}
	}
	got, next, err := page(kept, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	return &monitoringpb.ListAlertPoliciesResponse{AlertPolicies: got, NextPageToken: next, TotalSize: int32(len(kept))}, nil
}

// UpdateAlertPolicy applies update_mask, or replaces the whole policy
// (keeping its name and creation record) when the mask is empty.
func (a *alertPolicyService) UpdateAlertPolicy(ctx context.Context, req *monitoringpb.UpdateAlertPolicyRequest) (*monitoringpb.AlertPolicy, error) {
	s := a.s
	in := req.GetAlertPolicy()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "alert_policy is required.")
	}
	n, err := parseChildName(in.GetName(), "alertPolicies")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored, ok := s.policies[n.String()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Requested alert policy %s does not exist.", n)
	}
	var p *monitoringpb.AlertPolicy
	if paths := req.GetUpdateMask().GetPaths(); len(paths) == 0 {
		p = proto.Clone(in).(*monitoringpb.AlertPolicy)
		p.CreationRecord = stored.GetCreationRecord()
		if p.Enabled == nil {
			p.Enabled = wrapperspb.Bool(true)
		}
	} else {
		p = proto.Clone(stored).(*monitoringpb.AlertPolicy)
		in = proto.Clone(in).(*monitoringpb.AlertPolicy)
		for _, path := range paths {
			switch path {
			case "display_name":
				p.DisplayName = in.GetDisplayName()
			case "documentation":
				p.Documentation = in.GetDocumentation()
			case "documentation.content", "documentation.mime_type", "documentation.subject":
				if p.Documentation == nil {
					p.Documentation = &monitoringpb.AlertPolicy_Documentation{}
				}
				switch path {
				case "documentation.content":
					p.Documentation.Content = in.GetDocumentation().GetContent()
				case "documentation.mime_type":
					p.Documentation.MimeType = in.GetDocumentation().GetMimeType()
				default:
					p.Documentation.Subject = in.GetDocumentation().GetSubject()
				}
			case "user_labels":
				p.UserLabels = in.GetUserLabels()
			case "conditions":
				p.Conditions = in.GetConditions()
			case "combiner":
				p.Combiner = in.GetCombiner()
			case "enabled":
				p.Enabled = in.GetEnabled()
			case "notification_channels":
				p.NotificationChannels = in.GetNotificationChannels()
			case "alert_strategy":
				p.AlertStrategy = in.GetAlertStrategy()
			case "severity":
				p.Severity = in.GetSeverity()
			default:
				return nil, status.Errorf(codes.InvalidArgument, "Invalid update_mask path %q for an alert policy.", path)
			}
		}
	}
	p.Name = n.String()
	if err := s.preparePolicy(p); err != nil {
		return nil, err
	}
	p.MutationRecord = s.record(ctx)
	s.policies[p.Name] = p
	return proto.Clone(p).(*monitoringpb.AlertPolicy), nil
}

// DeleteAlertPolicy removes a policy.
func (a *alertPolicyService) DeleteAlertPolicy(_ context.Context, req *monitoringpb.DeleteAlertPolicyRequest) (*emptypb.Empty, error) {
	n, err := parseChildName(req.GetName(), "alertPolicies")
	if err != nil {
		return nil, err
	}
	a.s.mu.Lock()
	defer a.s.mu.Unlock()
	if _, ok := a.s.policies[n.String()]; !ok {
		return nil, status.Errorf(codes.NotFound, "Requested alert policy %s does not exist.", n)
	}
	delete(a.s.policies, n.String())
	return &emptypb.Empty{}, nil
}

// AlertPolicies returns copies of a project's alert policies in name order,
// for tests to check what Provision wired up.
func (s *Server) AlertPolicies(project string) []*monitoringpb.AlertPolicy {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := "projects/" + project + "/alertPolicies/"
	var out []*monitoringpb.AlertPolicy
	for name, p := range s.policies {
		if strings.HasPrefix(name, prefix) {
			out = append(out, proto.Clone(p).(*monitoringpb.AlertPolicy))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
