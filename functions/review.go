package functions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"cloud.google.com/go/logging/apiv2/loggingpb"
	"golang.org/x/time/rate"
	"google.golang.org/api/iterator"
	auditpb "google.golang.org/genproto/googleapis/cloud/audit"

	"github.com/cloudcoop/coopguard/functions/actions"
	"github.com/cloudcoop/coopguard/functions/posture"
	"github.com/cloudcoop/coopguard/functions/respond"
	"github.com/cloudcoop/coopguard/functions/rotation"
	"github.com/cloudcoop/coopguard/provisioner"
	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/evidence"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/incident"
	"github.com/cloudcoop/coopguard/shared/retry"
	"github.com/cloudcoop/coopguard/shared/review"
	"github.com/cloudcoop/coopguard/shared/store"
)

// ErrReviewWindow is BuildReview's answer to a window it will not read:
// none, or one beyond Logging's retention.
var ErrReviewWindow = errors.New("review window")

// ErrReviewSandbox is BuildReview's answer to ReviewOptions.Sandbox naming
// no sandbox of the project.
var ErrReviewSandbox = errors.New("review sandbox")

// Read bounds of a review: each query reads pages of reviewPageSize
// entries, at most reviewPages of them, every page taken from the Logging
// read budget (respond.LogReadsPerMinute, under Logging's 60 entries.list
// calls a minute per project, https://cloud.google.com/logging/quotas).
// Two queries per sandbox: its account's calls and its NAT connections in
// one, the reads of its secrets in the other.
const (
	reviewPageSize = 1000
	reviewPages    = 5
)

// secretReadMethod is the audited method of a secret read (Data Access,
// DATA_READ).
const secretReadMethod = "google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion"

// ReviewOptions are the choices of one review.
type ReviewOptions struct {
	// Since is the window's length, ending now; at most review.Retention.
	Since time.Duration
	// Record adds what this review saw to each sandbox's mark in the
	// incident store, so the next review marks only what is newer.
	Record bool
	// Sandbox, when set, reviews only the sandbox of that name (the
	// command each sandbox's line of the weekly notification gives).
	Sandbox string
	// Account is whose clients read (default config.AccountReviewer:
	// the scheduled review's own; in direct mode every account is the
	// operator).
	Account string
}

// BuildReview reviews every sandbox of the project over the last
// o.Since: its account's audited calls by method (allowed and denied,
// new ones first), the reads of its secrets by principal, where its VM
// connected through Cloud NAT (new first), the incidents opened on it and
// how they ended, its keys' ages; and the project's posture drift. What
// counts as new comes from the incident store (only coopguard writes it),
// never from the sandbox. Everything is read as o.Account; a read that
// fails or runs out of budget is said in Notes, not fatal.
func BuildReview(ctx context.Context, e *Env, o ReviewOptions) (*review.Review, error) {
	switch {
	case o.Since <= 0:
		return nil, fmt.Errorf("%w: give a positive window, e.g. --since 7d", ErrReviewWindow)
	case o.Since > review.Retention:
		return nil, fmt.Errorf("%w: %s reaches beyond Cloud Logging's retention of the _Default bucket (30 days): entries older are gone, and the review would say nothing happened; use --since 30d or less", ErrReviewWindow, review.Days(o.Since))
	}
	g := e.Config.Cloud.GCP
	to := e.Now()
	rv := &review.Review{Project: g.Project, From: to.Add(-o.Since), To: to, Drift: []review.Drift{}}
	budget := rate.NewLimiter(rate.Every(time.Minute/respond.LogReadsPerMinute), respond.LogReadsBurst)
	if o.Account == "" {
		o.Account = config.AccountReviewer
	}
	r := &reviewer{e: e, rv: rv, account: o.Account, logs: e.ClientsOf(o.Account), reads: func() bool { return budget.AllowN(e.Now(), 1) }}

	sandboxes, err := r.sandboxes(ctx)
	if err != nil {
		rv.Notes = append(rv.Notes, err.Error())
	}
	if o.Sandbox != "" {
		var names []string
		for _, sb := range sandboxes {
			names = append(names, sb.sandbox.Name)
		}
		sandboxes = slices.DeleteFunc(sandboxes, func(sb reviewedSandbox) bool { return sb.sandbox.Name != o.Sandbox })
		if len(sandboxes) == 0 {
			return nil, fmt.Errorf("%w: project %s has no sandbox %q; its sandboxes are %s", ErrReviewSandbox, g.Project, o.Sandbox, strings.Join(names, ", "))
		}
	}
	for _, sb := range sandboxes {
		s, seen := r.sandbox(ctx, sb)
		if o.Record && e.Store != nil {
			if err := e.Store.RecordReview(ctx, sb.sandbox.Name, seen.methods, seen.destinations, to); err != nil {
				rv.Notes = append(rv.Notes, err.Error())
			}
		}
		rv.Sandboxes = append(rv.Sandboxes, s)
	}
	pr, err := checkPosture(ctx, e, o.Account, nil)
	if err != nil {
		rv.Notes = append(rv.Notes, "posture not checked: "+err.Error())
	}
	for _, res := range pr.Results {
		if res.Status != posture.Pass {
			rv.Drift = append(rv.Drift, review.Drift{Check: res.Check, Status: string(res.Status), Evidence: res.Evidence, Fix: res.Fix})
		}
	}
	return rv, nil
}

