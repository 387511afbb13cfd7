package firestoreemu

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestStartServeStop starts the real emulator, writes and reads a document
// through the official client, and stops it: the port is closed after.
func TestStartServeStop(t *testing.T) {
	e, err := Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if !strings.HasPrefix(e.Host, "127.0.0.1:") {
		t.Fatalf("Host = %q, want loopback", e.Host)
	}
	ctx := context.Background()
	c, err := firestore.NewClientWithDatabase(ctx, "launcher-test", "coopguard",
		option.WithEndpoint(e.Host), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Collection("probe").Doc("a").Set(ctx, map[string]any{"n": 1}); err != nil {
		t.Fatalf("write through the emulator: %v\n%s", err, e.Output())
	}
	snap, err := c.Collection("probe").Doc("a").Get(ctx)
	if err != nil || snap.Data()["n"] != int64(1) {
		t.Fatalf("read back = %v, %v", snap.Data(), err)
	}
	c.Close()
	t0 := time.Now()
	e.Stop()
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("Stop took %s: the emulator did not end on SIGTERM", d)
	}
	e.Stop() // idempotent
	if conn, err := net.DialTimeout("tcp", e.Host, time.Second); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Stop", e.Host)
	}
}

// TestMissing names the package to install when Java or the emulator is
// not there.
func TestMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Start(context.Background(), nil)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), Package) {
		t.Fatalf("Start without java = %v, want ErrMissing naming %s", err, Package)
	}
}

// TestClassCache: with EnvClassCache set, the first Start makes the class
// archive, named for the jar and Java, and serves; a later Start maps it,
// and a corrupt archive is ignored by the JVM, which still serves.
func TestClassCache(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvClassCache, dir)
	e, err := Start(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Stop()
	archives, _ := filepath.Glob(filepath.Join(dir, "firestore-emulator-*.jsa"))
	if len(archives) != 1 {
		t.Fatalf("archives after the first start: %v, want one", archives)
	}
	if fi, err := os.Stat(archives[0]); err != nil || fi.Size() == 0 {
		t.Fatalf("archive %s: %v", archives[0], err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(leftovers) != 0 {
		t.Errorf("temporary archives left behind: %v", leftovers)
	}
	// A start maps the archive; one the JVM cannot use (corrupt here, or
	// made by another Java) is ignored and the emulator serves.
	if err := os.WriteFile(archives[0], []byte("not an archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	e, err = Start(context.Background(), nil)
	if err != nil {
		t.Fatalf("start with a corrupt archive: %v", err)
	}
	defer e.Stop()
	if !strings.Contains(strings.Join(e.cmd.Args, " "), "-XX:SharedArchiveFile="+archives[0]) {
		t.Errorf("the start does not map %s: %v", archives[0], e.cmd.Args)
	}
}
