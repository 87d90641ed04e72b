package cli

// Test helpers of the CLI: a real database in t.TempDir() (from the shared
// kit, model/testkit), the CLI run in this process, and a panel serving the
// control socket in the test process.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers/control"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// newDB creates a database with the user admin in a new directory and
// closes it, so that the CLI has to open the file itself.
func newDB(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	s := testkit.OpenStore(t, dir)
	defer s.Close()
	addAdmin(t, s)
	return dir
}

// addAdmin creates the user admin with testkit.AdminPassword.
func addAdmin(t *testing.T, s *model.Store) model.User {
	t.Helper()
	return testkit.CreateUser(t, s, "admin", testkit.AdminPassword, "admin@example.com")
}

// withStore opens the store in dir, runs fn, and closes it again.
func withStore(t *testing.T, dir string, fn func(s *model.Store)) {
	t.Helper()
	s := testkit.OpenStore(t, dir)
	defer s.Close()
	fn(s)
}

// runCmd runs the CLI in this process with cheap hashing and no
// environment; args are the whole command line after "gatehouse".
func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, env{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		getenv: func(string) string { return "" },
		open:   model.Options{Argon2: testkit.Argon2()},
	})
	return code, out.String(), errb.String()
}

// auditActors returns "action by actor on target" for every audit event,
// oldest first.
func auditActors(t *testing.T, s *model.Store) []string {
	t.Helper()
	evs, _, err := s.AuditEvents(model.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(evs) - 1; i >= 0; i-- {
		out = append(out, evs[i].Action+" by "+evs[i].Actor+" on "+evs[i].Target)
	}
	return out
}

func hasUser(t *testing.T, s *model.Store, name string) bool {
	t.Helper()
	_, err := s.UserByName(name)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// checkOutput compares an exit status and output with what a step wants.
func checkOutput(t *testing.T, code int, stdout, stderr string, wantCode int, wantOut, wantErr []string) {
	t.Helper()
	if code != wantCode {
		t.Errorf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, wantCode, stdout, stderr)
	}
	for _, w := range wantOut {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	for _, w := range wantErr {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if wantCode == 1 {
		if !strings.HasPrefix(stderr, "gatehouse: ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("want one line \"gatehouse: …\" on stderr, got %q", stderr)
		}
		if stdout != "" {
			t.Errorf("a failed command printed to stdout: %q", stdout)
		}
	}
}

func wantNoUser(t *testing.T, s *model.Store, name string) {
	t.Helper()
	if hasUser(t, s, name) {
		t.Errorf("user %s was stored", name)
	}
}

// mustUser returns the stored user name.
func mustUser(t *testing.T, s *model.Store, name string) model.User {
	t.Helper()
	u, err := s.UserByName(name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return u
}

// checkBackup checks that file is a complete database holding the users.
func checkBackup(t *testing.T, file string, users ...string) {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "*.partial-*")); len(left) > 0 {
		t.Errorf("partial files left: %v", left)
	}
	// Restore it the way an operator would: as gatehouse.db of a data
	// directory.
	restore := t.TempDir()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restore, model.DBFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := model.Open(restore, model.Options{LockTimeout: time.Second})
	if err != nil {
		t.Fatalf("the backup does not open as a database: %v", err)
	}
	defer s.Close()
	for _, u := range users {
		if !hasUser(t, s, u) {
			t.Errorf("the backup lacks user %s", u)
		}
	}
}

// panel is a running panel's store and control socket, set up as serve
// sets them up.
type panel struct {
	dir   string
	store *model.Store
	stop  func() // cancels Serve, waits for it and closes the store
}

// startPanel opens the database in dir, creating it with the user admin
// when new, and serves its control socket with Exec until the test ends.
func startPanel(t *testing.T, dir string) *panel {
	t.Helper()
	s := testkit.OpenStore(t, dir)
	if us, _ := s.Users(); len(us) == 0 {
		addAdmin(t, s)
	}
	srv, err := control.Listen(s, Exec)
	if err != nil {
		s.Close()
		t.Fatalf("control.Listen: %v", err)
	}
	stopServer := srv.Start()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := stopServer(); err != nil {
				t.Errorf("control server: %v", err)
			}
			s.Close()
		})
	}
	t.Cleanup(stop)
	return &panel{dir: dir, store: s, stop: stop}
}