// reviewer carries one review's clients and read budget.
type reviewer struct {
	e       *Env
	rv      *review.Review
	account string
	logs    *gcp.Clients
	reads   func() bool
}

// reviewedSandbox is a sandbox as Provision derived it from its name, and
// its instance when it exists.
type reviewedSandbox struct {
	sandbox *provisioner.Sandbox
	inst    *computepb.Instance
}

// seen is what a review saw of a sandbox, for its mark.
type seen struct{ methods, destinations []string }

// sandboxes lists the configured sandbox, then every other one Provision
// built in the zone.
func (r *reviewer) sandboxes(ctx context.Context) ([]reviewedSandbox, error) {
	cfg := r.e.Config
	g := cfg.Cloud.GCP
	main, err := provisioner.NewSandbox(cfg, cfg.VM.Name, "")
	if err != nil {
		return nil, fmt.Errorf("sandbox %s: %w", cfg.VM.Name, err)
	}
	out := []reviewedSandbox{{sandbox: main}}
	inst, err := r.logs.Instances.Get(ctx, &computepb.GetInstanceRequest{Project: g.Project, Zone: g.Zone, Instance: cfg.VM.Name})
	switch {
	case err == nil:
		out[0].inst = inst
	case !retry.IsNotFound(err):
		r.rv.Notes = append(r.rv.Notes, fmt.Sprintf("instance %s not read (its NAT connections are not reviewed): %v", cfg.VM.Name, err))
	}
	err = eachOtherSandbox(ctx, r.e, r.logs, func(inst *computepb.Instance, sb *provisioner.Sandbox) {
		out = append(out, reviewedSandbox{sandbox: sb, inst: inst})
	})
	if err != nil {
		err = fmt.Errorf("only %s is reviewed: %w", cfg.VM.Name, err)
	}
	return out, err
}

// sandbox reviews one sandbox.
func (r *reviewer) sandbox(ctx context.Context, rs reviewedSandbox) (review.Sandbox, seen) {
	sb := rs.sandbox
	s := review.Sandbox{Name: sb.Name, Account: sb.ServiceAccount, Methods: []review.Method{}, SecretReads: []review.Reader{},
		Destinations: []review.Destination{}, Incidents: []review.Incident{}, Keys: []review.Key{}}
	var last store.ReviewMark
	if r.e.Store != nil {
		var err error
		if last, err = r.e.Store.LastReview(ctx, sb.Name); err != nil {
			r.rv.Notes = append(r.rv.Notes, err.Error())
		}
	}
	s.FirstReview = last.ReviewedAt.IsZero()
	methods, dests := r.activity(ctx, rs, &s)
	var saw seen
	for _, m := range methods {
		s.Methods = append(s.Methods, review.Method{Name: m.Name, Allowed: m.Count - m.Denied, Denied: m.Denied, New: !s.FirstReview && !slices.Contains(last.Methods, m.Name)})
		saw.methods = append(saw.methods, m.Name)
	}
	for _, d := range dests {
		s.Destinations = append(s.Destinations, review.Destination{Name: d.Name, Count: d.Count, New: !s.FirstReview && !slices.Contains(last.Destinations, d.Name)})
		saw.destinations = append(saw.destinations, d.Name)
	}
	// New first; within each, the order read (most frequent first).
	slices.SortStableFunc(s.Methods, func(a, b review.Method) int { return boolOrder(a.New, b.New) })
	slices.SortStableFunc(s.Destinations, func(a, b review.Destination) int { return boolOrder(a.New, b.New) })
	s.SecretReads = r.secretReads(ctx, sb)
	s.Incidents = r.incidents(ctx, sb.Name)
	s.Keys = r.keys(ctx, sb)
	return s, saw
}

