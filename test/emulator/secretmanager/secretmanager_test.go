package secretmanager_test

import (
	"context"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"
	"time"

	smapi "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator"
	"github.com/cloudcoop/coopguard/test/emulator/grpctest"
	"github.com/cloudcoop/coopguard/test/emulator/resourcemanager"
	"github.com/cloudcoop/coopguard/test/emulator/secretmanager"
)

// start serves a fresh fake on loopback and returns it with an official
// client connected over gRPC.
func start(t *testing.T) (*secretmanager.Server, *smapi.Client, *emulator.Clock) {
	t.Helper()
	clk := emulator.FrozenClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	fake := secretmanager.New(clk.Now)
	opts := grpctest.Serve(t, fake.Register)
	c, err := smapi.NewClient(context.Background(),
		opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return fake, c, clk
}

// byNumber is name as the service answers it: by project number.
func byNumber(name string) string {
	rest, ok := strings.CutPrefix(name, "projects/")
	if !ok {
		return name
	}
	id, tail, _ := strings.Cut(rest, "/")
	if strings.Trim(id, "0123456789") == "" {
		return name
	}
	return fmt.Sprintf("projects/%d/%s", resourcemanager.ProjectNumber(id), tail)
}

func automatic() *secretmanagerpb.Replication {
	return &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("error = %v, want code %v", err, want)
	}
}

func TestCreateSecret(t *testing.T) {
	_, c, clk := start(t)
	ctx := context.Background()
	topic := []*secretmanagerpb.Topic{{Name: "projects/p/topics/rotate"}}
	soon := timestamppb.New(clk.Now().Add(time.Hour))
	tests := []struct {
		name string
		req  *secretmanagerpb.CreateSecretRequest
		want codes.Code
	}{
		{"ok", &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "anthropic-api-key",
			Secret: &secretmanagerpb.Secret{Replication: automatic(), Labels: map[string]string{"app": "coopguard"}}}, codes.OK},
		{"duplicate", &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "anthropic-api-key",
			Secret: &secretmanagerpb.Secret{Replication: automatic()}}, codes.AlreadyExists},
		{"bad parent", &secretmanagerpb.CreateSecretRequest{Parent: "project/p", SecretId: "x",
			Secret: &secretmanagerpb.Secret{Replication: automatic()}}, codes.InvalidArgument},
		{"bad id", &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "a/b",
			Secret: &secretmanagerpb.Secret{Replication: automatic()}}, codes.InvalidArgument},
		{"no replication", &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "x",
			Secret: &secretmanagerpb.Secret{}}, codes.InvalidArgument},
		{"rotation ok", &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "rot",
			Secret: &secretmanagerpb.Secret{Replication: automatic(), Topics: topic,
				Rotation: &secretmanagerpb.Rotation{NextRotationTime: soon, RotationPeriod: durationpb.New(30 * 24 * time.Hour)}}}, codes.OK},
		{"rotation period too short", &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "rot2",
			Secret: &secretmanagerpb.Secret{Replication: automatic(), Topics: topic,
				Rotation: &secretmanagerpb.Rotation{NextRotationTime: soon, RotationPeriod: durationpb.New(59 * time.Minute)}}}, codes.InvalidArgument},
		{"rotation period without next time", &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "rot3",
			Secret: &secretmanagerpb.Secret{Replication: automatic(), Topics: topic,
				Rotation: &secretmanagerpb.Rotation{RotationPeriod: durationpb.New(2 * time.Hour)}}}, codes.InvalidArgument},
		{"rotation without topics", &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "rot4",
			Secret: &secretmanagerpb.Secret{Replication: automatic(),
				Rotation: &secretmanagerpb.Rotation{NextRotationTime: soon}}}, codes.InvalidArgument},
		{"next rotation too soon", &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "rot5",
			Secret: &secretmanagerpb.Secret{Replication: automatic(), Topics: topic,
				Rotation: &secretmanagerpb.Rotation{NextRotationTime: timestamppb.New(clk.Now().Add(time.Minute))}}}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.CreateSecret(ctx, tt.req)
			wantCode(t, err, tt.want)
			if err != nil {
				return
			}
			if want := byNumber(tt.req.Parent + "/secrets/" + tt.req.SecretId); got.Name != want {
				t.Errorf("name = %q, want %q", got.Name, want)
			}
			if !got.CreateTime.AsTime().Equal(clk.Now()) {
				t.Errorf("create_time = %v, want the fake clock %v", got.CreateTime.AsTime(), clk.Now())
			}
			if got.Etag == "" {
				t.Error("etag is empty")
			}
		})
	}
}

