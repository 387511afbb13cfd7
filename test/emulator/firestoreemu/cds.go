package firestoreemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// EnvClassCache names a directory where Start keeps a class-data sharing
// archive of the emulator (Java's AppCDS), made once per emulator jar and
// Java: a start that maps the emulator's classes from it takes about 40%
// of the CPU of one that loads and verifies them from the jar, and the
// suite starts one emulator per test binary. Unset, nothing is archived.
// `make test` sets it to bin/firestore-classes.
const EnvClassCache = "COOPGUARD_FIRESTORE_CLASS_CACHE"

// dumpTimeout bounds the archiving run: the JVM writes the archive as it
// exits after SIGTERM, which takes seconds.
const dumpTimeout = 2 * time.Minute

// classCache returns the JVM options that map the emulator's classes from
// the archive in EnvClassCache's directory, making the archive first if
// it is missing. Any failure leaves the emulator to start without one: the
// archive only saves CPU. The JVM itself checks an archive against its
// own version and class path, and ignores one that does not match.
func classCache(ctx context.Context, java, jar string) []string {
	dir := os.Getenv(EnvClassCache)
	if dir == "" {
		return nil
	}
	key, err := archiveKey(java, jar)
	if err != nil {
		return nil
	}
	path := filepath.Join(dir, "firestore-emulator-"+key+".jsa")
	use := []string{"-XX:SharedArchiveFile=" + path}
	if _, err := os.Stat(path); err == nil {
		return use
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil
	}
	// Test binaries start their emulators at once: one makes the archive
	// while the others wait for it, under an exclusive lock.
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if _, err := os.Stat(path); err == nil {
		return use
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	defer os.Remove(tmp)
	if err := dumpArchive(ctx, java, jar, tmp); err != nil {
		return nil
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil
	}
	return use
}

// dumpArchive runs the emulator once with -XX:ArchiveClassesAtExit: it
// starts, serves its first document read (loading what a test's requests
// load) and is stopped with SIGTERM, on which the JVM writes the archive.
func dumpArchive(ctx context.Context, java, jar, to string) error {
	e, err := start(ctx, java, jar, []string{"-XX:ArchiveClassesAtExit=" + to}, nil)
	if err != nil {
		return err
	}
	pid := e.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(dumpTimeout):
		e.Stop()
		return fmt.Errorf("the Firestore emulator did not write its class archive within %s", dumpTimeout)
	}
	if fi, err := os.Stat(to); err != nil || fi.Size() == 0 {
		return fmt.Errorf("the Firestore emulator wrote no class archive to %s: %v", to, err)
	}
	return nil
}

// archiveKey names the archive after what it is only valid for: the
// emulator jar and the Java that loads it (paths, sizes and times).
func archiveKey(java, jar string) (string, error) {
	h := sha256.New()
	for _, p := range []string{java, jar} {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", err
		}
		fi, err := os.Stat(real)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d %d\n", real, fi.Size(), fi.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}
