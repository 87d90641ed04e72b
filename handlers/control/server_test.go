package control

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestControlRunsCommandsInServer: while the panel holds the database, a
// request sent through the socket reaches the ExecFunc exactly as sent,
// with the panel's store, and its result comes back; a backup streams the
// database. The commands themselves are the CLI's (its tests run them
// through a real socket).
func TestControlRunsCommandsInServer(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	log := &testkit.SyncBuffer{}
	srv := startServer(t, dir, func(s *Server) { s.log = slog.New(slog.NewTextHandler(log, nil)) })
	testkit.CreateUser(t, srv.store, "admin", testkit.AdminPassword, "admin@example.com")
	sock := filepath.Join(dir, SocketName)
	if srv.srv.Path() != sock {
		t.Errorf("Path() = %s, want %s", srv.srv.Path(), sock)
	}

	fi, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, tmpDirName)); err == nil {
		t.Errorf("%s left behind", tmpDirName)
	}

	c := connect(t, dir)
	// Invalid UTF-8 in the password survives the trip: the rules must see
	// what was typed.
	req := Request{Command: "user add", Args: []string{"bob"}, Flags: map[string][]string{"email": {"bob@example.com"}}, Password: []byte("Passw0rd-ok\xff")}
	res, err := c.Exec(context.Background(), req)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if res != srv.exec.result {
		t.Errorf("result %+v, want %+v", res, srv.exec.result)
	}
	srv.exec.mu.Lock()
	if len(srv.exec.reqs) != 1 || !reflect.DeepEqual(srv.exec.reqs[0], req) || srv.exec.stores[0] != srv.store {
		t.Errorf("the exec function got %+v with store %p, want %+v with the panel's store %p", srv.exec.reqs, srv.exec.stores, req, srv.store)
	}
	srv.exec.mu.Unlock()

	var backup bytes.Buffer
	n, err := c.Backup(context.Background(), &backup)
	if err != nil || n == 0 || n != int64(backup.Len()) {
		t.Fatalf("Backup: %d bytes (%d received), %v", n, backup.Len(), err)
	}
	restore := t.TempDir()
	if err := os.WriteFile(filepath.Join(restore, model.DBFile), backup.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := model.Open(restore, model.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("the backup does not open as a database: %v", err)
	}
	if _, err := rs.UserByName("admin"); err != nil {
		t.Errorf("the backup lacks admin: %v", err)
	}
	rs.Close()

	logs := log.String()
	if !strings.Contains(logs, `command="user add"`) || !strings.Contains(logs, "backup streamed") {
		t.Errorf("the panel did not log the commands it ran:\n%s", logs)
	}
	if strings.Contains(logs, "Passw0rd-ok") {
		t.Errorf("a password reached the log:\n%s", logs)
	}

	// After the panel stops, the socket is gone and nobody answers.
	c.Close()
	srv.stop()
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	if _, err := Connect(context.Background(), dir); !errors.Is(err, ErrNoServer) {
		t.Errorf("Connect after Close: %v, want ErrNoServer", err)
	}
}

// TestControlBadRequest: the server answers a request it cannot read with
// 400 and never runs it.
func TestControlBadRequest(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, dir, nil)
	c := connect(t, dir)
	for _, body := range []string{`{"command":"user list","args":[],"extra":1}`, `{"command":`, "{\"command\":\"user list\xff\"}"} {
		req, err := http.NewRequest(http.MethodPost, baseURL+"/v1/exec", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", body, resp.StatusCode)
		}
	}
	srv.exec.mu.Lock()
	defer srv.exec.mu.Unlock()
	if len(srv.exec.reqs) != 0 {
		t.Errorf("bad requests were run: %+v", srv.exec.reqs)
	}
}

