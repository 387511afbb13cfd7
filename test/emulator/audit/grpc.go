package audit

import (
	"context"
	"net"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cloudcoop/coopguard/test/emulator/audit/detail"
	"github.com/cloudcoop/coopguard/test/emulator/iam"
)

// UnaryServerInterceptor authenticates, authorises and audits every gRPC
// call before the fake serves it.
func (g *Gate) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		principal, msg, ok := g.authenticate(firstOf(md.Get("authorization")))
		if !ok {
			return nil, status.Error(codes.Unauthenticated, msg)
		}
		row, known := GRPC[info.FullMethod]
		if !known {
			// Only what the fakes do not implement may lack a row: they
			// answer UNIMPLEMENTED, and anything else is refused.
			_, err := handler(ctx, req)
			if status.Code(err) == codes.Unimplemented {
				return nil, err
			}
			return nil, status.Errorf(codes.Internal, "the emulated GCP has no IAM row for %s: add it to test/emulator/audit/table.go", info.FullMethod)
		}
		c := &call{row: row, principal: principal, userAgent: firstOf(md.Get("user-agent")), callerIP: callerIP(ctx)}
		g.origin(c, firstOf(md.Get("authorization")))
		if m, isMsg := req.(proto.Message); isMsg {
			c.resource = resourceOf(m.ProtoReflect(), row)
			for perm, field := range row.PermOn {
				if c.permOn == nil {
					c.permOn = map[string]string{}
				}
				c.permOn[perm] = fieldString(m.ProtoReflect(), field)
			}
		}
		authz, denied := g.authorize(c)
		if denied != nil {
			msg := deniedMessage(denied)
			g.record(ctx, c, authz, statusOf(code.Code_PERMISSION_DENIED, msg))
			return nil, status.Error(codes.PermissionDenied, msg)
		}
		hctx, h := detail.With(iam.WithPrincipal(ctx, principal))
		c.detail = h
		resp, err := handler(hctx, req)
		g.record(ctx, c, authz, status.Convert(err).Proto())
		return resp, err
	}
}

func firstOf(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// callerIP is the address the call came from, as requestMetadata has it.
func callerIP(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return p.Addr.String()
	}
	return host
}

// resourceOf reads the relative resource name from the request fields the
// row names; a create call's new id is appended.
func resourceOf(m protoreflect.Message, row Row) string {
	var res string
	for _, path := range row.Resource {
		if res = fieldString(m, path); res != "" {
			break
		}
	}
	if row.Suffix != "" {
		if id := fieldString(m, row.Suffix); id != "" {
			res += "/" + row.SuffixColl + "/" + id
		}
	}
	return res
}

// fieldString follows a dotted path of proto field names (a number
// indexes a repeated field) to a string value; "" when absent.
func fieldString(m protoreflect.Message, path string) string {
	parts := strings.Split(path, ".")
	var v protoreflect.Value
	var fd protoreflect.FieldDescriptor
	cur := m
	for i := 0; i < len(parts); i++ {
		if cur == nil {
			return ""
		}
		fd = cur.Descriptor().Fields().ByName(protoreflect.Name(parts[i]))
		if fd == nil {
			return ""
		}
		v = cur.Get(fd)
		if fd.IsList() {
			if i+1 >= len(parts) {
				return ""
			}
			n, err := strconv.Atoi(parts[i+1])
			if err != nil || n >= v.List().Len() {
				return ""
			}
			v = v.List().Get(n)
			i++
		}
		if fd.Kind() == protoreflect.MessageKind {
			cur = v.Message()
			continue
		}
		cur = nil
	}
	if fd == nil || fd.Kind() != protoreflect.StringKind {
		return ""
	}
	return v.String()
}