func TestGetListDeleteSecret(t *testing.T) {
	fake, c, _ := start(t)
	ctx := context.Background()
	for _, id := range []string{"e", "c", "a", "d", "b"} {
		fake.SeedSecret("p", id)
	}
	fake.SeedSecret("other", "z")
	if _, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
		Secret:     &secretmanagerpb.Secret{Name: "projects/p/secrets/c", Labels: map[string]string{"role": "api-key"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}},
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("get", func(t *testing.T) {
		got, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/p/secrets/a"})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetReplication().GetAutomatic() == nil {
			t.Errorf("replication = %v, want automatic", got.GetReplication())
		}
		_, err = c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/p/secrets/missing"})
		wantCode(t, err, codes.NotFound)
		_, err = c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/p/secret/a"})
		wantCode(t, err, codes.InvalidArgument)
	})

	t.Run("list pages", func(t *testing.T) {
		it := c.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: "projects/p", PageSize: 2})
		var pages [][]string
		for {
			var page []*secretmanagerpb.Secret
			tok, err := iterator.NewPager(it, 2, "").NextPage(&page)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range page {
				names = append(names, strings.TrimPrefix(s.Name, byNumber("projects/p/secrets/")))
			}
			pages = append(pages, names)
			if tok == "" {
				break
			}
			it = c.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: "projects/p", PageSize: 2, PageToken: tok})
		}
		want := [][]string{{"a", "b"}, {"c", "d"}, {"e"}}
		if len(pages) != len(want) {
			t.Fatalf("pages = %v, want %v", pages, want)
		}
		for i := range want {
			if len(pages[i]) != len(want[i]) || pages[i][0] != want[i][0] {
				t.Errorf("page %d = %v, want %v", i, pages[i], want[i])
			}
		}
	})

	filters := []struct {
		filter string
		want   int
		code   codes.Code
	}{
		{"", 5, codes.OK},
		{"name:c", 1, codes.OK},
		{"labels.role=api-key", 1, codes.OK},
		{"labels.role:*", 1, codes.OK},
		{"labels.role:* AND name:a", 0, codes.OK},
		{"create_time>2020", 0, codes.InvalidArgument},
	}
	for _, tt := range filters {
		t.Run("filter "+tt.filter, func(t *testing.T) {
			n := 0
			it := c.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: "projects/p", Filter: tt.filter})
			for {
				_, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					wantCode(t, err, tt.code)
					return
				}
				n++
			}
			wantCode(t, nil, tt.code)
			if n != tt.want {
				t.Errorf("got %d secrets, want %d", n, tt.want)
			}
		})
	}

	t.Run("delete", func(t *testing.T) {
		sec, _ := fake.Secret("projects/p/secrets/a")
		err := c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: sec.Name, Etag: `"stale"`})
		wantCode(t, err, codes.FailedPrecondition)
		if err := c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: sec.Name, Etag: sec.Etag}); err != nil {
			t.Fatal(err)
		}
		if _, ok := fake.Secret(sec.Name); ok {
			t.Error("secret still stored after delete")
		}
		wantCode(t, c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: sec.Name}), codes.NotFound)
	})
}

