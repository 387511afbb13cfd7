package provisioner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
)

// CPUThreshold is the security guide's alert: CPU utilisation above 90%.
const CPUThreshold = 0.9

// alertPolicy is the CPU alert policy on the sandbox VM, labelled with the
// playbook the responder runs when it fires.
type alertPolicy struct{ s *Sandbox }

func (r *alertPolicy) Kind() string   { return "alertPolicy" }
func (r *alertPolicy) Name() string   { return r.s.AlertPolicyName() }
func (r *alertPolicy) Deps() []string { return []string{"notificationChannel/" + r.s.ChannelName()} }

func (r *alertPolicy) find(ctx context.Context, c *gcp.Clients) (*monitoringpb.AlertPolicy, error) {
	return findPolicy(ctx, c, r.s.Project, r.Name())
}

// findPolicy returns the project's alert policy with this display name, or
// nil. Policies have no client-chosen id, so coopguard finds its own by
// display name.
func findPolicy(ctx context.Context, c *gcp.Clients, project, displayName string) (*monitoringpb.AlertPolicy, error) {
	it := c.AlertPolicies.ListAlertPolicies(ctx, &monitoringpb.ListAlertPoliciesRequest{
		Name:   "projects/" + project,
		Filter: fmt.Sprintf("display_name = %q", displayName),
	})
	for {
		p, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if p.GetDisplayName() == displayName {
			return p, nil
		}
	}
}

// convergePolicy plans the change that makes the policy named
// want.DisplayName match want: create it when missing; when it exists but
// is disabled, lost coopguard's condition, documentation or alert
// strategy, or does not notify every channel of want, replace it with
// want, keeping any channel the user added.
func convergePolicy(ctx context.Context, c *gcp.Clients, project string, want *monitoringpb.AlertPolicy, created string) (Change, error) {
	got, err := findPolicy(ctx, c, project, want.GetDisplayName())
	if err != nil {
		return Change{}, err
	}
	if got == nil {
		return Change{Action: Create, Detail: created, Apply: func(ctx context.Context) error {
			if got, err := findPolicy(ctx, c, project, want.GetDisplayName()); err != nil || got != nil {
				return err
			}
			_, err := c.AlertPolicies.CreateAlertPolicy(ctx, &monitoringpb.CreateAlertPolicyRequest{Name: "projects/" + project, AlertPolicy: want})
			return err
		}}, nil
	}
	var drift []string
	if !got.GetEnabled().GetValue() {
		drift = append(drift, "enabled")
	}
	if !sameConditions(got.GetConditions(), want.GetConditions()) {
		drift = append(drift, "condition")
	}
	if !proto.Equal(got.GetDocumentation(), want.GetDocumentation()) {
		drift = append(drift, "documentation")
	}
	if !proto.Equal(got.GetAlertStrategy(), want.GetAlertStrategy()) {
		drift = append(drift, "alert strategy")
	}
	for _, ch := range want.GetNotificationChannels() {
		if !slices.Contains(got.GetNotificationChannels(), ch) {
			drift = append(drift, "notification channel "+ch)
		}
	}
	if len(drift) == 0 {
		return Change{Action: None, Detail: got.GetName()}, nil
	}
	return Change{Action: Update, Detail: fmt.Sprintf("restore %s", strings.Join(drift, ", ")), Apply: func(ctx context.Context) error {
		p := proto.Clone(want).(*monitoringpb.AlertPolicy)
		p.Name = got.GetName()
		for _, ch := range got.GetNotificationChannels() {
			if !slices.Contains(p.NotificationChannels, ch) {
				p.NotificationChannels = append(p.NotificationChannels, ch)
			}
		}
		_, err := c.AlertPolicies.UpdateAlertPolicy(ctx, &monitoringpb.UpdateAlertPolicyRequest{AlertPolicy: p})
		return err
	}}, nil
}

// sameConditions compares conditions without the names the service gives
// them.
func sameConditions(a, b []*monitoringpb.AlertPolicy_Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := proto.Clone(a[i]).(*monitoringpb.AlertPolicy_Condition), proto.Clone(b[i]).(*monitoringpb.AlertPolicy_Condition)
		x.Name, y.Name = "", ""
		if !proto.Equal(x, y) {
			return false
		}
	}
	return true
}

