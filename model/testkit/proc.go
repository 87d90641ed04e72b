package testkit

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SyncBuffer collects output (of a process, of a logger) that goroutines
// write while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Env is this process's environment without GATEHOUSE_* settings of the
// machine running the tests, and without proxy settings: the programs a
// test starts talk to each other over loopback, directly.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GATEHOUSE_") || strings.HasSuffix(strings.ToLower(k), "_proxy") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// FreePorts returns n TCP ports, free on every interface a moment ago,
// for a child process to listen on. They are picked at random below the
// kernel's ephemeral range (ip_local_port_range, where the ports of
// outgoing connections and of ":0" listeners come from), so another
// test's connections cannot take them between this check and the child's
// bind, and never twice in one test binary.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("find %d free ports: only %d after %d tries", n, len(ports), tries)
		}
		p := portsLow + rand.IntN(portsHigh-portsLow)
		if portsGiven[p] {
			continue
		}
		ln, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = ln.Close()
		portsGiven[p] = true
		ports = append(ports, p)
	}
	return ports
}

// The range FreePorts picks from: above the well-known and common service
// ports, below Linux's default ephemeral range (32768–60999).
const portsLow, portsHigh = 20000, 32000

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// Proc is a program a test started. It is stopped when the test ends, and
// its output is logged when the test failed.
type Proc struct {
	name string
	cmd  *exec.Cmd
	// Stdout and Stderr are the program's output streams, Output both
	// interleaved.
	Stdout, Stderr, Output SyncBuffer
	exited                 chan struct{}
	err                    error // of Wait, once exited is closed
}

// Start starts bin with args, in Env() plus env; name names it in
// messages.
func Start(t testing.TB, name string, env []string, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{name: name, cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	p.cmd.Env = append(Env(), env...)
	p.cmd.Stdout = io.MultiWriter(&p.Stdout, &p.Output)
	p.cmd.Stderr = io.MultiWriter(&p.Stderr, &p.Output)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.Stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output.String())
		}
	})
	return p
}

// Exited is closed once the program has exited.
func (p *Proc) Exited() <-chan struct{} { return p.exited }

// Running reports whether the program still runs.
func (p *Proc) Running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Err is how the program ended (nil for exit status 0); nil while it runs.
func (p *Proc) Err() error {
	if p.Running() {
		return nil
	}
	return p.err
}

// Stop ends the program with SIGTERM, as an operator or systemd does, and
// waits; after 15 s it kills it and says so. It returns how the program
// ended (nil when it exited with status 0, also when it had ended before).
func (p *Proc) Stop() error {
	if !p.Running() {
		return p.err
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return p.err
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return errors.New(p.name + " did not stop within 15 s of SIGTERM and was killed")
	}
}

// Kill ends the program with SIGKILL, as a power cut or the OOM killer
// would, waits until it is gone, and fails the test unless SIGKILL is what
// ended it.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not die after SIGKILL", p.name)
	}
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%s ended with %v, want killed by SIGKILL", p.name, p.err)
	}
}

// WaitLog waits until the program's output contains want, failing the
// test when the program exits first or timeout passes.
func (p *Proc) WaitLog(t testing.TB, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.Output.String(), want) {
			return
		}
		if !p.Running() {
			t.Fatalf("%s exited (%v) before logging %q", p.name, p.err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not log %q within %v", p.name, want, timeout)
}

// StaleSockets are the leftovers a crashed panel can leave where its
// control socket was: a socket file nobody listens on, or a plain file.
// Each entry plants one at path.
var StaleSockets = []struct {
	Name  string
	Leave func(t testing.TB, path string)
}{
	{"socket without listener", func(t testing.TB, path string) {
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false)
		ln.Close()
	}},
	{"regular file", func(t testing.TB, path string) {
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}},
}
