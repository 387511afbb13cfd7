// Package iamadmin is an in-process fake of the IAM API's service accounts
// and their keys (google.iam.admin.v1.IAM) for tests, attack drills and
// the embedded emulated GCP of `coopguard serve`: create, get and list
// service accounts, create, list and delete their keys. The official
// client (cloud.google.com/go/iam/admin/apiv1) talks to it over real gRPC.
//
// It follows the API reference: account ids of 6 to 30 characters, emails
// <id>@<project>.iam.gserviceaccount.com, names by email or unique id with
// "-" for the project, numeric unique ids, 40-hex key ids, a new key's
// private key returned once (a Google credentials file) and never stored
// or logged. System-managed keys are not modelled: listings show user-
// managed keys only.
package iamadmin

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/iam/admin/apiv1/adminpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudcoop/coopguard/test/emulator/paging"
)

// accountIDRE is the account_id syntax of CreateServiceAccountRequest.
var accountIDRE = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])$`)

// pageLimits: ListServiceAccounts defaults to 20 and allows up to 100.
var pageLimits = paging.Limits{Default: 20, Max: 100}

// keyValidBefore is the end of a user-managed key's validity: such keys
// do not expire unless an organization policy says so.
var keyValidBefore = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// Server is the fake IAM service. Create it with New; it is safe for
// concurrent use.
type Server struct {
	adminpb.UnimplementedIAMServer

	now func() time.Time

	mu sync.Mutex
	// accounts is keyed by email.
	accounts map[string]*adminpb.ServiceAccount
	// keys is keyed by email, then by key id; private key data is never kept.
	keys map[string]map[string]*adminpb.ServiceAccountKey
	// roles answers GetRole; policies hold the accounts' allow policies.
	roles    RoleSource
	policies PolicyStore
	// roleWriter defines the roles CreateRole creates (createrole.go).
	roleWriter RoleWriter
}

// New returns a Server without accounts. now is the clock for key validity
// times; nil means time.Now.
func New(now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{now: now, accounts: map[string]*adminpb.ServiceAccount{}, keys: map[string]map[string]*adminpb.ServiceAccountKey{}}
}

// Register registers the IAM service on g, which may carry other fakes
// too, so one listener serves the whole emulated GCP.
func (s *Server) Register(g *grpc.Server) {
	adminpb.RegisterIAMServer(g, s)
}

// CreateServiceAccount creates <account_id>@<project>.iam.gserviceaccount.com.
func (s *Server) CreateServiceAccount(_ context.Context, req *adminpb.CreateServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	project, ok := strings.CutPrefix(req.GetName(), "projects/")
	if !ok || project == "" || project == "-" || strings.Contains(project, "/") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: name %q is not of the form projects/{PROJECT_ID}.", req.GetName())
	}
	id := req.GetAccountId()
	if len(id) < 6 || len(id) > 30 || !accountIDRE.MatchString(id) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid account_id %q: 6 to 30 lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen.", id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.create(project, id, req.GetServiceAccount())
}

// create stores a new account. Callers hold s.mu.
func (s *Server) create(project, id string, in *adminpb.ServiceAccount) (*adminpb.ServiceAccount, error) {
	email := id + "@" + project + ".iam.gserviceaccount.com"
	if _, ok := s.accounts[email]; ok {
		return nil, status.Errorf(codes.AlreadyExists, "Service account %s already exists within project projects/%s.", id, project)
	}
	uid := uniqueID(email)
	sa := &adminpb.ServiceAccount{
		Name:           "projects/" + project + "/serviceAccounts/" + email,
		ProjectId:      project,
		UniqueId:       uid,
		Email:          email,
		DisplayName:    in.GetDisplayName(),
		Description:    in.GetDescription(),
		Oauth2ClientId: uid,
	}
	s.accounts[email] = sa
	s.keys[email] = map[string]*adminpb.ServiceAccountKey{}
	return withEtag(sa), nil
}

// withEtag is a copy of sa as the service answers it, with an etag (a
// hash of its content): real answers carry one (Config Connector's
// recorded create and get of a service account).
func withEtag(sa *adminpb.ServiceAccount) *adminpb.ServiceAccount {
	c := proto.Clone(sa).(*adminpb.ServiceAccount)
	//lint:ignore SA1019 deprecated in the proto, yet every real answer carries it
	c.Etag = contentEtag(c)
	return c
}

// uniqueID is a stable 21-digit numeric id for an email.
func uniqueID(email string) string {
	h := sha256.Sum256([]byte(email))
	n := new(big.Int).SetBytes(h[:])
	n.Mod(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil))
	return fmt.Sprintf("1%020d", n)
}

// SeedServiceAccount creates project's account id (as CreateServiceAccount
// would, bypassing faults and IAM) and returns its email, so tests and
// drills start from the sandbox's own account. It panics on a bad id, a
// mistake in the test itself; an existing account is returned as is.
func (s *Server) SeedServiceAccount(project, id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	email := id + "@" + project + ".iam.gserviceaccount.com"
	if _, ok := s.accounts[email]; ok {
		return email
	}
	if _, err := s.create(project, id, &adminpb.ServiceAccount{}); err != nil {
		panic(fmt.Sprintf("iamadmin.SeedServiceAccount: %v", err))
	}
	return email
}

// account resolves projects/{P|-}/serviceAccounts/{email|unique id}.
// Callers hold s.mu.
func (s *Server) account(name string) (*adminpb.ServiceAccount, error) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "serviceAccounts" || parts[3] == "" {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %q is not of the form projects/{PROJECT_ID}/serviceAccounts/{ACCOUNT}.", name)
	}
	sa, ok := s.accounts[parts[3]]
	if !ok {
		for _, a := range s.accounts {
			if a.GetUniqueId() == parts[3] {
				sa, ok = a, true
			}
		}
	}
	if !ok || (parts[1] != "-" && parts[1] != sa.GetProjectId()) {
		return nil, status.Errorf(codes.NotFound, "Unknown service account %s.", parts[3])
	}
	return sa, nil
}

// GetServiceAccount returns an account by email or unique id.
func (s *Server) GetServiceAccount(_ context.Context, req *adminpb.GetServiceAccountRequest) (*adminpb.ServiceAccount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sa, err := s.account(req.GetName())
	if err != nil {
		return nil, err
	}
	return withEtag(sa), nil
}

// ListServiceAccounts lists a project's accounts in email order, paged.
func (s *Server) ListServiceAccounts(_ context.Context, req *adminpb.ListServiceAccountsRequest) (*adminpb.ListServiceAccountsResponse, error) {
	project, ok := strings.CutPrefix(req.GetName(), "projects/")
	if !ok || project == "" || strings.Contains(project, "/") {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: name %q is not of the form projects/{PROJECT_ID}.", req.GetName())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*adminpb.ServiceAccount
	for _, sa := range s.accounts {
		if sa.GetProjectId() == project {
			all = append(all, sa)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].GetEmail() < all[j].GetEmail() })
	got, next, err := paging.Page(pageLimits, all, req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	resp := &adminpb.ListServiceAccountsResponse{NextPageToken: next}
	for _, sa := range got {
		resp.Accounts = append(resp.Accounts, withEtag(sa))
	}
	return resp, nil
}

// DeleteServiceAccount deletes an account and its keys.
func (s *Server) DeleteServiceAccount(_ context.Context, req *adminpb.DeleteServiceAccountRequest) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sa, err := s.account(req.GetName())
	if err != nil {
		return nil, err
	}
	delete(s.accounts, sa.GetEmail())
	delete(s.keys, sa.GetEmail())
	return &emptypb.Empty{}, nil
}

// CreateServiceAccountKey makes a user-managed RSA key and returns its
// private key once, as a Google credentials file; only the key's metadata
// is kept.
func (s *Server) CreateServiceAccountKey(_ context.Context, req *adminpb.CreateServiceAccountKeyRequest) (*adminpb.ServiceAccountKey, error) {
	typ := req.GetPrivateKeyType()
	if typ == adminpb.ServiceAccountPrivateKeyType_TYPE_UNSPECIFIED {
		typ = adminpb.ServiceAccountPrivateKeyType_TYPE_GOOGLE_CREDENTIALS_FILE
	}
	if typ != adminpb.ServiceAccountPrivateKeyType_TYPE_GOOGLE_CREDENTIALS_FILE {
		return nil, status.Errorf(codes.InvalidArgument, "private_key_type %s is not supported by the emulated IAM: use TYPE_GOOGLE_CREDENTIALS_FILE.", typ)
	}
	alg := req.GetKeyAlgorithm()
	if alg == adminpb.ServiceAccountKeyAlgorithm_KEY_ALG_UNSPECIFIED {
		alg = adminpb.ServiceAccountKeyAlgorithm_KEY_ALG_RSA_2048
	}
	if alg != adminpb.ServiceAccountKeyAlgorithm_KEY_ALG_RSA_2048 {
		return nil, status.Errorf(codes.InvalidArgument, "key_algorithm %s is not supported by the emulated IAM: use KEY_ALG_RSA_2048.", alg)
	}
	s.mu.Lock()
	sa, err := s.account(req.GetName())
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// Generated outside the lock: RSA key generation takes a while.
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "generate a key: %v", err)
	}
	idBytes := make([]byte, 20)
	_, _ = rand.Read(idBytes)
	keyID := hex.EncodeToString(idBytes)
	file, err := credentialsFile(sa, keyID, priv)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode the key: %v", err)
	}
	meta := &adminpb.ServiceAccountKey{
		Name:            sa.GetName() + "/keys/" + keyID,
		PrivateKeyType:  typ,
		KeyAlgorithm:    alg,
		ValidAfterTime:  timestamppb.New(s.now()),
		ValidBeforeTime: timestamppb.New(keyValidBefore),
		KeyOrigin:       adminpb.ServiceAccountKeyOrigin_GOOGLE_PROVIDED,
		KeyType:         adminpb.ListServiceAccountKeysRequest_USER_MANAGED,
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys, ok := s.keys[sa.GetEmail()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Unknown service account %s.", sa.GetEmail())
	}
	keys[keyID] = meta
	out := proto.Clone(meta).(*adminpb.ServiceAccountKey)
	out.PrivateKeyData = file
	return out, nil
}

// credentialsFile is the JSON key file a new key's private_key_data holds.
func credentialsFile(sa *adminpb.ServiceAccount, keyID string, priv *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]string{
		"type":                        "service_account",
		"project_id":                  sa.GetProjectId(),
		"private_key_id":              keyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                sa.GetEmail(),
		"client_id":                   sa.GetUniqueId(),
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   "https://oauth2.googleapis.com/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + sa.GetEmail(),
	})
}

// ListServiceAccountKeys lists an account's user-managed keys, without
// private key data.
func (s *Server) ListServiceAccountKeys(_ context.Context, req *adminpb.ListServiceAccountKeysRequest) (*adminpb.ListServiceAccountKeysResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sa, err := s.account(req.GetName())
	if err != nil {
		return nil, err
	}
	wantUser := len(req.GetKeyTypes()) == 0
	for _, t := range req.GetKeyTypes() {
		if t == adminpb.ListServiceAccountKeysRequest_USER_MANAGED {
			wantUser = true
		}
	}
	resp := &adminpb.ListServiceAccountKeysResponse{}
	if !wantUser {
		return resp, nil
	}
	for _, k := range s.keys[sa.GetEmail()] {
		resp.Keys = append(resp.Keys, proto.Clone(k).(*adminpb.ServiceAccountKey))
	}
	sort.Slice(resp.Keys, func(i, j int) bool { return resp.Keys[i].GetName() < resp.Keys[j].GetName() })
	return resp, nil
}

// DeleteServiceAccountKey deletes one key for good.
func (s *Server) DeleteServiceAccountKey(_ context.Context, req *adminpb.DeleteServiceAccountKeyRequest) (*emptypb.Empty, error) {
	i := strings.LastIndex(req.GetName(), "/keys/")
	if i < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid resource field value in the request: %q is not of the form projects/{PROJECT_ID}/serviceAccounts/{ACCOUNT}/keys/{KEY}.", req.GetName())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sa, err := s.account(req.GetName()[:i])
	if err != nil {
		return nil, err
	}
	keyID := req.GetName()[i+len("/keys/"):]
	if _, ok := s.keys[sa.GetEmail()][keyID]; !ok {
		return nil, status.Errorf(codes.NotFound, "Service account key %s does not exist.", keyID)
	}
	delete(s.keys[sa.GetEmail()], keyID)
	return &emptypb.Empty{}, nil
}

// DisableServiceAccount disables an account at once: GCP then rejects its
// existing access tokens and refuses it new ones (Disabled answers the
// gate). Disabling a disabled account changes nothing.
func (s *Server) DisableServiceAccount(_ context.Context, req *adminpb.DisableServiceAccountRequest) (*emptypb.Empty, error) {
	return s.setDisabled(req.GetName(), true)
}

// EnableServiceAccount enables a disabled account: its existing tokens
// are accepted again. Enabling an enabled account changes nothing.
func (s *Server) EnableServiceAccount(_ context.Context, req *adminpb.EnableServiceAccountRequest) (*emptypb.Empty, error) {
	return s.setDisabled(req.GetName(), false)
}

func (s *Server) setDisabled(name string, disabled bool) (*emptypb.Empty, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sa, err := s.account(name)
	if err != nil {
		return nil, err
	}
	sa.Disabled = disabled
	return &emptypb.Empty{}, nil
}

// Disabled reports whether email is a disabled account of the emulated
// IAM: the gate refuses its tokens. An account the fake does not hold
// (coopguard's own, a service agent) is never disabled.
func (s *Server) Disabled(email string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sa, ok := s.accounts[email]
	return ok && sa.GetDisabled()
}

// Keys returns copies of an account's keys (by email), for tests and
// drills to see what a compromised agent minted.
func (s *Server) Keys(email string) []*adminpb.ServiceAccountKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*adminpb.ServiceAccountKey
	for _, k := range s.keys[email] {
		out = append(out, proto.Clone(k).(*adminpb.ServiceAccountKey))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}