// TestControlStaleSocket: a socket file left by a crash neither blocks the
// panel's start nor reads as a panel; a live listener is never taken over.
func TestControlStaleSocket(t *testing.T) {
	t.Parallel()
	for _, tc := range testkit.StaleSockets {
		t.Run(tc.Name, func(t *testing.T) {
			dir := t.TempDir()
			sock := filepath.Join(dir, SocketName)
			tc.Leave(t, sock)

			// Nobody answers: the CLI opens the file itself.
			if _, err := Connect(context.Background(), dir); !errors.Is(err, ErrNoServer) {
				t.Errorf("Connect to a stale socket: %v, want ErrNoServer", err)
			}

			startServer(t, dir, nil)
			fi, err := os.Lstat(sock)
			if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
				t.Fatalf("socket not replaced: %v %v", fi.Mode(), err)
			}
			if res, err := connect(t, dir).Exec(context.Background(), Request{Command: "user list"}); err != nil || res.Stdout != "done\n" {
				t.Errorf("Exec through the new socket: %+v, %v", res, err)
			}
		})
	}

	t.Run("live listener kept", func(t *testing.T) {
		dir := t.TempDir()
		sock := filepath.Join(dir, SocketName)
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		s := testkit.OpenStore(t, dir)
		defer s.Close()
		if srv, err := Listen(s, (&fakeExec{}).exec); err == nil || !strings.Contains(err.Error(), "another process is listening") {
			if srv != nil {
				srv.Close()
			}
			t.Fatalf("Listen over a live socket: %v", err)
		}
		if _, err := os.Lstat(sock); err != nil {
			t.Errorf("the live socket was removed: %v", err)
		}
	})

	t.Run("directory refused", func(t *testing.T) {
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, SocketName), 0o700)
		s := testkit.OpenStore(t, dir)
		defer s.Close()
		if _, err := Listen(s, (&fakeExec{}).exec); err == nil || !strings.Contains(err.Error(), "is a directory") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestControlPathLimit: Unix socket paths hold at most 107 bytes; a longer
// one is refused with a message naming it, and a client does not try it.
func TestControlPathLimit(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	// dirFor returns a directory whose socket path is n bytes long.
	dirFor := func(n int) string {
		name := strings.Repeat("d", n-len(base)-len("/")-len("/"+SocketName))
		if len(name) < 1 {
			t.Skipf("temporary directory %s is too long for this test", base)
		}
		return filepath.Join(base, name)
	}
	ok := dirFor(sunPathMax - 1)
	srv := startServer(t, ok, nil)
	if res, err := connect(t, ok).Exec(context.Background(), Request{Command: "user list"}); err != nil || res.Stdout != "done\n" {
		t.Errorf("Exec at the longest path: %+v, %v", res, err)
	}
	srv.stop()

	long := dirFor(sunPathMax)
	s := testkit.OpenStore(t, long)
	defer s.Close()
	_, err := Listen(s, (&fakeExec{}).exec)
	want := filepath.Join(long, SocketName)
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "shorter --data") {
		t.Errorf("err = %v, want the path and a hint", err)
	}
	if _, err := os.Lstat(want); err == nil {
		t.Error("a socket file was created")
	}
	if _, err := Connect(context.Background(), long); !errors.Is(err, ErrNoServer) {
		t.Errorf("Connect at an over-long path: %v, want ErrNoServer", err)
	}
}

// TestControlRefusesOtherUsers drives the SO_PEERCRED check with a policy
// that admits nobody (the socket's mode alone would stop another user, and
// the check is the second line of defence; TestClientRefusesForeignServer
// runs a real second user, for the client's check).
func TestControlRefusesOtherUsers(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	log := &testkit.SyncBuffer{}
	var seen []uint32
	var mu sync.Mutex
	srv := startServer(t, dir, func(s *Server) {
		s.log = slog.New(slog.NewTextHandler(log, nil))
		s.allow = func(uid uint32) bool {
			mu.Lock()
			seen = append(seen, uid)
			mu.Unlock()
			return false
		}
	})
	_, err := Connect(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), "did not answer on its control socket") || !strings.Contains(err.Error(), "as the user that runs gatehouse serve") {
		t.Errorf("Connect to a server that refuses us: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 || seen[0] != uint32(os.Getuid()) {
		t.Errorf("peer uids seen %v, want ours (%d)", seen, os.Getuid())
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "uid=") {
		t.Errorf("refusal not logged as a warning with the uid:\n%s", log.String())
	}
	srv.exec.mu.Lock()
	defer srv.exec.mu.Unlock()
	if len(srv.exec.reqs) != 0 {
		t.Errorf("a refused peer's request ran: %+v", srv.exec.reqs)
	}
}

func TestPeerAllowed(t *testing.T) {
	t.Parallel()
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
