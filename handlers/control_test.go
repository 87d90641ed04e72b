package handlers

// Tests of the control socket: CLI commands running inside a live panel
// (here: a store and Control in the test process, as serve sets them up).

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// ctlServer is a running panel's store and control socket.
type ctlServer struct {
	dir   string
	store *model.Store
	ctl   *Control
	stop  func() // cancels Serve and waits for it
}

// ctlStart opens the database in dir, creating it with the user admin when
// new, and serves its control socket until the test ends. prepare may
// change the Control before it serves.
func ctlStart(t *testing.T, dir string, prepare func(*Control)) *ctlServer {
	t.Helper()
	s := cliOpen(t, dir)
	if us, _ := s.Users(); len(us) == 0 {
		if _, err := s.CreateUser(context.Background(), model.NewUser{Username: "admin", Password: cliAdminPassword, Email: "admin@example.com"}, model.Actor{Name: "system"}); err != nil {
			t.Fatal(err)
		}
	}
	ctl, err := ListenControl(s)
	if err != nil {
		s.Close()
		t.Fatalf("ListenControl: %v", err)
	}
	if prepare != nil {
		prepare(ctl)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ctl.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if err := ctl.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			s.Close()
		})
	}
	t.Cleanup(stop)
	return &ctlServer{dir: dir, store: s, ctl: ctl, stop: stop}
}

// ctlLog is a log sink safe for the server's goroutines.
type ctlLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *ctlLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *ctlLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestControlRunsCommandsInServer: while the panel holds the database, each
// command runs inside it, through the socket, with the same results as
// directly on the file.
func TestControlRunsCommandsInServer(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	log := &ctlLog{}
	srv := ctlStart(t, dir, func(c *Control) { c.log = slog.New(slog.NewTextHandler(log, nil)) })
	sock := filepath.Join(dir, ControlSocketName)

	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, controlTmpDir)); err == nil {
		t.Errorf("%s left behind", controlTmpDir)
	}
	// The file lock admits one process (and one open file in this one):
	// a command that opened the file itself would fail.
	if s, err := model.Open(dir, model.Options{LockTimeout: 50 * time.Millisecond}); !errors.Is(err, model.ErrInUse) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open while served: %v, want ErrInUse", err)
	}

	run := func(stdin string, args ...string) (int, string, string) {
		return cliExec(t, stdin, append(args, "--data", dir)...)
	}
	code, stdout, stderr := run("Passw0rd-ok\n", "user", "add", "bob", "--email", "bob@example.com", "--password-stdin")
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"user bob created (id 2)"}, nil)
	if _, err := srv.store.Authenticate(context.Background(), "bob", "Passw0rd-ok"); err != nil {
		t.Errorf("the panel's store does not know bob's password: %v", err)
	}

	code, stdout, stderr = run("x\n", "user", "add", "eve", "--email", "eve at example.com", "--password-stdin")
	cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{"email must be a valid address", "password must be 8 to 20"})

	code, stdout, stderr = run("", "user", "list")
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"USERNAME", "bob@example.com", "admin@example.com"}, nil)

	u, _ := srv.store.UserByName("bob")
	if _, _, err := srv.store.CreateSession(u.ID, "127.0.0.1", "test", model.ActorFor(u, ""), "password"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run("N3w-password\n", "user", "passwd", "bob", "--password-stdin")
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"password of bob changed"}, nil)
	if ss, _ := srv.store.SessionsOf(u.ID); len(ss) != 0 {
		t.Errorf("bob still has %d sessions", len(ss))
	}

	backup := filepath.Join(t.TempDir(), "b.db")
	code, stdout, stderr = run("", "backup", backup)
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"backup written to " + backup}, nil)
	cliCheckBackup(t, backup, "admin", "bob")
	code, stdout, stderr = run("", "backup", backup)
	cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{"exists; use --force"})

	code, stdout, stderr = run("", "user", "delete", "bob")
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"user bob deleted"}, nil)
	code, stdout, stderr = run("", "user", "delete", "admin")
	cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{"cannot delete the last user"})

	audit := strings.Join(cliAuditActors(t, srv.store), "\n")
	for _, want := range []string{"user.created by cli on bob", "user.password_changed by cli on bob", "user.deleted by cli on bob"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
	logs := log.String()
	if !strings.Contains(logs, `command="user add"`) || !strings.Contains(logs, "backup streamed") {
		t.Errorf("the panel did not log the commands it ran:\n%s", logs)
	}
	if strings.Contains(logs, "Passw0rd-ok") || strings.Contains(logs, "N3w-password") {
		t.Errorf("a password reached the log:\n%s", logs)
	}

	// After the panel stops, the socket is gone and the same commands work
	// on the file.
	srv.stop()
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	code, stdout, stderr = run("", "user", "list")
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"admin@example.com"}, nil)
}

