package secretmanager

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Rotation bounds from the Rotation message reference.
const (
	minRotationPeriod    = time.Hour
	maxRotationPeriod    = 3153600000 * time.Second
	minNextRotationAhead = 5 * time.Minute
)

// CreateSecret creates a secret without versions.
func (s *Server) CreateSecret(ctx context.Context, req *secretmanagerpb.CreateSecretRequest) (*secretmanagerpb.Secret, error) {
	parent, err := parseProjectName(req.GetParent())
	if err != nil {
		return nil, err
	}
	if !secretIDRE.MatchString(req.GetSecretId()) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid secret_id %q: it must be 1 to 255 characters of letters, digits, underscores and hyphens.", req.GetSecretId())
	}
	name := secretName{projectName: parent, Secret: req.GetSecretId()}
	in := req.GetSecret()
	if in == nil {
		return nil, status.Error(codes.InvalidArgument, "Secret is required.")
	}
	if in.GetReplication().GetReplication() == nil {
		return nil, status.Error(codes.InvalidArgument, "Secret.replication must be set: choose automatic or user_managed replication.")
	}

	s.mu.Lock()
	defer s.unlock()
	if _, ok := s.secrets[name.String()]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Secret [%s] already exists.", name)
	}
	sec := proto.Clone(in).(*secretmanagerpb.Secret)
	sec.Name = name.String()
	sec.CreateTime = s.nowPB()
	if ttl, ok := sec.Expiration.(*secretmanagerpb.Secret_Ttl); ok {
		// The service stores ttl as the expire_time it implies.
		sec.Expiration = &secretmanagerpb.Secret_ExpireTime{ExpireTime: timestamppb.New(s.now().Add(ttl.Ttl.AsDuration()))}
	}
	if err := s.validateSecret(sec, true); err != nil {
		return nil, err
	}
	sec.Etag = s.newEtag()
	s.secrets[sec.Name] = sec
	s.notify(ctx, EventSecretCreate, sec, nil)
	return proto.Clone(sec).(*secretmanagerpb.Secret), nil
}

// validateSecret checks the fields that both create and update can set.
// checkNext is false when an update leaves the rotation alone, so a
// schedule that has since come due does not block unrelated changes.
func (s *Server) validateSecret(sec *secretmanagerpb.Secret, checkNext bool) error {
	for _, t := range sec.GetTopics() {
		parts := strings.Split(t.GetName(), "/")
		if len(parts) != 4 || parts[0] != "projects" || parts[2] != "topics" || parts[1] == "" || parts[3] == "" {
			return status.Errorf(codes.InvalidArgument, "Invalid topic name %q: must be of the form projects/*/topics/*.", t.GetName())
		}
	}
	if r := sec.GetRotation(); r != nil {
		if len(sec.GetTopics()) == 0 {
			return status.Error(codes.InvalidArgument, "Secret.topics must be set to configure rotation.")
		}
		if r.RotationPeriod != nil {
			p := r.GetRotationPeriod().AsDuration()
			if p%time.Second != 0 || p < minRotationPeriod || p > maxRotationPeriod {
				return status.Errorf(codes.InvalidArgument, "rotation_period must be in seconds and between %ds and %ds, got %s.", int64(minRotationPeriod.Seconds()), int64(maxRotationPeriod.Seconds()), p)
			}
			if r.NextRotationTime == nil {
				return status.Error(codes.InvalidArgument, "next_rotation_time MUST be set if rotation_period is set.")
			}
		}
		if r.NextRotationTime != nil && checkNext {
			next := r.GetNextRotationTime().AsTime()
			if next.Before(s.now().Add(minNextRotationAhead)) {
				return status.Errorf(codes.InvalidArgument, "next_rotation_time %s must be at least 300s in the future.", next.Format(time.RFC3339))
			}
		}
	}
	for alias, v := range sec.GetVersionAliases() {
		if alias == "latest" || alias == "" {
			return status.Errorf(codes.InvalidArgument, "Invalid version alias %q.", alias)
		}
		if _, ok := s.versions[fmt.Sprintf("%s/versions/%d", sec.GetName(), v)]; !ok {
			return status.Errorf(codes.InvalidArgument, "Version alias %q points to version %d, which does not exist.", alias, v)
		}
	}
	return nil
}

