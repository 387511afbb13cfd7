package emulator

import (
	"context"
	"strings"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
)

// topicIAM serves topics' IAM policies (google.iam.v1.IAMPolicy, which the
// Pub/Sub client's TopicAdminClient.GetIamPolicy/SetIamPolicy call on the
// Pub/Sub connection) from the policies the emulated IAM holds for them:
// the ones that decide whether a sink's writer identity may publish.
// Like the rest of pstest's listener it checks no IAM of the caller
// (FIDELITY.md: Pub/Sub checks no IAM); a stale etag is ABORTED
// (https://cloud.google.com/pubsub/docs/access-control#setting_a_policy).
type topicIAM struct {
	iampb.UnimplementedIAMPolicyServer
	e *Emulator
}

func (t *topicIAM) topic(ctx context.Context, resource string) error {
	seg := strings.Split(resource, "/")
	if len(seg) != 4 || seg[0] != "projects" || seg[2] != "topics" {
		return status.Errorf(codes.InvalidArgument, "Invalid resource %q: the emulated Pub/Sub serves the policies of topics, projects/P/topics/T.", resource)
	}
	_, err := t.e.PubSub.GServer.GetTopic(ctx, &pubsubpb.GetTopicRequest{Topic: resource})
	return err
}

func (t *topicIAM) GetIamPolicy(ctx context.Context, req *iampb.GetIamPolicyRequest) (*iampb.Policy, error) {
	if err := t.topic(ctx, req.GetResource()); err != nil {
		return nil, err
	}
	p, ok := t.e.IAM.Policy(req.GetResource())
	if !ok {
		p = &iampb.Policy{Version: 1}
	}
	if len(p.Etag) == 0 {
		p.Etag = []byte("BwTopic0")
	}
	return p, nil
}

func (t *topicIAM) SetIamPolicy(ctx context.Context, req *iampb.SetIamPolicyRequest) (*iampb.Policy, error) {
	if err := t.topic(ctx, req.GetResource()); err != nil {
		return nil, err
	}
	in := req.GetPolicy()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Request contains an invalid argument: policy is required.")
	}
	if err := resourcemanager.ValidatePolicy(in); err != nil {
		return nil, err
	}
	var next *iampb.Policy
	err := t.e.IAM.UpdatePolicy(req.GetResource(), func(cur *iampb.Policy) error {
		etag := cur.GetEtag()
		if len(etag) == 0 {
			etag = []byte("BwTopic0")
		}
		if err := iam.CheckEtag(in.GetEtag(), []byte(etag)); err != nil {
			return err
		}
		cur.Bindings = in.GetBindings()
		cur.Version = 1
		cur.Etag = append([]byte("BwTopic"), []byte(t.e.Clock.Now().Format("150405.000000000"))...)
		next = cur
		return nil
	})
	return next, err
}
