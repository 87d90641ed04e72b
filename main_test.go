package main

// End-to-end tests of the real binary: serve and the CLI as separate
// processes, the way an operator runs them.

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binBuild builds the gatehouse binary into a temporary directory.
func binBuild(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// binFreeAddr returns a loopback address with a port that was free a moment ago.
func binFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// binBuffer collects a process's output; safe while the process runs.
type binBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *binBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *binBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// binRun runs the binary to completion and returns its exit status and output.
func binRun(t *testing.T, bin, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = binEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("%v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// binEnv is the environment without GATEHOUSE_* settings of the machine
// running the tests.
func binEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			env = append(env, kv)
		}
	}
	return env
}

func binWant(t *testing.T, what string, code int, stdout, stderr string, wantCode int, wantOut ...string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, code, wantCode, stdout, stderr)
	}
	for _, w := range wantOut {
		if !strings.Contains(stdout, w) {
			t.Errorf("%s: stdout lacks %q:\n%s", what, w, stdout)
		}
	}
}

// TestBinaryCLI: the CLI works whether or not the panel runs, and only
// serve creates a database.
func TestBinaryCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := binBuild(t)
	base := t.TempDir()

	t.Run("no database", func(t *testing.T) {
		empty := filepath.Join(base, "empty")
		os.Mkdir(empty, 0o700)
		code, stdout, stderr := binRun(t, bin, "", "user", "list", "--data", empty)
		if code != 1 || stdout != "" || !strings.Contains(stderr, filepath.Join(empty, "gatehouse.db")) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("exit %d\nstdout: %q\nstderr: %q", code, stdout, stderr)
		}
		if ents, _ := os.ReadDir(empty); len(ents) != 0 {
			t.Errorf("files created: %v", ents)
		}
	})

	data := filepath.Join(base, "data")
	addr := binFreeAddr(t)
	serve := binServe(t, bin, data, addr, "http://"+addr+"/healthz")

	t.Run("second serve refused", func(t *testing.T) {
		start := time.Now()
		code, _, stderr := binRun(t, bin, "", "serve", "--data", data, "--listen", binFreeAddr(t))
		if took := time.Since(start); code == 0 || took > 2*time.Second {
			t.Errorf("second serve: exit %d after %v, want non-zero within 2 s", code, took)
		}
		if !strings.Contains(stderr, "is in use by another gatehouse process") {
			t.Errorf("stderr: %s", stderr)
		}
		if _, err := os.Lstat(filepath.Join(data, "gatehouse.sock")); err != nil {
			t.Errorf("the running panel's socket is gone: %v", err)
		}
	})

	t.Run("commands through the running panel", func(t *testing.T) {
		code, stdout, stderr := binRun(t, bin, "Passw0rd-ok\n", "user", "add", "bob", "--email", "bob@example.com", "--password-stdin", "--data", data)
		binWant(t, "user add", code, stdout, stderr, 0, "user bob created")
		code, stdout, stderr = binRun(t, bin, "", "user", "list", "--data", data)
		binWant(t, "user list", code, stdout, stderr, 0, "admin", "bob@example.com")

		file := filepath.Join(base, "backup.db")
		code, stdout, stderr = binRun(t, bin, "", "backup", file, "--data", data)
		binWant(t, "backup", code, stdout, stderr, 0, "backup written to "+file)
		// Restore the copy into a new data directory and read it there.
		restored := filepath.Join(base, "restored")
		os.Mkdir(restored, 0o700)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(restored, "gatehouse.db"), b, 0o600)
		code, stdout, stderr = binRun(t, bin, "", "user", "list", "--data", restored)
		binWant(t, "user list on the backup", code, stdout, stderr, 0, "bob@example.com")

		if !strings.Contains(serve.stderr.String(), `command="user add"`) {
			t.Errorf("the panel did not run the command:\n%s", serve.stderr.String())
		}
	})

	// Stop the panel; the socket goes with it and the CLI uses the file.
	serve.stop(t)
	if _, err := os.Lstat(filepath.Join(data, "gatehouse.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after shutdown: %v", err)
	}
	code, stdout, stderr := binRun(t, bin, "", "user", "list", "--data", data)
	binWant(t, "user list after stop", code, stdout, stderr, 0, "admin", "bob@example.com")
}

// binServer is a running `gatehouse serve`: killed when the test ends
// unless stop ended it, its output logged when the test failed.
type binServer struct {
	cmd            *exec.Cmd
	stdout, stderr binBuffer
	exited         chan error
	stopped        bool
}

// binServe starts `bin serve` on data and listen, with the admin password
// set, and waits until health (its /healthz URL) answers.
func binServe(t *testing.T, bin, data, listen, health string) *binServer {
	t.Helper()
	s := &binServer{cmd: exec.Command(bin, "serve", "--data", data, "--listen", listen), exited: make(chan error, 1)}
	s.cmd.Env = append(binEnv(), "GATEHOUSE_ADMIN_PASSWORD=Adm1n-pass-42")
	s.cmd.Stdout, s.cmd.Stderr = &s.stdout, &s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() {
		if !s.stopped {
			s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("serve stdout:\n%s\nserve stderr:\n%s", s.stdout.String(), s.stderr.String())
		}
	})
	binWaitHealthy(t, health, s.exited)
	return s
}

// stop ends serve with SIGTERM, as an operator does, and fails the test
// unless it exits cleanly within 15 s.
func (s *binServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.exited:
		s.stopped = true
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop after SIGTERM")
	}
}

// binWaitHealthy polls url until it answers 200, failing if the process exits.
func binWaitHealthy(t *testing.T, url string, exited chan error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			// Hand the result back for the caller's cleanup.
			exited <- err
			t.Fatalf("serve exited early: %v", err)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("serve did not become healthy")
}

// TestBinaryServeDataDir: serve makes its own data directory private when
// others may write to it, and says so; a data directory of another user is
// refused with the reason, and nothing is served.
func TestBinaryServeDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := binBuild(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	addr := binFreeAddr(t)
	serve := binServe(t, bin, data, addr, "http://"+addr+"/healthz")
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory after start: %v, %v; want mode 0700", fi.Mode(), err)
	}
	serve.stop(t)
	if logs := serve.stderr.String(); strings.Count(logs, "tightened to 0700") != 1 || !strings.Contains(logs, "was=0777") {
		t.Errorf("serve did not say once that it tightened the data directory:\n%s", logs)
	}

	t.Run("another user's directory refused", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give the directory to another user")
		}
		if err := os.Chown(data, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := binRun(t, bin, "", "serve", "--data", data, "--listen", binFreeAddr(t))
		if code != 1 || stdout != "" {
			t.Errorf("exit %d, stdout %q; want 1 and nothing", code, stdout)
		}
		if want := "gatehouse: data directory " + data + " is owned by uid 65534"; !strings.HasPrefix(stderr, want) || !strings.Contains(stderr, "refusing to use it") {
			t.Errorf("stderr %q, want it to start with %q and refuse", stderr, want)
		}
		if _, err := os.Lstat(filepath.Join(data, "gatehouse.sock")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a control socket was created: %v", err)
		}
	})
}