// boolOrder sorts true before false.
func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

// activity reads the sandbox account's audited calls and its VM's NAT
// connections in the window: the trusted half of an incident's evidence
// query (evidence.Sources), over the review's window.
func (r *reviewer) activity(ctx context.Context, rs reviewedSandbox, s *review.Sandbox) (methods, dests []incident.Count) {
	g := r.e.Config.Cloud.GCP
	natLogs := r.e.Config.Coopguard.Evidence.NATLogs
	if natLogs == "" {
		natLogs = "off"
	}
	src := evidence.Sources{Project: g.Project, Principals: []string{rs.sandbox.ServiceAccount}, VMName: rs.sandbox.Name}
	if rs.inst != nil && natLogs != "off" {
		ids, err := actions.NATRouters(ctx, r.logs, g.Project, g.Zone, rs.inst)
		if err != nil {
			r.rv.Notes = append(r.rv.Notes, fmt.Sprintf("sandbox %s: its NAT routers not read (connections not reviewed): %v", rs.sandbox.Name, err))
		}
		src.RouterIDs = ids
	}
	col := evidence.NewCollector(src, natLogs, r.rv.From, r.rv.To)
	more, err := r.read(ctx, src.TrustedFilter(r.rv.From, r.rv.To), col.Add)
	if err != nil {
		r.rv.Notes = append(r.rv.Notes, fmt.Sprintf("sandbox %s: calls and connections not read: %v", rs.sandbox.Name, err))
	}
	s.CallsTruncated = more
	ev := col.Evidence()
	s.NATNote = ev.NAT.Note
	if rs.inst == nil && s.NATNote == "" {
		s.NATNote = "the VM does not exist now: its connections are not reviewed"
	}
	return col.AllMethods(), col.AllDestinations()
}

// secretReads counts the reads of the sandbox's managed secrets by
// principal, from Secret Manager's Data Access entries (which Provision
// turns on).
func (r *reviewer) secretReads(ctx context.Context, sb *provisioner.Sandbox) []review.Reader {
	out := []review.Reader{}
	if len(sb.Secrets) == 0 {
		return out
	}
	project := r.e.Config.Cloud.GCP.Project
	var names []string
	for _, id := range sb.Secrets {
		names = append(names, fmt.Sprintf("protoPayload.resourceName:%q", "/secrets/"+id+"/"))
	}
	filter := fmt.Sprintf(`timestamp>=%q AND timestamp<=%q AND logName=%q AND protoPayload.methodName=%q AND (%s)`,
		r.rv.From.UTC().Format(time.RFC3339Nano), r.rv.To.UTC().Format(time.RFC3339Nano),
		evidence.LogName(project, "cloudaudit.googleapis.com/data_access"), secretReadMethod, strings.Join(names, " OR "))
	by := map[string]*review.Reader{}
	_, err := r.read(ctx, filter, func(e *loggingpb.LogEntry) {
		var a auditpb.AuditLog
		if e.GetProtoPayload() == nil || e.GetProtoPayload().UnmarshalTo(&a) != nil || a.GetMethodName() != secretReadMethod {
			return
		}
		secret := secretOf(a.GetResourceName())
		if !slices.Contains(sb.Secrets, secret) {
			return
		}
		who := a.GetAuthenticationInfo().GetPrincipalEmail()
		if who == "" {
			who = "(no principal recorded)"
		}
		rd := by[who]
		if rd == nil {
			rd = &review.Reader{Principal: who, Own: who == sb.ServiceAccount}
			by[who] = rd
		}
		rd.Reads++
		if a.GetStatus().GetCode() != 0 {
			rd.Denied++
		}
		if !slices.Contains(rd.Secrets, secret) {
			rd.Secrets = append(rd.Secrets, secret)
		}
	})
	if err != nil {
		r.rv.Notes = append(r.rv.Notes, fmt.Sprintf("sandbox %s: secret reads not read: %v", sb.Name, err))
	}
	for _, rd := range by {
		out = append(out, *rd)
	}
	// Others than the sandbox first: they are what a review is for.
	slices.SortFunc(out, func(a, b review.Reader) int {
		if c := boolOrder(!a.Own, !b.Own); c != 0 {
			return c
		}
		return strings.Compare(a.Principal, b.Principal)
	})
	return out
}

