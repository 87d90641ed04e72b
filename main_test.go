package main

// End-to-end test of the real binary's command line: serve and the CLI as
// separate processes, the way an operator runs them (see helpers_test.go).

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestBinaryCLI: the CLI works whether or not the panel runs, and only
// serve creates a database.
func TestBinaryCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testkit.Binary(t)
	base := t.TempDir()

	t.Run("no database", func(t *testing.T) {
		empty := filepath.Join(base, "empty")
		os.Mkdir(empty, 0o700)
		code, stdout, stderr := runBinary(t, bin, "", "user", "list", "--data", empty)
		if code != 1 || stdout != "" || !strings.Contains(stderr, filepath.Join(empty, "gatehouse.db")) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("exit %d\nstdout: %q\nstderr: %q", code, stdout, stderr)
		}
		if ents, _ := os.ReadDir(empty); len(ents) != 0 {
			t.Errorf("files created: %v", ents)
		}
	})

	data := filepath.Join(base, "data")
	addr := freeAddr(t)
	serve := serveBinary(t, bin, data, addr, "http://"+addr+"/healthz")

	t.Run("second serve refused", func(t *testing.T) {
		start := time.Now()
		code, _, stderr := runBinary(t, bin, "", "serve", "--data", data, "--listen", freeAddr(t))
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
		code, stdout, stderr := runBinary(t, bin, "Passw0rd-ok\n", "user", "add", "bob", "--email", "bob@example.com", "--password-stdin", "--data", data)
		wantExit(t, "user add", code, stdout, stderr, 0, "user bob created")
		code, stdout, stderr = runBinary(t, bin, "", "user", "list", "--data", data)
		wantExit(t, "user list", code, stdout, stderr, 0, "admin", "bob@example.com")

		file := filepath.Join(base, "backup.db")
		code, stdout, stderr = runBinary(t, bin, "", "backup", file, "--data", data)
		wantExit(t, "backup", code, stdout, stderr, 0, "backup written to "+file)
		// Restore the copy into a new data directory and read it there.
		restored := filepath.Join(base, "restored")
		os.Mkdir(restored, 0o700)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(restored, "gatehouse.db"), b, 0o600)
		code, stdout, stderr = runBinary(t, bin, "", "user", "list", "--data", restored)
		wantExit(t, "user list on the backup", code, stdout, stderr, 0, "bob@example.com")

		if !strings.Contains(serve.Stderr.String(), `command="user add"`) {
			t.Errorf("the panel did not run the command:\n%s", serve.Stderr.String())
		}
	})

	// Stop the panel; the socket goes with it and the CLI uses the file.
	stopServe(t, serve)
	if _, err := os.Lstat(filepath.Join(data, "gatehouse.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left after shutdown: %v", err)
	}
	code, stdout, stderr := runBinary(t, bin, "", "user", "list", "--data", data)
	wantExit(t, "user list after stop", code, stdout, stderr, 0, "admin", "bob@example.com")
}

// TestBinaryServeDataDir: serve makes its own data directory private when
// others may write to it, and says so; a data directory of another user is
// refused with the reason, and nothing is served.
func TestBinaryServeDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := testkit.Binary(t)
	data := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	addr := freeAddr(t)
	serve := serveBinary(t, bin, data, addr, "http://"+addr+"/healthz")
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory after start: %v, %v; want mode 0700", fi.Mode(), err)
	}
	stopServe(t, serve)
	if logs := serve.Stderr.String(); strings.Count(logs, "tightened to 0700") != 1 || !strings.Contains(logs, "was=0777") {
		t.Errorf("serve did not say once that it tightened the data directory:\n%s", logs)
	}

	t.Run("another user's directory refused", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to give the directory to another user")
		}
		if err := os.Chown(data, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runBinary(t, bin, "", "serve", "--data", data, "--listen", freeAddr(t))
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
