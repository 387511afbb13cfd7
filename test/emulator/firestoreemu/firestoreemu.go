// Package firestoreemu runs the real Cloud Firestore emulator shipped with
// the Google Cloud CLI (Debian package google-cloud-cli-firestore-emulator)
// on a free loopback port. Tests share one per test binary (Shared), since
// the emulator is Java and slow to start, and isolate by project id;
// `coopguard serve` starts its own. Clients reach it the documented way,
// through FIRESTORE_EMULATOR_HOST.
package firestoreemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cloudcoop/coopguard/test/emulator/gcloudsdk"
)

// Package is the Debian package that ships the emulator.
const Package = "google-cloud-cli-firestore-emulator"

// EnvHost is the variable the official client reads to use the emulator.
const EnvHost = "FIRESTORE_EMULATOR_HOST"

// ErrMissing is returned when the emulator or Java is not installed.
var ErrMissing = errors.New("the Firestore emulator is not installed: apt-get install " + Package + " (it needs Java 17+: openjdk-17-jre-headless)")

// StartTimeout bounds how long Start waits for the emulator to answer.
const StartTimeout = 90 * time.Second

// Emulator is a running Firestore emulator. Stop ends it.
type Emulator struct {
	// Host is its host:port, the value of FIRESTORE_EMULATOR_HOST.
	Host string

	cmd    *exec.Cmd
	exited chan struct{}
	out    *tail
	once   sync.Once
}

// Dir returns the emulator's directory under the Google Cloud CLI's SDK
// root (platform/cloud-firestore-emulator), found from the gcloud on PATH
// (which the Debian package links from the SDK root's bin/) or, failing
// that, the Debian package's location.
func Dir() string { return gcloudsdk.Platform("cloud-firestore-emulator") }

// Start runs the emulator on 127.0.0.1 at a free port and returns once it
// answers HTTP, or an error carrying the end of its output. progress, if
// not nil, gets the emulator's own output.
func Start(ctx context.Context, progress io.Writer) (*Emulator, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("%w (java: %v)", ErrMissing, err)
	}
	// The SDK's launcher script runs java as its child; running the same
	// jar and class directly lets Pdeathsig reach java itself, so a test
	// binary that dies leaves no emulator behind.
	jar := filepath.Join(Dir(), "cloud-firestore-emulator.jar")
	if _, err := os.Stat(jar); err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrMissing, err)
	}
	// A free port can be taken by another process between our probe and
	// the emulator's bind (test binaries start their emulators at once):
	// a bind failure is retried on a fresh port.
	opts := classCache(ctx, java, jar)
	for attempt := 0; attempt < 3; attempt++ {
		var e *Emulator
		e, err = start(ctx, java, jar, opts, progress)
		if err == nil {
			return e, nil
		}
		if !strings.Contains(err.Error(), "Address already in use") {
			break
		}
	}
	return nil, err
}

// start runs one emulator process on a free port, with the extra JVM
// options opts, and waits until it serves.
func start(ctx context.Context, java, jar string, opts []string, progress io.Writer) (*Emulator, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	e := &Emulator{Host: "127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{}), out: &tail{max: 4096}}
	var w io.Writer = e.out
	if progress != nil {
		w = io.MultiWriter(e.out, progress)
	}
	// C1 only (-XX:TieredStopAtLevel=1): the optimising compiler's
	// threads cost more CPU than they win back over a test binary's
	// life; a start and the shared/store tests take about half the CPU.
	args := append([]string{"-XX:TieredStopAtLevel=1", "-Duser.language=en"}, opts...)
	args = append(args, "-cp", jar, "com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
		"--host=127.0.0.1", "--port="+strconv.Itoa(port))
	e.cmd = exec.Command(java, args...)
	e.cmd.Stdout, e.cmd.Stderr = w, w
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := e.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the Firestore emulator (%s): %w", jar, err)
	}
	go func() { _ = e.cmd.Wait(); close(e.exited) }()
	if err := e.waitReady(ctx, StartTimeout); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

// warm reads one (absent) document: the emulator answers "/" long before
// it serves documents, and initialises its store on the first document
// request, which then takes seconds. Start returns an emulator that
// answers its first real request at its usual speed.
func (e *Emulator) warm(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.Host+"/v1/projects/coopguard-warm-up/databases/(default)/documents/warm-up/warm-up", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the Firestore emulator on %s did not answer its first document read: %w:\n%s", e.Host, err, e.out.String())
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("the Firestore emulator on %s answered its first document read with HTTP %s:\n%s", e.Host, resp.Status, e.out.String())
	}
	return nil
}

// waitReady polls the emulator's HTTP root (it answers "Ok" once serving)
// until it answers, the process exits or the deadline passes, then warms
// it.
func (e *Emulator) waitReady(ctx context.Context, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.Host+"/", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e.warm(ctx)
			}
			err = fmt.Errorf("HTTP %s", resp.Status)
		}
		select {
		case <-e.exited:
			return fmt.Errorf("the Firestore emulator exited before serving on %s:\n%s", e.Host, e.out.String())
		case <-ctx.Done():
			return fmt.Errorf("the Firestore emulator did not answer on %s within %s (last: %v):\n%s", e.Host, within, err, e.out.String())
		case <-tick.C:
		}
	}
}

// Stop ends the emulator: SIGTERM, then SIGKILL to its process group if it
// has not exited within 10 s. It is safe to call more than once.
func (e *Emulator) Stop() {
	e.once.Do(func() {
		pid := e.cmd.Process.Pid
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-e.exited:
			return
		case <-time.After(10 * time.Second):
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-e.exited
	})
}

// Output returns the end of the emulator's output (for failure messages).
func (e *Emulator) Output() string { return e.out.String() }

var (
	sharedOnce sync.Once
	shared     *Emulator
	sharedErr  error
)

// Shared starts one emulator for the whole process the first time it is
// called and points FIRESTORE_EMULATOR_HOST at it; later calls return the
// same one. Tests isolate from each other by project id. StopShared (from
// TestMain) ends it; a process that exits without calling it takes the
// emulator with it (Pdeathsig).
func Shared() (*Emulator, error) {
	sharedOnce.Do(func() {
		shared, sharedErr = Start(context.Background(), nil)
		if sharedErr == nil {
			sharedErr = os.Setenv(EnvHost, shared.Host)
		}
	})
	return shared, sharedErr
}

// StopShared stops the emulator Shared started, if any.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port for the Firestore emulator: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
