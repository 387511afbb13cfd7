// Package iamcredentials is an in-process fake of the Service Account
// Credentials API (google.iam.credentials.v1.IAMCredentials) for tests
// and `coopguard serve`: GenerateAccessToken and SignJwt, the calls by
// which a principal acts as a service account
// (https://cloud.google.com/iam/docs/reference/credentials/rest). The
// official client talks to it over a real gRPC connection; the emulator's
// gate checks iam.serviceAccounts.getAccessToken / signJwt on the account
// and writes the ADMIN_READ audit entry GCP writes
// (https://cloud.google.com/iam/docs/audit-logging/audit-logging-iamcreds).
//
// A token it issues is the emulated GCP's token of the account minted by
// the caller (iam.MintedToken), so whoever holds it acts as that account,
// and the calls made with it name the caller in their audit entries'
// delegation info, as on GCP. A signed JWT is opaque: nothing in the
// emulator verifies it.
package iamcredentials

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"cloud.google.com/go/iam/credentials/apiv1/credentialspb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// Lookup resolves a service account by its resource name
// ("projects/-/serviceAccounts/EMAIL"), as the IAM API's GetServiceAccount.
type Lookup func(ctx context.Context, name string) (*adminpb.ServiceAccount, error)

// Server is the fake IAMCredentials service; safe for concurrent use.
type Server struct {
	credentialspb.UnimplementedIAMCredentialsServer

	now    func() time.Time
	lookup Lookup
	token  func(minter, email string) string
}

// New returns a Server. now is the clock for expiry times; lookup finds
// the accounts (the emulated IAM API's); token is the access token minter
// had minted for an account (iam.MintedToken).
func New(now func() time.Time, lookup Lookup, token func(minter, email string) string) *Server {
	return &Server{now: now, lookup: lookup, token: token}
}

// Register registers the service on g.
func (s *Server) Register(g *grpc.Server) {
	credentialspb.RegisterIAMCredentialsServer(g, s)
}

// maxLifetime is the longest token lifetime without the org policy that
// extends it (https://cloud.google.com/iam/docs/reference/credentials/rest/v1/projects.serviceAccounts/generateAccessToken).
const maxLifetime = time.Hour

// GenerateAccessToken returns an access token of the account: its
// lifetime defaults to, and may not exceed, one hour; scopes are required.
func (s *Server) GenerateAccessToken(ctx context.Context, req *credentialspb.GenerateAccessTokenRequest) (*credentialspb.GenerateAccessTokenResponse, error) {
	sa, err := s.account(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if len(req.GetScope()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "Request contains an invalid argument: scope is required.")
	}
	life := maxLifetime
	if l := req.GetLifetime(); l != nil {
		life = l.AsDuration()
	}
	if life <= 0 || life > maxLifetime {
		return nil, status.Errorf(codes.InvalidArgument, "Request contains an invalid argument: lifetime must be between 1s and %s.", maxLifetime)
	}
	caller, ok := iam.PrincipalFrom(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "Request is missing required authentication credential.")
	}
	return &credentialspb.GenerateAccessTokenResponse{AccessToken: s.token(caller, sa.GetEmail()), ExpireTime: timestamppb.New(s.now().Add(life))}, nil
}

// SignJwt signs the payload as the account: an opaque compact JWT whose
// header names the account's (emulated) key.
func (s *Server) SignJwt(ctx context.Context, req *credentialspb.SignJwtRequest) (*credentialspb.SignJwtResponse, error) {
	sa, err := s.account(ctx, req.GetName())
	if err != nil {
		return nil, err
	}
	if req.GetPayload() == "" {
		return nil, status.Error(codes.InvalidArgument, "Request contains an invalid argument: payload is required.")
	}
	keyID := "emulated-" + sa.GetUniqueId()
	enc := base64.RawURLEncoding
	jwt := enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT","kid":"`+keyID+`"}`)) + "." + enc.EncodeToString([]byte(req.GetPayload())) + "." + enc.EncodeToString([]byte("emulated"))
	return &credentialspb.SignJwtResponse{KeyId: keyID, SignedJwt: jwt}, nil
}

// account resolves the account a request names; a disabled account can
// act as no one (the stricter choice where the reference is silent).
func (s *Server) account(ctx context.Context, name string) (*adminpb.ServiceAccount, error) {
	if !strings.HasPrefix(name, "projects/-/serviceAccounts/") {
		return nil, status.Errorf(codes.InvalidArgument, "Request contains an invalid argument: name %q must be projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}.", name)
	}
	sa, err := s.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if sa.GetDisabled() {
		return nil, status.Errorf(codes.FailedPrecondition, "Service account %s is disabled.", sa.GetEmail())
	}
	return sa, nil
}
