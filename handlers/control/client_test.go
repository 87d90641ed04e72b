package control

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary run as a helper process instead of the
// tests; its value names the helper.
const helperEnv = "GATEHOUSE_CONTROL_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "foreign-server" {
		os.Exit(foreignServer(os.Getenv("GATEHOUSE_CONTROL_TEST_SOCKET")))
	}
	os.Exit(m.Run())
}

// foreignServer plays a socket planted by another user: it listens on
// sock and reports on stdout "ready" once listening, then "conn bytes=N"
// for each connection when it ends, N being what arrived on it. It stops
// when its stdin closes.
func foreignServer(sock string) int {
	ln, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer ln.Close()
	// Anyone may connect, as to a socket meant to catch passwords.
	if err := os.Chmod(sock, 0o666); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	report := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Printf(format+"\n", a...)
	}
	report("ready")
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetReadDeadline(time.Now().Add(10 * time.Second))
				n, _ := io.Copy(io.Discard, conn)
				report("conn bytes=%d", n)
			}()
		}
	}()
	io.Copy(io.Discard, os.Stdin)
	return 0
}

func TestCheckServer(t *testing.T) {
	t.Parallel()
	const sock = "/srv/data/gatehouse.sock"
	for _, tc := range []struct {
		name        string
		peer, owner uint32
		ok          bool
	}{
		{"root serves a directory of another user", 0, 1000, true},
		{"the directory's owner serves", 1000, 1000, true},
		{"root serves root's directory", 0, 0, true},
		{"another user in root's directory", 65534, 0, false},
		{"another user in a user's directory", 1001, 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkServer(sock, tc.peer, tc.owner)
			if tc.ok {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUntrustedServer) {
				t.Fatalf("err = %v, want ErrUntrustedServer", err)
			}
			want := fmt.Sprintf("control socket %s is served by uid %d, not by root or the data directory's owner (uid %d); refusing to send it a command or a password", sock, tc.peer, tc.owner)
			if err.Error() != want {
				t.Errorf("message\n%s\nwant\n%s", err, want)
			}
		})
	}
}

// TestClientRefusesForeignServer: a socket served by a user other than
// root and the data directory's owner gets not one byte from the client.
// The fake panel runs as uid 65534 in a data directory owned by root that
// others may write to, the misconfiguration that lets them plant a socket.
func TestClientRefusesForeignServer(t *testing.T) {
	t.Parallel()
	if os.Getuid() != 0 {
		t.Skip("needs root: only root can start the fake panel as another user (uid 65534)")
	}
	const nobody = 65534
	base := t.TempDir()
	// t.TempDir and its parent are 0700; the other user must reach data/.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "data")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	sock := filepath.Join(dir, SocketName)

	// The test binary lies in a directory private to root: run a copy.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(base, "control.test")
	if err := os.WriteFile(helper, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(helper)
	cmd.Dir = base
	cmd.Env = append(os.Environ(), helperEnv+"=foreign-server", "GATEHOUSE_CONTROL_TEST_SOCKET="+sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the fake panel as uid %d: %v", nobody, err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	next := func(what string) string {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				t.Fatalf("the fake panel ended while the test waited for %s; its stderr: %s", what, stderr.String())
			}
			return l
		case <-time.After(10 * time.Second):
			t.Fatalf("the fake panel did not report %s in time", what)
		}
		return ""
	}
	if l := next("ready"); l != "ready" {
		t.Fatalf("fake panel said %q, want ready", l)
	}

	c, err := Connect(context.Background(), dir)
	if err == nil {
		c.Close()
		t.Fatal("the client talked to a socket served by another user")
	}
	if !errors.Is(err, ErrUntrustedServer) {
		t.Fatalf("err = %v, want ErrUntrustedServer", err)
	}
	for _, want := range []string{sock, fmt.Sprintf("served by uid %d", nobody), "(uid 0)", "refusing to send"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not say %q", err, want)
		}
	}
	// The client did connect (or the check could not have run), and sent
	// nothing.
	if l := next("the client's connection"); l != "conn bytes=0" {
		t.Errorf("fake panel reports %q, want conn bytes=0", l)
	}

	// The fake panel does count what it gets: a plain connection that
	// writes is seen.
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("hello"))
	conn.Close()
	if l := next("the plain connection"); l != "conn bytes=5" {
		t.Errorf("fake panel reports %q for 5 bytes sent", l)
	}
}
