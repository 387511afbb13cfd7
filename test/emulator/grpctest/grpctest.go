// Package grpctest serves one gRPC fake on loopback for a test and hands
// back the options that connect the official clients to it.
package grpctest

import (
	"net"
	"testing"

	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/cloudcoop/coopguard/shared/gcp"
)

// Serve starts a gRPC server on 127.0.0.1 with the services register adds,
// stops it when the test ends, and returns the client options to reach it.
func Serve(tb testing.TB, register func(*grpc.Server)) []option.ClientOption {
	tb.Helper()
	g := grpc.NewServer()
	register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	tb.Cleanup(g.Stop)
	return gcp.EmulatedGRPC(lis.Addr().String())
}