func (r *alertPolicy) desired(channel string) *monitoringpb.AlertPolicy {
	return &monitoringpb.AlertPolicy{
		DisplayName: r.Name(),
		Documentation: &monitoringpb.AlertPolicy_Documentation{
			Subject:  "coopguard: sandbox " + r.s.Name + " CPU above 90%",
			Content:  "Sandbox CPU pegged: possible runaway or hijacked agent. coopguard runs the contain playbook.",
			MimeType: "text/markdown",
		},
		UserLabels: map[string]string{"coopguard-playbook": "contain", config.SandboxLabel: r.s.Name},
		Combiner:   monitoringpb.AlertPolicy_OR,
		Conditions: []*monitoringpb.AlertPolicy_Condition{{
			DisplayName: "VM Instance - CPU utilization above 90%",
			Condition: &monitoringpb.AlertPolicy_Condition_ConditionThreshold{ConditionThreshold: &monitoringpb.AlertPolicy_Condition_MetricThreshold{
				Filter: fmt.Sprintf(`resource.type = "gce_instance" AND metric.type = "compute.googleapis.com/instance/cpu/utilization" AND metadata.user_labels.%q = %q`,
					config.SandboxLabel, r.s.Name),
				Comparison:     monitoringpb.ComparisonType_COMPARISON_GT,
				ThresholdValue: CPUThreshold,
				Duration:       durationpb.New(300e9),
				Aggregations: []*monitoringpb.Aggregation{{
					AlignmentPeriod:  durationpb.New(60e9),
					PerSeriesAligner: monitoringpb.Aggregation_ALIGN_MEAN,
				}},
				Trigger: &monitoringpb.AlertPolicy_Condition_Trigger{Type: &monitoringpb.AlertPolicy_Condition_Trigger_Count{Count: 1}},
			}},
		}},
		NotificationChannels: []string{channel},
		Enabled:              wrapperspb.Bool(true),
	}
}

func (r *alertPolicy) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	got, err := r.find(ctx, c)
	if err != nil {
		return Change{}, err
	}
	if got == nil {
		return Change{Action: Create, Detail: "CPU utilisation > 0.9 for 5 min → playbook contain", Apply: func(ctx context.Context) error {
			if got, err := r.find(ctx, c); err != nil || got != nil {
				return err
			}
			_, err := c.AlertPolicies.CreateAlertPolicy(ctx, &monitoringpb.CreateAlertPolicyRequest{
				Name: "projects/" + r.s.Project, AlertPolicy: r.desired(r.s.channelName()),
			})
			return err
		}}, nil
	}
	// Observes run in parallel, so read the channel here rather than wait
	// for the channel resource's own observe.
	ch, err := (&channel{r.s}).find(ctx, c)
	if err != nil {
		return Change{}, err
	}
	if ch != nil {
		r.s.setChannel(ch.GetName())
	}
	var drift []string
	if !got.GetEnabled().GetValue() {
		drift = append(drift, "enabled")
	}
	if got.GetUserLabels()["coopguard-playbook"] == "" {
		drift = append(drift, "playbook label")
	}
	if ch := r.s.channelName(); ch == "" || !slices.Contains(got.GetNotificationChannels(), ch) {
		drift = append(drift, "notification channel")
	}
	if len(drift) == 0 {
		return Change{Action: None, Detail: got.GetName()}, nil
	}
	return Change{Action: Update, Detail: fmt.Sprintf("restore %v", drift), Apply: func(ctx context.Context) error {
		want := r.desired(r.s.channelName())
		want.Name = got.GetName()
		// Keep a playbook the user chose; restore only what is missing.
		if pb := got.GetUserLabels()["coopguard-playbook"]; pb != "" {
			want.UserLabels["coopguard-playbook"] = pb
		}
		want.NotificationChannels = append(slices.DeleteFunc(slices.Clone(got.GetNotificationChannels()), func(s string) bool { return s == r.s.channelName() }), r.s.channelName())
		want.Conditions = got.GetConditions()
		_, err := c.AlertPolicies.UpdateAlertPolicy(ctx, &monitoringpb.UpdateAlertPolicyRequest{AlertPolicy: want})
		return err
	}}, nil
}
