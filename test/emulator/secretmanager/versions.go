package secretmanager

import (
	"context"
	"fmt"
	"hash/crc32"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// maxPayloadBytes is the service's limit on one version's data.
const maxPayloadBytes = 64 * 1024

// castagnoli is the CRC32C table the API's data_crc32c fields use.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// storedVersion keeps the payload beside the metadata because only
// AccessSecretVersion may return it.
type storedVersion struct {
	number  int64
	meta    *secretmanagerpb.SecretVersion
	payload []byte
}

// AddSecretVersion stores a new ENABLED version numbered one past the
// secret's highest so far.
func (s *Server) AddSecretVersion(ctx context.Context, req *secretmanagerpb.AddSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	parent, err := parseSecretName(req.GetParent())
	if err != nil {
		return nil, err
	}
	p := req.GetPayload()
	if p == nil {
		return nil, status.Error(codes.InvalidArgument, "SecretPayload is required.")
	}
	if len(p.GetData()) > maxPayloadBytes {
		return nil, status.Errorf(codes.InvalidArgument, "Secret payload of %d bytes exceeds the limit of %d bytes.", len(p.GetData()), maxPayloadBytes)
	}
	if p.DataCrc32C != nil && p.GetDataCrc32C() != int64(crc32.Checksum(p.GetData(), castagnoli)) {
		return nil, status.Error(codes.InvalidArgument, "Data integrity error: the data_crc32c of the payload does not match the checksum of the data.")
	}

	s.mu.Lock()
	defer s.unlock()
	sec, err := s.secret(parent)
	if err != nil {
		return nil, err
	}
	n := s.lastVersion[sec.Name] + 1
	s.lastVersion[sec.Name] = n
	v := &secretmanagerpb.SecretVersion{
		Name:                           fmt.Sprintf("%s/versions/%d", sec.Name, n),
		CreateTime:                     s.nowPB(),
		State:                          secretmanagerpb.SecretVersion_ENABLED,
		Etag:                           s.newEtag(),
		ClientSpecifiedPayloadChecksum: p.DataCrc32C != nil,
		ReplicationStatus: &secretmanagerpb.ReplicationStatus{
			ReplicationStatus: &secretmanagerpb.ReplicationStatus_Automatic{Automatic: &secretmanagerpb.ReplicationStatus_AutomaticStatus{}},
		},
	}
	s.versions[v.Name] = &storedVersion{number: n, meta: v, payload: append([]byte(nil), p.GetData()...)}
	s.notify(ctx, EventVersionAdd, sec, v)
	return proto.Clone(v).(*secretmanagerpb.SecretVersion), nil
}

// lookupVersion resolves `latest` (the most recently created version,
// whatever its state, as the reference says) and aliases, and returns the
// stored version. Callers hold s.mu.
func (s *Server) lookupVersion(name versionName) (*storedVersion, error) {
	sec, err := s.secret(name.secretName)
	if err != nil {
		if name.Version == "latest" {
			return nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", name.secretName)
		}
		return nil, err
	}
	var key string
	if n, ok := name.number(); ok {
		key = fmt.Sprintf("%s/versions/%d", sec.Name, n)
	} else if name.Version == "latest" {
		var newest *storedVersion
		for _, v := range s.versionsOf(sec.Name) {
			if newest == nil || v.number > newest.number {
				newest = v
			}
		}
		if newest == nil {
			return nil, status.Errorf(codes.NotFound, "Secret [%s] not found or has no versions.", name.secretName)
		}
		key = newest.meta.Name
	} else if n, ok := sec.GetVersionAliases()[name.Version]; ok {
		key = fmt.Sprintf("%s/versions/%d", sec.Name, n)
	}
	v, ok := s.versions[key]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Secret Version [%s] not found.", name)
	}
	s.settle(v)
	return v, nil
}

// versionsOf returns the stored versions of a secret, unordered, each
// settled. Callers hold s.mu.
func (s *Server) versionsOf(secret string) []*storedVersion {
	prefix := secret + "/versions/"
	var out []*storedVersion
	for k, v := range s.versions {
		if strings.HasPrefix(k, prefix) {
			s.settle(v)
			out = append(out, v)
		}
	}
	return out
}