// GetSecret returns a secret's metadata.
func (s *Server) GetSecret(_ context.Context, req *secretmanagerpb.GetSecretRequest) (*secretmanagerpb.Secret, error) {
	name, err := parseSecretName(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.unlock()
	sec, err := s.secret(name)
	if err != nil {
		return nil, err
	}
	return proto.Clone(sec).(*secretmanagerpb.Secret), nil
}

// secret returns the stored secret (not a clone). Callers hold s.mu.
func (s *Server) secret(name secretName) (*secretmanagerpb.Secret, error) {
	sec, ok := s.secrets[name.String()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Secret [%s] not found.", name)
	}
	return sec, nil
}

// ListSecrets lists a project's secrets in name order. The filter supports
// the terms `name:SUBSTRING`, `labels.KEY=VALUE`, `labels.KEY:VALUE` and
// `labels.KEY:*`, joined by spaces or AND.
func (s *Server) ListSecrets(_ context.Context, req *secretmanagerpb.ListSecretsRequest) (*secretmanagerpb.ListSecretsResponse, error) {
	parent, err := parseProjectName(req.GetParent())
	if err != nil {
		return nil, err
	}
	match, err := secretFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.unlock()
	var all []*secretmanagerpb.Secret
	prefix := parent.String() + "/secrets/"
	for name, sec := range s.secrets {
		if strings.HasPrefix(name, prefix) && match(sec) {
			all = append(all, sec)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	got, next, err := page(all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &secretmanagerpb.ListSecretsResponse{NextPageToken: next, TotalSize: int32(len(all))}
	for _, sec := range got {
		resp.Secrets = append(resp.Secrets, proto.Clone(sec).(*secretmanagerpb.Secret))
	}
	return resp, nil
}

// secretFilter compiles the supported subset of the list filter syntax.
func secretFilter(filter string) (func(*secretmanagerpb.Secret) bool, error) {
	var preds []func(*secretmanagerpb.Secret) bool
	for _, term := range strings.Fields(filter) {
		if term == "AND" {
			continue
		}
		switch {
		case strings.HasPrefix(term, "name:"):
			want := strings.Trim(strings.TrimPrefix(term, "name:"), `"`)
			// Matched against the secret ID: every full name contains
			// "projects/" and "secrets/", which would make short terms useless.
			preds = append(preds, func(sec *secretmanagerpb.Secret) bool {
				return strings.Contains(sec.GetName()[strings.LastIndex(sec.GetName(), "/")+1:], want)
			})
		case strings.HasPrefix(term, "labels."):
			rest := strings.TrimPrefix(term, "labels.")
			i := strings.IndexAny(rest, "=:")
			if i <= 0 {
				return nil, status.Errorf(codes.InvalidArgument, "Unsupported filter term %q.", term)
			}
			key, op, want := rest[:i], rest[i], strings.Trim(rest[i+1:], `"`)
			preds = append(preds, func(sec *secretmanagerpb.Secret) bool {
				got, ok := sec.GetLabels()[key]
				switch {
				case !ok:
					return false
				case op == ':' && want == "*":
					return true
				case op == ':':
					return strings.Contains(got, want)
				default:
					return got == want
				}
			})
		default:
			return nil, status.Errorf(codes.InvalidArgument, "Unsupported filter term %q: the fake supports name:, labels.KEY= and labels.KEY:.", term)
		}
	}
	return func(sec *secretmanagerpb.Secret) bool {
		for _, p := range preds {
			if !p(sec) {
				return false
			}
		}
		return true
	}, nil
}

// UpdateSecret changes the fields named in update_mask, which the service
// requires. Replication is immutable.
func (s *Server) UpdateSecret(ctx context.Context, req *secretmanagerpb.UpdateSecretRequest) (*secretmanagerpb.Secret, error) {
	in := req.GetSecret()
	name, err := parseSecretName(in.GetName())
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) == 0 {
		return nil, status.Error(codes.InvalidArgument, "update_mask is required and must name at least one field.")
	}
	s.mu.Lock()
	defer s.unlock()
	stored, err := s.secret(name)
	if err != nil {
		return nil, err
	}
	if in.GetEtag() != "" && in.GetEtag() != stored.GetEtag() {
		return nil, status.Errorf(codes.FailedPrecondition, "The etag provided in the request does not match the current etag of Secret [%s].", name)
	}
	sec := proto.Clone(stored).(*secretmanagerpb.Secret)
	rotationChanged := false
	for _, p := range paths {
		if strings.HasPrefix(p, "rotation") {
			rotationChanged = true
		}
		switch p {
		case "labels":
			sec.Labels = in.GetLabels()
		case "annotations":
			sec.Annotations = in.GetAnnotations()
		case "topics":
			sec.Topics = in.GetTopics()
		case "rotation":
			sec.Rotation = in.GetRotation()
		case "rotation.next_rotation_time":
			if sec.Rotation == nil {
				sec.Rotation = &secretmanagerpb.Rotation{}
			}
			sec.Rotation.NextRotationTime = in.GetRotation().GetNextRotationTime()
		case "rotation.rotation_period":
			if sec.Rotation == nil {
				sec.Rotation = &secretmanagerpb.Rotation{}
			}
			sec.Rotation.RotationPeriod = in.GetRotation().GetRotationPeriod()
		case "version_aliases":
			sec.VersionAliases = in.GetVersionAliases()
		case "expire_time":
			sec.Expiration = nil
			if t := in.GetExpireTime(); t != nil {
				sec.Expiration = &secretmanagerpb.Secret_ExpireTime{ExpireTime: t}
			}
		case "ttl":
			sec.Expiration = nil
			if ttl := in.GetTtl(); ttl != nil {
				sec.Expiration = &secretmanagerpb.Secret_ExpireTime{ExpireTime: timestamppb.New(s.now().Add(ttl.AsDuration()))}
			}
		case "version_destroy_ttl":
			sec.VersionDestroyTtl = in.GetVersionDestroyTtl()
		case "replication":
			return nil, status.Error(codes.InvalidArgument, "Secret.replication is immutable and cannot be updated.")
		default:
			return nil, status.Errorf(codes.InvalidArgument, "Invalid update_mask path %q.", p)
		}
	}
	if r := sec.GetRotation(); r != nil && r.NextRotationTime == nil && r.RotationPeriod == nil {
		sec.Rotation = nil
	}
	if err := s.validateSecret(sec, rotationChanged); err != nil {
		return nil, err
	}
	sec.Etag = s.newEtag()
	s.secrets[sec.Name] = sec
	s.notify(ctx, EventSecretUpdate, sec, nil)
	return proto.Clone(sec).(*secretmanagerpb.Secret), nil
}

// DeleteSecret deletes a secret and all its versions.
func (s *Server) DeleteSecret(ctx context.Context, req *secretmanagerpb.DeleteSecretRequest) (*emptypb.Empty, error) {
	name, err := parseSecretName(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.unlock()
	sec, err := s.secret(name)
	if err != nil {
		return nil, err
	}
	if req.GetEtag() != "" && req.GetEtag() != sec.GetEtag() {
		return nil, status.Errorf(codes.FailedPrecondition, "The etag provided in the request does not match the current etag of Secret [%s].", name)
	}
	s.notify(ctx, EventSecretDelete, sec, nil)
	delete(s.secrets, name.String())
	delete(s.lastVersion, name.String())
	delete(s.policies, name.String())
	prefix := name.String() + "/versions/"
	for k := range s.versions {
		if strings.HasPrefix(k, prefix) {
			delete(s.versions, k)
		}
	}
	return &emptypb.Empty{}, nil
}

// Secret returns a copy of the named secret (projects/P/secrets/S, P the
// project id or number), for tests to inspect what the code under test
// left behind.
func (s *Server) Secret(name string) (*secretmanagerpb.Secret, bool) {
	s.mu.Lock()
	defer s.unlock()
	sec, ok := s.secrets[canonical(name)]
	if !ok {
		return nil, false
	}
	return proto.Clone(sec).(*secretmanagerpb.Secret), true
}

// SeedSecret creates projects/<project>/secrets/<id> (project: id or
// number; stored by number, as every name) with automatic
// replication and one ENABLED version per payload, in order, so tests can
// start from a populated project without going through the API. It panics
// on a bad id or an existing secret, which are mistakes in the test itself.
func (s *Server) SeedSecret(project, id string, payloads ...[]byte) {
	ctx := context.Background()
	_, err := s.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
		Parent:   "projects/" + project,
		SecretId: id,
		Secret: &secretmanagerpb.Secret{Replication: &secretmanagerpb.Replication{
			Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}},
		}},
	})
	if err != nil {
		panic(fmt.Sprintf("secretmanager.SeedSecret: %v", err))
	}
	for _, p := range payloads {
		_, err := s.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{
			Parent:  "projects/" + project + "/secrets/" + id,
			Payload: &secretmanagerpb.SecretPayload{Data: p},
		})
		if err != nil {
			panic(fmt.Sprintf("secretmanager.SeedSecret: %v", err))
		}
	}
}
