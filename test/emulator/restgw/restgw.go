// Package restgw serves the REST (JSON over HTTP) form of gRPC fakes, as
// Google's front ends transcode REST calls to the same RPCs
// (https://cloud.google.com/apis/design/standard_methods): gcloud speaks
// REST to Cloud Logging. Each call is forwarded over gRPC with the
// caller's Authorization header, so identity, IAM and audit logging apply
// exactly as to a gRPC client.
package restgw

import (
	"context"
	"io"
	"net/http"
	"strings"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	_ "google.golang.org/genproto/googleapis/cloud/audit" // AuditLog payloads in JSON

	"github.com/cloudcoop/coopguard/test/emulator/googleerr"
)

// route is one REST method: a fresh request message and the RPC to call.
type route struct {
	newReq func() proto.Message
	call   func(ctx context.Context, conn *grpc.ClientConn, req proto.Message) (proto.Message, error)
}

// Gateway is an http.Handler over a gRPC address.
type Gateway struct {
	conn   *grpc.ClientConn
	routes map[string]route
}

// New dials the gRPC fakes at addr.
func New(addr string) (*Gateway, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	g := &Gateway{conn: conn, routes: map[string]route{
		// https://cloud.google.com/logging/docs/reference/v2/rest/v2/entries/list
		"POST /v2/entries:list": {
			newReq: func() proto.Message { return &loggingpb.ListLogEntriesRequest{} },
			call: func(ctx context.Context, c *grpc.ClientConn, req proto.Message) (proto.Message, error) {
				return loggingpb.NewLoggingServiceV2Client(c).ListLogEntries(ctx, req.(*loggingpb.ListLogEntriesRequest))
			},
		},
		// https://cloud.google.com/logging/docs/reference/v2/rest/v2/entries/write
		"POST /v2/entries:write": {
			newReq: func() proto.Message { return &loggingpb.WriteLogEntriesRequest{} },
			call: func(ctx context.Context, c *grpc.ClientConn, req proto.Message) (proto.Message, error) {
				return loggingpb.NewLoggingServiceV2Client(c).WriteLogEntries(ctx, req.(*loggingpb.WriteLogEntriesRequest))
			},
		},
	}}
	return g, nil
}

// Close releases the gRPC connection.
func (g *Gateway) Close() error { return g.conn.Close() }

// ServeHTTP transcodes one REST call.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := g.routes[r.Method+" "+r.URL.Path]
	if !ok {
		googleerr.Write(w, http.StatusNotFound, "notFound", "The requested URL "+r.URL.Path+" was not found on this server.")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		googleerr.Write(w, http.StatusBadRequest, "badRequest", "could not read the request body: "+err.Error())
		return
	}
	req := rt.newReq()
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := (protojson.UnmarshalOptions{}).Unmarshal(body, req); err != nil {
			googleerr.Write(w, http.StatusBadRequest, "badRequest", "Invalid JSON payload received. "+err.Error())
			return
		}
	}
	ctx := r.Context()
	if a := r.Header.Get("Authorization"); a != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", a)
	}
	resp, err := rt.call(ctx, g.conn, req)
	if err != nil {
		st := status.Convert(err)
		googleerr.Write(w, googleerr.HTTPStatus(st.Code()), "", st.Message())
		return
	}
	out, err := protojson.Marshal(resp)
	if err != nil {
		googleerr.Write(w, http.StatusInternalServerError, "backendError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_, _ = w.Write(out)
}
