package functions

import (
	"context"
	"slices"
	"strings"

	"cloud.google.com/go/monitoring/apiv3/v2/monitoringpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/functions/detect"
	"github.com/cloudcoop/coopguard/shared/events"
	"github.com/cloudcoop/coopguard/shared/logger"
)

// coopguardDisplayPrefix starts the display name of every alert policy
// and notification channel Provision makes ("coopguard NAME CPU",
// "coopguard NAME incidents", "coopguard alerts (TOPIC)").
const coopguardDisplayPrefix = "coopguard "

// withAlerting tells the rules which alert policy or notification channel
// an alerting change concerns is coopguard's (sandbox.alerting), so that
// defence-changed notifies for coopguard's own and not for the project's
// others. A change's entry names the resource only by its server-given
// id, so the project's alerting is read: the resource is coopguard's when
// its display name is; a deleted one can no longer be read, and is taken
// for coopguard's when one of the configured sandbox's is missing. When
// the read fails the change is taken for coopguard's: better a needless
// notice than a silent loss of alerting. Other entries, and coopguard's
// own calls (which no rule sees), pass unchanged, without a call.
func withAlerting(ctx context.Context, e *Env, sb detect.Sandbox, entry events.LogEntry) detect.Sandbox {
	res := entry.Audit.ResourceName
	if !detect.IsAlertingChange(entry.Audit.MethodName) || res == "" || slices.Contains(sb.Coopguard, entry.Audit.PrincipalEmail) {
		return sb
	}
	mine, err := coopguardAlerting(ctx, e, sb.Project)
	switch {
	case err != nil:
		logger.FromContext(ctx).Warn("cannot read the project's alerting to tell whether the change is to coopguard's: taking it for coopguard's", "resource", res, "error", err)
	case mine[res]:
	case strings.Contains(strings.ToLower(entry.Audit.MethodName), "delete") && e.sandbox != nil &&
		(!mine[e.sandbox.AlertPolicyName()] || !mine[e.sandbox.IncidentPolicyName()] || !mine[e.sandbox.ChannelName()]):
		// The deleted one may have been coopguard's: one of its is gone.
	default:
		return sb
	}
	sb.Alerting = append(append([]string(nil), sb.Alerting...), res)
	return sb
}

// coopguardAlerting returns the resource names and display names of the
// project's alert policies and notification channels Provision made.
func coopguardAlerting(ctx context.Context, e *Env, project string) (map[string]bool, error) {
	out := map[string]bool{}
	add := func(name, display string) {
		if strings.HasPrefix(display, coopguardDisplayPrefix) {
			out[name], out[display] = true, true
		}
	}
	parent := "projects/" + project
	pols := e.Clients.AlertPolicies.ListAlertPolicies(ctx, &monitoringpb.ListAlertPoliciesRequest{Name: parent})
	for {
		p, err := pols.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, err
		}
		add(p.GetName(), p.GetDisplayName())
	}
	chans := e.Clients.Channels.ListNotificationChannels(ctx, &monitoringpb.ListNotificationChannelsRequest{Name: parent})
	for {
		c, err := chans.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, err
		}
		add(c.GetName(), c.GetDisplayName())
	}
	return out, nil
}