// secretOf is S of ".../secrets/S/versions/N".
func secretOf(resource string) string {
	_, rest, ok := strings.Cut(resource, "/secrets/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// read pages through filter's entries, each page taken from the read
// budget, at most reviewPages; more reports entries left unread.
func (r *reviewer) read(ctx context.Context, filter string, add func(*loggingpb.LogEntry)) (more bool, err error) {
	it := r.logs.Logging.ListLogEntries(ctx, &loggingpb.ListLogEntriesRequest{
		ResourceNames: []string{"projects/" + r.e.Config.Cloud.GCP.Project},
		Filter:        filter,
		OrderBy:       "timestamp asc",
		PageSize:      reviewPageSize,
	})
	pager := iterator.NewPager(it, reviewPageSize, "")
	for range reviewPages {
		if !r.reads() {
			r.rv.Notes = appendOnce(r.rv.Notes, fmt.Sprintf("the Cloud Logging read budget (%d reads a minute, under Logging's 60) ran out: some counts are a floor; review again in a minute", respond.LogReadsPerMinute))
			return true, nil
		}
		var page []*loggingpb.LogEntry
		token, err := pager.NextPage(&page)
		if err != nil {
			return false, fmt.Errorf("list log entries: %w (the reviewing account needs logging.logEntries.list and logging.privateLogEntries.list)", err)
		}
		for _, e := range page {
			add(e)
		}
		if token == "" {
			return false, nil
		}
	}
	return true, nil
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// incidents lists the incidents opened on the sandbox in the window, from
// the incident store, oldest first.
func (r *reviewer) incidents(ctx context.Context, name string) []review.Incident {
	out := []review.Incident{}
	if r.e.Store == nil {
		r.rv.Notes = appendOnce(r.rv.Notes, respond.ErrNoStore.Error())
		return out
	}
	recs, err := r.e.Store.OnInstance(ctx, name)
	if err != nil {
		r.rv.Notes = append(r.rv.Notes, fmt.Sprintf("sandbox %s: incidents not read: %v", name, err))
		return out
	}
	for _, rec := range recs {
		if rec.ReceivedAt.Before(r.rv.From) || rec.ReceivedAt.After(r.rv.To) || rec.Incident.Source == SourceReview {
			continue
		}
		v := rec.View()
		out = append(out, review.Incident{ID: rec.ID, Playbook: v.Incident.Playbook, Trigger: v.Incident.Trigger, Outcome: v.Outcome,
			ReceivedAt: rec.ReceivedAt, Ended: ended(rec, v)})
	}
	slices.SortFunc(out, func(a, b review.Incident) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	return out
}

// ended says in words how an incident ended.
func ended(rec *store.Record, v incident.Report) string {
	switch {
	case !v.ResumedAt.IsZero() && v.ResumeForced != "":
		return "resumed by " + v.ResumedBy + " (forced: " + v.ResumeForced + ")"
	case !v.ResumedAt.IsZero():
		return "resumed by " + v.ResumedBy + " (cause: " + v.Explanation + ")"
	case v.Outcome == incident.OutcomeResolved:
		return "resolved by " + v.ResolvedBy
	case rec.Open():
		return review.EndedOpen
	}
	return v.Outcome
}

// keys lists the versions of the sandbox's managed secrets that are not
// destroyed, with their ages and whether the policy finds them due.
func (r *reviewer) keys(ctx context.Context, sb *provisioner.Sandbox) []review.Key {
	out := []review.Key{}
	runner := NewRotationRunner(r.e, r.account)
	runner.Managed = sb.Secrets
	now := r.e.Now()
	for _, id := range sb.Secrets {
		plan, missing, err := runner.Inspect(ctx, id)
		switch {
		case err != nil:
			r.rv.Notes = append(r.rv.Notes, fmt.Sprintf("secret %s not read: %v", id, err))
			continue
		case missing:
			out = append(out, review.Key{Secret: id, State: "MISSING", Due: "run coopguard provision"})
			continue
		}
		for _, v := range plan.Versions {
			if v.State == rotation.StateDestroyed {
				continue
			}
			k := review.Key{Secret: id, Version: strconv.FormatInt(v.Number, 10), State: v.State, CreatedAt: v.CreateTime, Age: rotation.FormatAge(v.Age(now))}
			if plan.Due && v.State == rotation.StateEnabled {
				k.Due = "due: " + plan.DueReason
			}
			out = append(out, k)
		}
	}
	return out
}