func TestUpdateSecret(t *testing.T) {
	fake, c, clk := start(t)
	ctx := context.Background()
	fake.SeedSecret("p", "k", []byte("v1"))
	next := timestamppb.New(clk.Now().Add(24 * time.Hour))
	tests := []struct {
		name  string
		in    *secretmanagerpb.Secret
		paths []string
		want  codes.Code
		check func(t *testing.T, s *secretmanagerpb.Secret)
	}{
		{"labels", &secretmanagerpb.Secret{Labels: map[string]string{"a": "b"}}, []string{"labels"}, codes.OK,
			func(t *testing.T, s *secretmanagerpb.Secret) {
				if s.Labels["a"] != "b" {
					t.Errorf("labels = %v", s.Labels)
				}
			}},
		{"annotations", &secretmanagerpb.Secret{Annotations: map[string]string{"why": "incident"}}, []string{"annotations"}, codes.OK,
			func(t *testing.T, s *secretmanagerpb.Secret) {
				if s.Annotations["why"] != "incident" {
					t.Errorf("annotations = %v", s.Annotations)
				}
			}},
		{"rotation without topics", &secretmanagerpb.Secret{Rotation: &secretmanagerpb.Rotation{NextRotationTime: next}}, []string{"rotation"}, codes.InvalidArgument, nil},
		{"topics", &secretmanagerpb.Secret{Topics: []*secretmanagerpb.Topic{{Name: "projects/p/topics/t"}}}, []string{"topics"}, codes.OK, nil},
		{"rotation.next_rotation_time", &secretmanagerpb.Secret{Rotation: &secretmanagerpb.Rotation{NextRotationTime: next}}, []string{"rotation.next_rotation_time"}, codes.OK,
			func(t *testing.T, s *secretmanagerpb.Secret) {
				if !s.GetRotation().GetNextRotationTime().AsTime().Equal(next.AsTime()) {
					t.Errorf("rotation = %v", s.Rotation)
				}
			}},
		{"rotation.rotation_period", &secretmanagerpb.Secret{Rotation: &secretmanagerpb.Rotation{RotationPeriod: durationpb.New(2 * time.Hour)}}, []string{"rotation.rotation_period"}, codes.OK,
			func(t *testing.T, s *secretmanagerpb.Secret) {
				if s.GetRotation().GetRotationPeriod().AsDuration() != 2*time.Hour || s.GetRotation().GetNextRotationTime() == nil {
					t.Errorf("rotation = %v", s.Rotation)
				}
			}},
		{"version_aliases", &secretmanagerpb.Secret{VersionAliases: map[string]int64{"current": 1}}, []string{"version_aliases"}, codes.OK, nil},
		{"alias to missing version", &secretmanagerpb.Secret{VersionAliases: map[string]int64{"current": 9}}, []string{"version_aliases"}, codes.InvalidArgument, nil},
		{"expire_time", &secretmanagerpb.Secret{Expiration: &secretmanagerpb.Secret_ExpireTime{ExpireTime: next}}, []string{"expire_time"}, codes.OK,
			func(t *testing.T, s *secretmanagerpb.Secret) {
				if !s.GetExpireTime().AsTime().Equal(next.AsTime()) {
					t.Errorf("expire_time = %v", s.GetExpireTime())
				}
			}},
		{"replication immutable", &secretmanagerpb.Secret{Replication: automatic()}, []string{"replication"}, codes.InvalidArgument, nil},
		{"unknown path", &secretmanagerpb.Secret{}, []string{"colour"}, codes.InvalidArgument, nil},
		{"no mask", &secretmanagerpb.Secret{}, nil, codes.InvalidArgument, nil},
		{"stale etag", &secretmanagerpb.Secret{Etag: `"old"`}, []string{"labels"}, codes.FailedPrecondition, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := fake.Secret("projects/p/secrets/k")
			tt.in.Name = "projects/p/secrets/k"
			got, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{Secret: tt.in, UpdateMask: &fieldmaskpb.FieldMask{Paths: tt.paths}})
			wantCode(t, err, tt.want)
			if err != nil {
				return
			}
			if got.Etag == before.Etag {
				t.Error("etag unchanged by update")
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
	t.Run("alias resolves", func(t *testing.T) {
		got, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p/secrets/k/versions/current"})
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Payload.Data) != "v1" || got.Name != byNumber("projects/p/secrets/k/versions/1") {
			t.Errorf("access via alias = %v", got)
		}
	})
	t.Run("due rotation does not block other updates", func(t *testing.T) {
		clk.Advance(48 * time.Hour)
		_, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
			Secret:     &secretmanagerpb.Secret{Name: "projects/p/secrets/k", Labels: map[string]string{"x": "y"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}},
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestVersions(t *testing.T) {
	fake, c, clk := start(t)
	ctx := context.Background()
	fake.SeedSecret("p", "k")
	parent := "projects/p/secrets/k"

	_, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: parent + "/versions/latest"})
	wantCode(t, err, codes.NotFound)

	var created []time.Time
	for i, data := range []string{"one", "two", "three"} {
		crc := int64(crc32.Checksum([]byte(data), crc32.MakeTable(crc32.Castagnoli)))
		v, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: parent, Payload: &secretmanagerpb.SecretPayload{Data: []byte(data), DataCrc32C: &crc}})
		if err != nil {
			t.Fatal(err)
		}
		if want := byNumber(parent + "/versions/" + string(rune('1'+i))); v.Name != want || v.State != secretmanagerpb.SecretVersion_ENABLED || !v.ClientSpecifiedPayloadChecksum {
			t.Errorf("version = %v, want %s ENABLED with client checksum", v, want)
		}
		created = append(created, clk.Now())
		clk.Advance(time.Minute)
	}

	addErrs := []struct {
		name string
		req  *secretmanagerpb.AddSecretVersionRequest
		want codes.Code
	}{
		{"bad crc", &secretmanagerpb.AddSecretVersionRequest{Parent: parent, Payload: &secretmanagerpb.SecretPayload{Data: []byte("x"), DataCrc32C: new(int64)}}, codes.InvalidArgument},
		{"missing secret", &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p/secrets/nope", Payload: &secretmanagerpb.SecretPayload{Data: []byte("x")}}, codes.NotFound},
		{"no payload", &secretmanagerpb.AddSecretVersionRequest{Parent: parent}, codes.InvalidArgument},
		{"too big", &secretmanagerpb.AddSecretVersionRequest{Parent: parent, Payload: &secretmanagerpb.SecretPayload{Data: make([]byte, 64*1024+1)}}, codes.InvalidArgument},
	}
	for _, tt := range addErrs {
		t.Run("add "+tt.name, func(t *testing.T) {
			_, err := c.AddSecretVersion(ctx, tt.req)
			wantCode(t, err, tt.want)
		})
	}

	t.Run("get", func(t *testing.T) {
		v, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: parent + "/versions/2"})
		if err != nil {
			t.Fatal(err)
		}
		if !v.CreateTime.AsTime().Equal(created[1]) {
			t.Errorf("create_time = %v, want %v", v.CreateTime.AsTime(), created[1])
		}
		latest, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: parent + "/versions/latest"})
		if err != nil || latest.Name != byNumber(parent+"/versions/3") {
			t.Errorf("latest = %v, %v; want version 3", latest, err)
		}
		_, err = c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: parent + "/versions/9"})
		wantCode(t, err, codes.NotFound)
		_, err = c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: parent + "/version/1"})
		wantCode(t, err, codes.InvalidArgument)
	})

	t.Run("access", func(t *testing.T) {
		got, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: parent + "/versions/latest"})
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Payload.Data) != "three" || got.Name != byNumber(parent+"/versions/3") || got.Payload.DataCrc32C == nil {
			t.Errorf("access = %v", got)
		}
	})

	steps := []struct {
		name    string
		call    func() (*secretmanagerpb.SecretVersion, error)
		want    codes.Code
		state   secretmanagerpb.SecretVersion_State
		access  codes.Code
		version string
	}{
		{"disable 3", func() (*secretmanagerpb.SecretVersion, error) {
			return c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: parent + "/versions/3"})
		}, codes.OK, secretmanagerpb.SecretVersion_DISABLED, codes.FailedPrecondition, "3"},
		{"enable 3 with stale etag", func() (*secretmanagerpb.SecretVersion, error) {
			return c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: parent + "/versions/3", Etag: `"stale"`})
		}, codes.FailedPrecondition, 0, codes.FailedPrecondition, "3"},
		{"enable 3 with current etag", func() (*secretmanagerpb.SecretVersion, error) {
			cur := fake.Versions(parent)[2]
			return c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: parent + "/versions/3", Etag: cur.Etag})
		}, codes.OK, secretmanagerpb.SecretVersion_ENABLED, codes.OK, "3"},
		{"destroy 1", func() (*secretmanagerpb.SecretVersion, error) {
			return c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: parent + "/versions/1"})
		}, codes.OK, secretmanagerpb.SecretVersion_DESTROYED, codes.FailedPrecondition, "1"},
		{"disable destroyed", func() (*secretmanagerpb.SecretVersion, error) {
			return c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: parent + "/versions/1"})
		}, codes.FailedPrecondition, 0, codes.FailedPrecondition, "1"},
		{"enable destroyed", func() (*secretmanagerpb.SecretVersion, error) {
			return c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: parent + "/versions/1"})
		}, codes.FailedPrecondition, 0, codes.FailedPrecondition, "1"},
		{"disable missing", func() (*secretmanagerpb.SecretVersion, error) {
			return c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: parent + "/versions/7"})
		}, codes.NotFound, 0, codes.NotFound, "7"},
		{"disable 2", func() (*secretmanagerpb.SecretVersion, error) {
			return c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: parent + "/versions/2"})
		}, codes.OK, secretmanagerpb.SecretVersion_DISABLED, codes.FailedPrecondition, "2"},
	}
	for _, tt := range steps {
		t.Run(tt.name, func(t *testing.T) {
			before := fake.Versions(parent)
			v, err := tt.call()
			wantCode(t, err, tt.want)
			if err == nil {
				if v.State != tt.state {
					t.Errorf("state = %v, want %v", v.State, tt.state)
				}
				for _, b := range before {
					if b.Name == v.Name && b.Etag == v.Etag {
						t.Error("etag unchanged")
					}
				}
				if tt.state == secretmanagerpb.SecretVersion_DESTROYED && !v.DestroyTime.AsTime().Equal(clk.Now()) {
					t.Errorf("destroy_time = %v, want %v", v.DestroyTime, clk.Now())
				}
			}
			_, err = c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: parent + "/versions/" + tt.version})
			wantCode(t, err, tt.access)
		})
	}

	t.Run("latest is newest even when disabled", func(t *testing.T) {
		if _, err := c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: parent + "/versions/latest"}); err != nil {
			t.Fatal(err)
		}
		_, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: parent + "/versions/latest"})
		wantCode(t, err, codes.FailedPrecondition)
		if _, err := c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: parent + "/versions/3"}); err != nil {
			t.Fatal(err)
		}
	})

	lists := []struct {
		filter string
		want   []string
		code   codes.Code
	}{
		{"", []string{"3", "2", "1"}, codes.OK},
		{"state:ENABLED", []string{"3"}, codes.OK},
		{"state:DISABLED", []string{"2"}, codes.OK},
		{"state:DESTROYED", []string{"1"}, codes.OK},
		{"state:GONE", nil, codes.InvalidArgument},
	}
	for _, tt := range lists {
		t.Run("list "+tt.filter, func(t *testing.T) {
			var got []string
			it := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: parent, Filter: tt.filter, PageSize: 1})
			for {
				v, err := it.Next()
				if err == iterator.Done {
					break
				}
				if err != nil {
					wantCode(t, err, tt.code)
					return
				}
				got = append(got, v.Name[len(v.Name)-1:])
			}
			wantCode(t, nil, tt.code)
			if len(got) != len(tt.want) {
				t.Fatalf("versions = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("versions = %v, want %v", got, tt.want)
				}
			}
		})
	}

	t.Run("list missing secret", func(t *testing.T) {
		_, err := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: "projects/p/secrets/nope"}).Next()
		wantCode(t, err, codes.NotFound)
	})
}