// TestControlStaleSocket: a socket file left by a crash neither blocks the
// panel's start nor the CLI; a live listener is never taken over.
func TestControlStaleSocket(t *testing.T) {
	leaveSocket := func(t *testing.T, path string) {
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false)
		ln.Close()
	}
	for _, tc := range []struct {
		name  string
		leave func(t *testing.T, path string)
	}{
		{"socket without listener", leaveSocket},
		{"regular file", func(t *testing.T, path string) { os.WriteFile(path, []byte("x"), 0o644) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := cliNewDB(t)
			sock := filepath.Join(dir, ControlSocketName)
			tc.leave(t, sock)

			// Nobody answers: the CLI opens the file itself.
			code, stdout, stderr := cliExec(t, "", "user", "list", "--data", dir)
			cliCheckOutput(t, code, stdout, stderr, 0, []string{"admin@example.com"}, nil)

			ctlStart(t, dir, nil)
			fi, err := os.Lstat(sock)
			if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
				t.Fatalf("socket not replaced: %v %v", fi.Mode(), err)
			}
			code, stdout, stderr = cliExec(t, "Passw0rd-ok\n", "user", "add", "bob", "--email", "bob@example.com", "--password-stdin", "--data", dir)
			cliCheckOutput(t, code, stdout, stderr, 0, []string{"user bob created"}, nil)
		})
	}

	t.Run("live listener kept", func(t *testing.T) {
		dir := cliNewDB(t)
		sock := filepath.Join(dir, ControlSocketName)
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		s := cliOpen(t, dir)
		defer s.Close()
		if ctl, err := ListenControl(s); err == nil || !strings.Contains(err.Error(), "another process is listening") {
			if ctl != nil {
				ctl.Close()
			}
			t.Fatalf("ListenControl over a live socket: %v", err)
		}
		if _, err := os.Lstat(sock); err != nil {
			t.Errorf("the live socket was removed: %v", err)
		}
	})

	t.Run("directory refused", func(t *testing.T) {
		dir := cliNewDB(t)
		os.Mkdir(filepath.Join(dir, ControlSocketName), 0o700)
		s := cliOpen(t, dir)
		defer s.Close()
		if _, err := ListenControl(s); err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestControlPathLimit: Unix socket paths hold at most 107 bytes; a longer
// one is refused with a message naming it, and the CLI then works on the
// file without trying the socket.
func TestControlPathLimit(t *testing.T) {
	base := t.TempDir()
	// dirFor returns a directory whose socket path is n bytes long.
	dirFor := func(n int) string {
		name := strings.Repeat("d", n-len(base)-len("/")-len("/"+ControlSocketName))
		if len(name) < 1 {
			t.Skipf("temporary directory %s is too long for this test", base)
		}
		return filepath.Join(base, name)
	}
	ok := dirFor(sunPathMax - 1)
	srv := ctlStart(t, ok, nil)
	code, stdout, stderr := cliExec(t, "", "user", "list", "--data", ok)
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"admin"}, nil)
	srv.stop()

	long := dirFor(sunPathMax)
	s := cliOpen(t, long)
	_, err := ListenControl(s)
	want := filepath.Join(long, ControlSocketName)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "shorter --data") {
		t.Errorf("err = %v, want the path and a hint", err)
	}
	if _, err := os.Lstat(want); err == nil {
		t.Error("a socket file was created")
	}
	if _, err := s.CreateUser(context.Background(), model.NewUser{Username: "admin", Password: cliAdminPassword, Email: "admin@example.com"}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	s.Close()
	code, stdout, stderr = cliExec(t, "", "user", "list", "--data", long)
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"admin@example.com"}, nil)
}

// TestControlRefusesOtherUsers drives the SO_PEERCRED check with a policy
// that admits nobody (the test cannot connect as another user: the socket's
// mode alone would stop it, and the check is the second line of defence).
func TestControlRefusesOtherUsers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	log := &ctlLog{}
	var seen []uint32
	var mu sync.Mutex
	ctlStart(t, dir, func(c *Control) {
		c.log = slog.New(slog.NewTextHandler(log, nil))
		c.allow = func(uid uint32) bool {
			mu.Lock()
			seen = append(seen, uid)
			mu.Unlock()
			return false
		}
	})
	code, stdout, stderr := cliExec(t, "", "user", "list", "--data", dir)
	cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{"did not answer on its control socket", "as the user that runs gatehouse serve"})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[0] != uint32(os.Getuid()) {
		t.Errorf("peer uids seen %v, want ours (%d)", seen, os.Getuid())
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "uid=") {
		t.Errorf("refusal not logged as a warning with the uid:\n%s", log.String())
	}
}

func TestPeerAllowed(t *testing.T) {
	for _, tc := range []struct {
		uid, own uint32
		want     bool
	}{
		{0, 1000, true},
		{1000, 1000, true},
		{1001, 1000, false},
		{0, 0, true},
		{1000, 0, false},
	} {
		if got := peerAllowed(tc.uid, tc.own); got != tc.want {
			t.Errorf("peerAllowed(%d, %d) = %v", tc.uid, tc.own, got)
		}
	}
}
