package provisioner

import (
	"context"
	"fmt"
	"slices"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/shared/config"
	"github.com/cloudcoop/coopguard/shared/gcp"
	"github.com/cloudcoop/coopguard/shared/retry"
)

// secret is a managed Secret Manager secret. coopguard creates it empty,
// with a rotation schedule that notifies the rotation topic; it never reads
// or writes the payload here.
type secret struct {
	s  *Sandbox
	id string
}

func (r *secret) Kind() string   { return "secret" }
func (r *secret) Name() string   { return r.id }
func (r *secret) Deps() []string { return []string{"topic/" + r.s.Topics.Rotation} }

func (r *secret) path() string { return "projects/" + r.s.Project + "/secrets/" + r.id }

func (r *secret) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	period := time.Duration(r.s.RotationPeriod) * time.Second
	topic := r.s.TopicPath(r.s.Topics.Rotation)
	got, err := c.Secrets.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: r.path()})
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: fmt.Sprintf("empty, rotation every %s via %s", period, topic), Apply: func(ctx context.Context) error {
			_, err := c.Secrets.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
				Parent:   "projects/" + r.s.Project,
				SecretId: r.id,
				Secret: &secretmanagerpb.Secret{
					Replication: &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}},
					Labels:      map[string]string{"coopguard-managed": "true", config.SandboxLabel: r.s.Name},
					Topics:      []*secretmanagerpb.Topic{{Name: topic}},
					Rotation: &secretmanagerpb.Rotation{
						RotationPeriod:   durationpb.New(period),
						NextRotationTime: timestamppb.New(time.Now().Add(period)),
					},
				},
			})
			if retry.IsAlreadyExists(err) {
				return nil
			}
			return err
		}}, nil
	case err != nil:
		return Change{}, err
	}
	if owner, ok := got.GetLabels()[config.SandboxLabel]; ok && owner != r.s.Name {
		// Granting this sandbox's account on it would share another
		// sandbox's key: containing either would disable both.
		return Change{}, fmt.Errorf("%w: secret %s belongs to sandbox %q (label %s), not %q: sandboxes never share a managed secret; choose another sandbox name or coopguard.secrets", config.ErrInvalid, r.path(), owner, config.SandboxLabel, r.s.Name)
	}
	var mask []string
	hasTopic := slices.ContainsFunc(got.GetTopics(), func(t *secretmanagerpb.Topic) bool { return t.GetName() == topic })
	if !hasTopic {
		mask = append(mask, "topics")
	}
	if got.GetRotation().GetRotationPeriod().AsDuration() != period {
		mask = append(mask, "rotation.rotation_period")
	}
	if got.GetRotation().GetNextRotationTime() == nil {
		mask = append(mask, "rotation.next_rotation_time")
	}
	if len(mask) == 0 {
		return Change{Action: None, Detail: fmt.Sprintf("rotation every %s via %s", period, topic)}, nil
	}
	return Change{Action: Update, Detail: fmt.Sprintf("set %v", mask), Apply: func(ctx context.Context) error {
		want := &secretmanagerpb.Secret{
			Name:     r.path(),
			Topics:   got.GetTopics(),
			Rotation: &secretmanagerpb.Rotation{RotationPeriod: durationpb.New(period), NextRotationTime: got.GetRotation().GetNextRotationTime()},
		}
		if !hasTopic {
			want.Topics = append(slices.Clone(got.GetTopics()), &secretmanagerpb.Topic{Name: topic})
		}
		if want.Rotation.NextRotationTime == nil {
			want.Rotation.NextRotationTime = timestamppb.New(time.Now().Add(period))
		}
		_, err := c.Secrets.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
			Secret: want, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
		})
		return err
	}}, nil
}

// accessorRole is the role that lets the sandbox's account read a secret's
// versions and nothing else.
const accessorRole = "roles/secretmanager.secretAccessor"

// secretAccess is the binding that lets the sandbox's service account read
// one secret: roles/secretmanager.secretAccessor on that secret's own IAM
// policy, never on the project, so the account reads its own secrets and
// no other. Bindings others made on the secret are kept.
type secretAccess struct {
	s   *Sandbox
	id  string
	dep string // the ID of the resource that creates the secret
}

func (r *secretAccess) Kind() string   { return "secret-access" }
func (r *secretAccess) Name() string   { return r.id }
func (r *secretAccess) Deps() []string { return append([]string{r.dep}, r.s.accountDeps()...) }

func (r *secretAccess) path() string { return "projects/" + r.s.Project + "/secrets/" + r.id }

func (r *secretAccess) member() string { return "serviceAccount:" + r.s.ServiceAccount }

func (r *secretAccess) Observe(ctx context.Context, c *gcp.Clients) (Change, error) {
	detail := fmt.Sprintf("%s for %s on this secret only", accessorRole, r.member())
	pol, err := c.Secrets.GetIamPolicy(ctx, readV3(r.path()))
	switch {
	case retry.IsNotFound(err):
		return Change{Action: Create, Detail: detail, Apply: r.grant(c)}, nil
	case err != nil:
		return Change{}, err
	case hasMember(pol, accessorRole, r.member()):
		return Change{Action: None, Detail: detail}, nil
	}
	return Change{Action: Update, Detail: "grant " + detail, Apply: r.grant(c)}, nil
}

// grant adds the member to the secret's policy by read-modify-write with
// the policy's etag, re-reading when someone changed it meanwhile.
func (r *secretAccess) grant(c *gcp.Clients) func(context.Context) error {
	return func(ctx context.Context) error {
		var err error
		for range 3 {
			var pol *iampb.Policy
			pol, err = c.Secrets.GetIamPolicy(ctx, readV3(r.path()))
			if err != nil {
				return err
			}
			if hasMember(pol, accessorRole, r.member()) {
				return nil
			}
			addMember(pol, accessorRole, r.member())
			_, err = c.Secrets.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: r.path(), Policy: pol})
			if !retry.IsPrecondition(err) {
				return err
			}
		}
		return fmt.Errorf("grant %s on secret %s: the policy kept changing: %w", accessorRole, r.id, err)
	}
}

// readV3 asks for resource's policy at version 3. Read without it, a
// policy with conditional bindings comes as a version-1 view (role names
// suffixed "_withcond_", no conditions) that IAM refuses to take back
// (https://cloud.google.com/iam/docs/policies#versions); read at version 3
// it keeps that version, so writing it back keeps the conditions.
func readV3(resource string) *iampb.GetIamPolicyRequest {
	return &iampb.GetIamPolicyRequest{Resource: resource, Options: &iampb.GetPolicyOptions{RequestedPolicyVersion: 3}}
}

// hasMember reports whether an unconditional binding of role holds member.
func hasMember(p *iampb.Policy, role, member string) bool {
	return slices.ContainsFunc(p.GetBindings(), func(b *iampb.Binding) bool {
		return b.GetRole() == role && b.GetCondition() == nil && slices.Contains(b.GetMembers(), member)
	})
}

// addMember adds member to the unconditional binding of role, creating it.
func addMember(p *iampb.Policy, role, member string) {
	for _, b := range p.Bindings {
		if b.GetRole() == role && b.GetCondition() == nil {
			b.Members = append(b.Members, member)
			return
		}
	}
	p.Bindings = append(p.Bindings, &iampb.Binding{Role: role, Members: []string{member}})
}
