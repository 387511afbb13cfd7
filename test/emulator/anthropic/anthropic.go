// Package anthropic is an emulated Anthropic Admin API: the API keys
// endpoints (list, get, update) that coopguard's revoke-key action calls,
// and the usage and cost reports its cost watch reads (reports.go),
// served over real HTTP on loopback. It follows the public API reference
// (test/emulator/FIDELITY.md, section "Anthropic Admin API"), not
// coopguard's code, and calls the emulated GCP's fault injector at the
// start of every request, so tests can slow requests down, make them fail
// (5xx, 429) or hang, and count them.
//
// The Admin API cannot create API keys (the Console does); CreateKey
// stands in for the Console.
package anthropic

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cloudcoop/coopguard/test/emulator/faults"
)

// Fault-injection and counting names of the three methods.
const (
	MethodList   = "anthropic.api_keys.list"
	MethodGet    = "anthropic.api_keys.get"
	MethodUpdate = "anthropic.api_keys.update"
)

// Key statuses as the reference names them.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
	StatusArchived = "archived"
	StatusExpired  = "expired"
)

// Version is the anthropic-version the emulator accepts.
const Version = "2023-06-01"

// maxBody bounds an update request's body.
const maxBody = 64 << 10

// Key is an API key as the Admin API describes it (never its secret).
type Key struct {
	Type           string    `json:"type"`
	ID             string    `json:"id"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      Actor     `json:"created_by"`
	Name           string    `json:"name"`
	PartialKeyHint string    `json:"partial_key_hint"`
	Status         string    `json:"status"`
	WorkspaceID    *string   `json:"workspace_id"`
}

// Actor is who created a key.
type Actor struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// Server is the emulated Admin API of one organisation. It is safe for
// concurrent use.
type Server struct {
	inj *faults.Injector
	now func() time.Time

	mu     sync.Mutex
	admins map[string]bool
	keys   []*Key // in creation order
	// revocations counts updates that took a key from active to inactive.
	revocations map[string]int
	// usage is the recorded Messages API use the reports show.
	usage []usageRecord
}

// New returns an organisation with no keys. inj counts requests and
// injects faults; now is the clock.
func New(inj *faults.Injector, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{inj: inj, now: now, admins: map[string]bool{}, revocations: map[string]int{}}
}

// AddAdminKey mints an Admin API key ("sk-ant-admin01-…") that the API
// accepts from now on, and returns it.
func (s *Server) AddAdminKey() string {
	k := "sk-ant-admin01-" + randomString(64)
	s.AcceptAdminKey(k)
	return k
}

// AcceptAdminKey makes the API accept key as an Admin API key (tests
// that look for a known value in what coopguard wrote).
func (s *Server) AcceptAdminKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admins[key] = true
}

// RevokeAdminKey makes the API refuse key from now on.
func (s *Server) RevokeAdminKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.admins, key)
}

// CreateKey stands in for the Console: it creates an active API key named
// name in workspaceID ("" for the default workspace) and returns its id and
// secret value.
func (s *Server) CreateKey(name, workspaceID string) (id, secret string) {
	secret = "sk-ant-api03-" + randomString(86) + "AA"
	k := &Key{Type: "api_key", ID: "apikey_01" + randomString(22), CreatedAt: s.now().UTC(),
		CreatedBy: Actor{ID: "user_01" + randomString(22), Type: "user"}, Name: name,
		PartialKeyHint: secret[:16] + "..." + secret[len(secret)-4:], Status: StatusActive}
	if workspaceID != "" {
		k.WorkspaceID = &workspaceID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, k)
	return k.ID, secret
}

// SetStatus sets a key's status directly (the Console; or time for
// expired).
func (s *Server) SetStatus(id, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.find(id)
	if k == nil {
		return false
	}
	k.Status = status
	return true
}

// Key returns a copy of the key with id.
func (s *Server) Key(id string) (Key, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.find(id)
	if k == nil {
		return Key{}, false
	}
	return *k, true
}

// Revocations returns how many updates took key id from active to
// inactive.
func (s *Server) Revocations(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revocations[id]
}

func (s *Server) find(id string) *Key {
	for _, k := range s.keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

const prefix = "/v1/organizations/api_keys"

// ServeHTTP serves the API keys endpoints.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method, id := route(r)
	if method == "" {
		writeError(w, http.StatusNotFound, "not_found_error", "Not found")
		return
	}
	var body []byte
	if r.Method == http.MethodPost {
		// Read the body first: only then does the server notice a client
		// that gives up, which ends an injected hang.
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "could not read the request body")
			return
		}
		if len(b) > maxBody {
			writeError(w, http.StatusRequestEntityTooLarge, "request_too_large", "Request exceeds the maximum allowed number of bytes.")
			return
		}
		body = b
	}
	if f := s.inj.Before(r.Context(), method, method == MethodUpdate); f.Code != codes.OK {
		status, typ := faultStatus(f.Code)
		msg := f.Message
		if msg == "" {
			msg = "injected fault: " + f.Code.String()
		}
		writeError(w, status, typ, msg)
		return
	}
	if !s.admin(r.Header.Get("x-api-key")) {
		writeError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return
	}
	if r.Header.Get("anthropic-version") == "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return
	}
	switch method {
	case MethodList:
		s.list(w, r)
	case MethodGet:
		s.get(w, id)
	case MethodUpdate:
		s.update(w, id, body)
	case MethodUsageReport:
		s.usageReport(w, r)
	case MethodCostReport:
		s.costReport(w, r)
	}
}

// route maps a request to its method and key id ("" method: no route).
func route(r *http.Request) (method, id string) {
	switch {
	case r.URL.Path == prefix && r.Method == http.MethodGet:
		return MethodList, ""
	case r.URL.Path == usagePath && r.Method == http.MethodGet:
		return MethodUsageReport, ""
	case r.URL.Path == costPath && r.Method == http.MethodGet:
		return MethodCostReport, ""
	case strings.HasPrefix(r.URL.Path, prefix+"/"):
		id = strings.TrimPrefix(r.URL.Path, prefix+"/")
		if id == "" || strings.Contains(id, "/") {
			return "", ""
		}
		switch r.Method {
		case http.MethodGet:
			return MethodGet, id
		case http.MethodPost:
			return MethodUpdate, id
		}
	}
	return "", ""
}

func (s *Server) admin(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return key != "" && s.admins[key]
}

// listResponse is a page of keys.
type listResponse struct {
	Data    []Key   `json:"data"`
	HasMore bool    `json:"has_more"`
	FirstID *string `json:"first_id"`
	LastID  *string `json:"last_id"`
}

var statuses = []string{StatusActive, StatusInactive, StatusArchived, StatusExpired}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "limit: must be an integer from 1 to 1000")
			return
		}
		limit = n
	}
	after, before := q.Get("after_id"), q.Get("before_id")
	if after != "" && before != "" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "after_id and before_id cannot both be set")
		return
	}
	st := q.Get("status")
	if st != "" && !slices.Contains(statuses, st) {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "status: must be one of active, inactive, archived, expired")
		return
	}
	ws, creator := q.Get("workspace_id"), q.Get("created_by_user_id")
	s.mu.Lock()
	var all []Key
	for i := len(s.keys) - 1; i >= 0; i-- { // newest first
		k := s.keys[i]
		if (st == "" || k.Status == st) && (ws == "" || (k.WorkspaceID != nil && *k.WorkspaceID == ws)) && (creator == "" || k.CreatedBy.ID == creator) {
			all = append(all, *k)
		}
	}
	s.mu.Unlock()
	var start, end int
	switch {
	case after != "":
		i := slices.IndexFunc(all, func(k Key) bool { return k.ID == after })
		if i < 0 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "after_id: no such object in this listing")
			return
		}
		start, end = i+1, min(i+1+limit, len(all))
	case before != "":
		i := slices.IndexFunc(all, func(k Key) bool { return k.ID == before })
		if i < 0 {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "before_id: no such object in this listing")
			return
		}
		start, end = max(0, i-limit), i
	default:
		end = min(limit, len(all))
	}
	page := all[start:end]
	resp := listResponse{Data: page}
	if page == nil {
		resp.Data = []Key{}
	}
	if before != "" {
		resp.HasMore = start > 0
	} else {
		resp.HasMore = end < len(all)
	}
	if len(page) > 0 {
		first, last := page[0].ID, page[len(page)-1].ID
		resp.FirstID, resp.LastID = &first, &last
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) get(w http.ResponseWriter, id string) {
	k, ok := s.Key(id)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found_error", "API key not found")
		return
	}
	writeJSON(w, http.StatusOK, k)
}

func (s *Server) update(w http.ResponseWriter, id string, body []byte) {
	var req struct {
		Name   *string `json:"name"`
		Status *string `json:"status"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "the body must be a JSON object with name and/or status")
		return
	}
	if req.Name != nil && (len(*req.Name) < 1 || len(*req.Name) > 500) {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "name: must be 1 to 500 characters")
		return
	}
	if req.Status != nil && !slices.Contains([]string{StatusActive, StatusInactive, StatusArchived}, *req.Status) {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "status: must be one of active, inactive, archived")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.find(id)
	if k == nil {
		writeError(w, http.StatusNotFound, "not_found_error", "API key not found")
		return
	}
	if req.Status != nil && *req.Status != k.Status && (k.Status == StatusArchived || k.Status == StatusExpired) {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "status: an "+k.Status+" API key cannot change status")
		return
	}
	if req.Name != nil {
		k.Name = *req.Name
	}
	if req.Status != nil {
		if k.Status == StatusActive && *req.Status == StatusInactive {
			s.revocations[id]++
		}
		k.Status = *req.Status
	}
	writeJSON(w, http.StatusOK, *k)
}

// faultStatus maps an injected gRPC code to the API's status and error
// type.
func faultStatus(c codes.Code) (int, string) {
	switch c {
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest, "invalid_request_error"
	case codes.Unauthenticated:
		return http.StatusUnauthorized, "authentication_error"
	case codes.PermissionDenied:
		return http.StatusForbidden, "permission_error"
	case codes.NotFound:
		return http.StatusNotFound, "not_found_error"
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests, "rate_limit_error"
	case codes.DeadlineExceeded, codes.Canceled:
		return http.StatusGatewayTimeout, "timeout_error"
	case codes.Unavailable:
		return 529, "overloaded_error"
	}
	return http.StatusInternalServerError, "api_error"
}

// errorBody is the API's error shape.
type errorBody struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

func writeError(w http.ResponseWriter, status int, typ, msg string) {
	var b errorBody
	b.Type, b.Error.Type, b.Error.Message = "error", typ, msg
	b.RequestID = "req_011" + randomString(21)
	w.Header().Set("request-id", b.RequestID)
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if w.Header().Get("request-id") == "" {
		w.Header().Set("request-id", "req_011"+randomString(21))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
