package rotation

import (
	"context"
	"fmt"
	"slices"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"

	"github.com/cloudcoop/coopguard/shared/retry"
)

// Reading a secret's versions is all Status does with a Runner (as the
// reader); the rest of the Runner changes versions (as the rotator).

// Inspect lists a secret's versions and decides, without acting: what
// Status shows. missing is true when the secret does not exist.
func (r *Runner) Inspect(ctx context.Context, id string) (plan Plan, missing bool, err error) {
	if !slices.Contains(r.Managed, id) {
		return Plan{}, false, fmt.Errorf("inspect secret %s: %w: add it to coopguard.secrets", id, ErrNotManaged)
	}
	vs, err := r.List(ctx, id)
	if retry.IsNotFound(err) {
		return Plan{NewestEnabled: -1}, true, nil
	}
	if err != nil {
		return Plan{}, false, err
	}
	return Decide(vs, r.now(), r.Policy), false, nil
}

// List reads every version of a secret in pages of PageSize, each page
// retried on transient errors.
func (r *Runner) List(ctx context.Context, id string) ([]Version, error) {
	size := r.PageSize
	if size <= 0 {
		size = DefaultPageSize
	}
	var out []Version
	token := ""
	for {
		var page []*secretmanagerpb.SecretVersion
		var next string
		err := retry.Do(ctx, r.retryPolicy(), func(ctx context.Context) error {
			page = page[:0]
			it := r.Client.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: r.secretName(id)})
			var err error
			next, err = iterator.NewPager(it, int(size), token).NextPage(&page)
			return err
		})
		if err != nil {
			if retry.IsNotFound(err) {
				return nil, err
			}
			return nil, fmt.Errorf("list the versions of secret %s: %w (coopguard needs roles/secretmanager.viewer on it; retry when Secret Manager answers)", id, err)
		}
		for _, v := range page {
			out = append(out, fromProto(v))
		}
		if next == "" {
			return out, nil
		}
		token = next
	}
}

func fromProto(v *secretmanagerpb.SecretVersion) Version {
	out := Version{
		Name:       v.GetName(),
		Number:     VersionNumber(v.GetName()),
		State:      v.GetState().String(),
		CreateTime: v.GetCreateTime().AsTime(),
		Etag:       v.GetEtag(),
	}
	if t := v.GetScheduledDestroyTime(); t != nil {
		out.ScheduledDestroy = t.AsTime()
	}
	return out
}