// settle completes a delayed destruction (version_destroy_ttl) once the
// clock has passed its scheduled time; the fake has no background worker,
// so every read does it. Callers hold s.mu.
func (s *Server) settle(v *storedVersion) {
	t := v.meta.GetScheduledDestroyTime()
	if t == nil || s.now().Before(t.AsTime()) {
		return
	}
	v.meta.State = secretmanagerpb.SecretVersion_DESTROYED
	v.meta.DestroyTime = t
	v.meta.ScheduledDestroyTime = nil
	v.meta.Etag = s.newEtag()
	v.payload = nil
	s.notifyVersion(context.Background(), EventVersionDestroy, v.meta)
}

// GetSecretVersion returns a version's metadata, never its payload.
func (s *Server) GetSecretVersion(_ context.Context, req *secretmanagerpb.GetSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	name, err := parseVersionName(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.unlock()
	v, err := s.lookupVersion(name)
	if err != nil {
		return nil, err
	}
	return proto.Clone(v.meta).(*secretmanagerpb.SecretVersion), nil
}

// ListSecretVersions lists a secret's versions newest first, as the service
// does. The filter supports `state:ENABLED|DISABLED|DESTROYED` (also with =).
func (s *Server) ListSecretVersions(_ context.Context, req *secretmanagerpb.ListSecretVersionsRequest) (*secretmanagerpb.ListSecretVersionsResponse, error) {
	parent, err := parseSecretName(req.GetParent())
	if err != nil {
		return nil, err
	}
	match, err := versionFilter(req.GetFilter())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.unlock()
	sec, err := s.secret(parent)
	if err != nil {
		return nil, err
	}
	var all []*storedVersion
	for _, v := range s.versionsOf(sec.Name) {
		if match(v.meta) {
			all = append(all, v)
		}
	}
	sort.Slice(all, func(i, j int) bool {
		ti, tj := all[i].meta.GetCreateTime().AsTime(), all[j].meta.GetCreateTime().AsTime()
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return all[i].number > all[j].number
	})
	got, next, err := page(all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &secretmanagerpb.ListSecretVersionsResponse{NextPageToken: next, TotalSize: int32(len(all))}
	for _, v := range got {
		resp.Versions = append(resp.Versions, proto.Clone(v.meta).(*secretmanagerpb.SecretVersion))
	}
	return resp, nil
}

// versionFilter compiles the state filter, the one the runbook needs.
func versionFilter(filter string) (func(*secretmanagerpb.SecretVersion) bool, error) {
	f := strings.TrimSpace(filter)
	if f == "" {
		return func(*secretmanagerpb.SecretVersion) bool { return true }, nil
	}
	var want string
	for _, prefix := range []string{"state:", "state="} {
		if rest, ok := strings.CutPrefix(f, prefix); ok {
			want = strings.ToUpper(strings.Trim(strings.TrimSpace(rest), `"`))
		}
	}
	st, ok := secretmanagerpb.SecretVersion_State_value[want]
	if !ok || want == "" {
		return nil, status.Errorf(codes.InvalidArgument, "Unsupported filter %q: the fake supports state:ENABLED, state:DISABLED and state:DESTROYED.", filter)
	}
	return func(v *secretmanagerpb.SecretVersion) bool {
		return v.GetState() == secretmanagerpb.SecretVersion_State(st)
	}, nil
}

// AccessSecretVersion returns the payload of an ENABLED version.
func (s *Server) AccessSecretVersion(_ context.Context, req *secretmanagerpb.AccessSecretVersionRequest) (*secretmanagerpb.AccessSecretVersionResponse, error) {
	name, err := parseVersionName(req.GetName())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.unlock()
	v, err := s.lookupVersion(name)
	if err != nil {
		return nil, err
	}
	if v.meta.GetState() != secretmanagerpb.SecretVersion_ENABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in %s state.", v.meta.GetName(), v.meta.GetState())
	}
	crc := int64(crc32.Checksum(v.payload, castagnoli))
	return &secretmanagerpb.AccessSecretVersionResponse{
		Name:    v.meta.GetName(),
		Payload: &secretmanagerpb.SecretPayload{Data: append([]byte(nil), v.payload...), DataCrc32C: &crc},
	}, nil
}

// EnableSecretVersion sets a version ENABLED.
func (s *Server) EnableSecretVersion(ctx context.Context, req *secretmanagerpb.EnableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.changeVersion(ctx, req.GetName(), req.GetEtag(), func(v *storedVersion) string {
		v.meta.State = secretmanagerpb.SecretVersion_ENABLED
		return EventVersionEnable
	})
}

// DisableSecretVersion sets a version DISABLED, which makes it unreadable
// until it is enabled again.
func (s *Server) DisableSecretVersion(ctx context.Context, req *secretmanagerpb.DisableSecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.changeVersion(ctx, req.GetName(), req.GetEtag(), func(v *storedVersion) string {
		v.meta.State = secretmanagerpb.SecretVersion_DISABLED
		return EventVersionDisable
	})
}

// DestroySecretVersion drops a version's payload for good. When the secret
// has a version_destroy_ttl, the service instead disables the version and
// schedules the destruction, which settle completes later.
func (s *Server) DestroySecretVersion(ctx context.Context, req *secretmanagerpb.DestroySecretVersionRequest) (*secretmanagerpb.SecretVersion, error) {
	return s.changeVersion(ctx, req.GetName(), req.GetEtag(), func(v *storedVersion) string {
		sec := s.secrets[strings.SplitN(v.meta.GetName(), "/versions/", 2)[0]]
		if ttl := sec.GetVersionDestroyTtl(); ttl != nil && ttl.AsDuration() > 0 {
			v.meta.State = secretmanagerpb.SecretVersion_DISABLED
			v.meta.ScheduledDestroyTime = timestamppb.New(s.now().Add(ttl.AsDuration()))
			return EventVersionDestroyScheduled
		}
		v.meta.State = secretmanagerpb.SecretVersion_DESTROYED
		v.meta.DestroyTime = s.nowPB()
		v.payload = nil
		return EventVersionDestroy
	})
}

// changeVersion is the shared path of the three state changes: resolve,
// check the etag, refuse to touch a destroyed version, apply, new etag,
// and the notification of the event apply names.
func (s *Server) changeVersion(ctx context.Context, rawName, etag string, apply func(*storedVersion) string) (*secretmanagerpb.SecretVersion, error) {
	name, err := parseVersionName(rawName)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.unlock()
	v, err := s.lookupVersion(name)
	if err != nil {
		return nil, err
	}
	if etag != "" && etag != v.meta.GetEtag() {
		return nil, status.Errorf(codes.FailedPrecondition, "The etag provided in the request does not match the current etag of Secret Version [%s].", v.meta.GetName())
	}
	if v.meta.GetState() == secretmanagerpb.SecretVersion_DESTROYED {
		return nil, status.Errorf(codes.FailedPrecondition, "Secret Version [%s] is in DESTROYED state.", v.meta.GetName())
	}
	event := apply(v)
	v.meta.Etag = s.newEtag()
	s.notifyVersion(ctx, event, v.meta)
	return proto.Clone(v.meta).(*secretmanagerpb.SecretVersion), nil
}

// Versions returns copies of a secret's versions (secretName by project id
// or number), oldest first, for tests to check what was enabled, disabled
// or destroyed.
func (s *Server) Versions(secretName string) []*secretmanagerpb.SecretVersion {
	s.mu.Lock()
	defer s.unlock()
	vs := s.versionsOf(canonical(secretName))
	sort.Slice(vs, func(i, j int) bool { return vs[i].number < vs[j].number })
	out := make([]*secretmanagerpb.SecretVersion, 0, len(vs))
	for _, v := range vs {
		out = append(out, proto.Clone(v.meta).(*secretmanagerpb.SecretVersion))
	}
	return out
}

// SetVersionCreateTime backdates (or postdates) a version, so rotation
// tests can make a key look old without waiting. It panics when the
// version does not exist, a mistake in the test itself.
func (s *Server) SetVersionCreateTime(versionName string, t time.Time) {
	s.mu.Lock()
	defer s.unlock()
	v, ok := s.versions[canonical(versionName)]
	if !ok {
		panic(fmt.Sprintf("secretmanager.SetVersionCreateTime: no version %s", versionName))
	}
	v.meta.CreateTime = timestamppb.New(t)
}
