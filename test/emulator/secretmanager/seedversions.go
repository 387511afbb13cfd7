package secretmanager

import (
	"context"
	"fmt"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
)

// SeedVersions adds one ENABLED version per payload, in order, to
// projects/<project>/secrets/<id>, creating the secret as SeedSecret does
// when it is missing: for a secret that may exist already, such as a
// credential secret the operator made before deploy (deploy grants on it,
// so it must exist first) and a test now fills. It panics on a bad id.
func (s *Server) SeedVersions(project, id string, payloads ...[]byte) {
	if _, ok := s.Secret("projects/" + project + "/secrets/" + id); !ok {
		s.SeedSecret(project, id, payloads...)
		return
	}
	for _, p := range payloads {
		if _, err := s.AddSecretVersion(context.Background(), &secretmanagerpb.AddSecretVersionRequest{
			Parent: "projects/" + project + "/secrets/" + id, Payload: &secretmanagerpb.SecretPayload{Data: p},
		}); err != nil {
			panic(fmt.Sprintf("secretmanager.SeedVersions: %v", err))
		}
	}
}
