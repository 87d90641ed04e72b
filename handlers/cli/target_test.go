package cli

// Tests of where a command runs: inside a live panel through its control
// socket (a store and control.Server in the test process, as serve sets
// them up), or on the file when no panel answers.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers/control"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestCLIInPanel: while the panel holds the database, each command runs
// inside it, through the socket, with the same results as directly on the
// file.
func TestCLIInPanel(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	srv := startPanel(t, dir)
	sock := filepath.Join(dir, control.SocketName)

	// The file lock admits one process (and one open file in this one):
	// a command that opened the file itself would fail.
	if s, err := model.Open(dir, model.Options{LockTimeout: 50 * time.Millisecond}); !errors.Is(err, model.ErrInUse) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open while served: %v, want ErrInUse", err)
	}

	run := func(stdin string, args ...string) (int, string, string) {
		return runCmd(t, stdin, append(args, "--data", dir)...)
	}
	code, stdout, stderr := run("Passw0rd-ok\n", "user", "add", "bob", "--email", "bob@example.com", "--password-stdin")
	checkOutput(t, code, stdout, stderr, 0, []string{"user bob created (id 2)"}, nil)
	if _, err := srv.store.Authenticate(context.Background(), "bob", "Passw0rd-ok"); err != nil {
		t.Errorf("the panel's store does not know bob's password: %v", err)
	}

	code, stdout, stderr = run("x\n", "user", "add", "eve", "--email", "eve at example.com", "--password-stdin")
	checkOutput(t, code, stdout, stderr, 1, nil, []string{"email must be a valid address", "password must be 8 to 20"})

	code, stdout, stderr = run("", "user", "list")
	checkOutput(t, code, stdout, stderr, 0, []string{"USERNAME", "bob@example.com", "admin@example.com"}, nil)

	u, _ := srv.store.UserByName("bob")
	if _, _, err := srv.store.CreateSession(u.ID, "127.0.0.1", "test", model.ActorFor(u, ""), "password"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = run("N3w-password\n", "user", "passwd", "bob", "--password-stdin")
	checkOutput(t, code, stdout, stderr, 0, []string{"password of bob changed"}, nil)
	if ss, _ := srv.store.SessionsOf(u.ID); len(ss) != 0 {
		t.Errorf("bob still has %d sessions", len(ss))
	}

	backup := filepath.Join(t.TempDir(), "b.db")
	code, stdout, stderr = run("", "backup", backup)
	checkOutput(t, code, stdout, stderr, 0, []string{"backup written to " + backup}, nil)
	checkBackup(t, backup, "admin", "bob")
	code, stdout, stderr = run("", "backup", backup)
	checkOutput(t, code, stdout, stderr, 1, nil, []string{"exists; use --force"})

	code, stdout, stderr = run("", "user", "delete", "bob")
	checkOutput(t, code, stdout, stderr, 0, []string{"user bob deleted"}, nil)
	code, stdout, stderr = run("", "user", "delete", "admin")
	checkOutput(t, code, stdout, stderr, 1, nil, []string{"cannot delete the last user"})

	audit := strings.Join(auditActors(t, srv.store), "\n")
	for _, want := range []string{"user.created by cli on bob", "user.password_changed by cli on bob", "user.deleted by cli on bob"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}

	// After the panel stops, the socket is gone and the same commands work
	// on the file.
	srv.stop()
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	code, stdout, stderr = run("", "user", "list")
	checkOutput(t, code, stdout, stderr, 0, []string{"admin@example.com"}, nil)
}

// TestCLIStaleSocket: a socket file left by a crash blocks neither the CLI
// nor the panel's start.
func TestCLIStaleSocket(t *testing.T) {
	t.Parallel()
	for _, tc := range testkit.StaleSockets {
		t.Run(tc.Name, func(t *testing.T) {
			dir := newDB(t)
			tc.Leave(t, filepath.Join(dir, control.SocketName))

			// Nobody answers: the CLI opens the file itself.
			code, stdout, stderr := runCmd(t, "", "user", "list", "--data", dir)
			checkOutput(t, code, stdout, stderr, 0, []string{"admin@example.com"}, nil)

			startPanel(t, dir)
			code, stdout, stderr = runCmd(t, "Passw0rd-ok\n", "user", "add", "bob", "--email", "bob@example.com", "--password-stdin", "--data", dir)
			checkOutput(t, code, stdout, stderr, 0, []string{"user bob created"}, nil)
		})
	}
}

// TestCLIPathLimit: at the longest socket path a Unix socket allows the
// CLI runs through the panel; one byte longer, the panel has no socket and
// the CLI works on the file without trying one.
func TestCLIPathLimit(t *testing.T) {
	t.Parallel()
	// sunPathMax is the size of sockaddr_un.sun_path on Linux.
	const sunPathMax = 108
	base := t.TempDir()
	// dirFor returns a directory whose socket path is n bytes long.
	dirFor := func(n int) string {
		name := strings.Repeat("d", n-len(base)-len("/")-len("/"+control.SocketName))
		if len(name) < 1 {
			t.Skipf("temporary directory %s is too long for this test", base)
		}
		return filepath.Join(base, name)
	}
	ok := dirFor(sunPathMax - 1)
	srv := startPanel(t, ok)
	code, stdout, stderr := runCmd(t, "", "user", "list", "--data", ok)
	checkOutput(t, code, stdout, stderr, 0, []string{"admin"}, nil)
	srv.stop()

	long := dirFor(sunPathMax)
	s := testkit.OpenStore(t, long)
	if _, err := control.Listen(s, Exec); err == nil {
		t.Fatal("the panel served a socket over the length limit")
	}
	addAdmin(t, s)
	s.Close()
	code, stdout, stderr = runCmd(t, "", "user", "list", "--data", long)
	checkOutput(t, code, stdout, stderr, 0, []string{"admin@example.com"}, nil)
}