func TestHelpers(t *testing.T) {
	fake, c, clk := start(t)
	ctx := context.Background()
	fake.SeedSecret("123", "anthropic-api-key", []byte("a"), []byte("b"))
	vs := fake.Versions("projects/123/secrets/anthropic-api-key")
	if len(vs) != 2 || vs[0].Name != "projects/123/secrets/anthropic-api-key/versions/1" {
		t.Fatalf("Versions = %v", vs)
	}
	old := clk.Now().Add(-100 * 24 * time.Hour)
	fake.SetVersionCreateTime(vs[1].Name, old)
	v, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: vs[1].Name})
	if err != nil {
		t.Fatal(err)
	}
	if !v.CreateTime.AsTime().Equal(old) {
		t.Errorf("create_time = %v, want %v", v.CreateTime.AsTime(), old)
	}
	// Listing is by create time, newest first: version 1 is now the newer.
	first, err := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: "projects/123/secrets/anthropic-api-key"}).Next()
	if err != nil || first.Name != vs[0].Name {
		t.Errorf("first listed = %v, %v; want %s", first, err, vs[0].Name)
	}
	// Mutating a returned copy must not change the store.
	vs[0].State = secretmanagerpb.SecretVersion_DESTROYED
	if fake.Versions("projects/123/secrets/anthropic-api-key")[0].State != secretmanagerpb.SecretVersion_ENABLED {
		t.Error("Versions returned the stored message, not a copy")
	}
}

func TestDelayedDestroy(t *testing.T) {
	fake, c, clk := start(t)
	ctx := context.Background()
	fake.SeedSecret("p", "k", []byte("x"))
	if _, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
		Secret:     &secretmanagerpb.Secret{Name: "projects/p/secrets/k", VersionDestroyTtl: durationpb.New(24 * time.Hour)},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"version_destroy_ttl"}},
	}); err != nil {
		t.Fatal(err)
	}
	v, err := c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: "projects/p/secrets/k/versions/1"})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != secretmanagerpb.SecretVersion_DISABLED || v.ScheduledDestroyTime == nil {
		t.Fatalf("version = %v, want DISABLED with a scheduled destroy time", v)
	}
	clk.Advance(25 * time.Hour)
	v, err = c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: v.Name})
	if err != nil {
		t.Fatal(err)
	}
	if v.State != secretmanagerpb.SecretVersion_DESTROYED {
		t.Errorf("state after ttl = %v, want DESTROYED", v.State)
	}
}
