package handlers

// Tests of the CLI running directly on the database file (no panel). Helpers
// here are named cli… so that test files by different people do not collide.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/gatehouse-panel/gatehouse/model"
)

// cliCheapArgon2 keeps hashing fast under -race.
var cliCheapArgon2 = &model.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const cliAdminPassword = "admin-pass-1"

// cliOpen opens the database in dir as the panel would (creating it).
func cliOpen(t *testing.T, dir string) *model.Store {
	t.Helper()
	s, err := model.Open(dir, model.Options{Create: true, Argon2: cliCheapArgon2})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

// cliNewDB creates a database with the user admin in a new directory and
// closes it, so that the CLI has to open the file itself.
func cliNewDB(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	s := cliOpen(t, dir)
	defer s.Close()
	if _, err := s.CreateUser(context.Background(), model.NewUser{Username: "admin", Password: cliAdminPassword, Email: "admin@example.com"}, model.Actor{Name: "system"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cliWith opens the store in dir, runs fn, and closes it again.
func cliWith(t *testing.T, dir string, fn func(s *model.Store)) {
	t.Helper()
	s := cliOpen(t, dir)
	defer s.Close()
	fn(s)
}

// cliExec runs the CLI in this process with cheap hashing and no
// environment; args are the whole command line after "gatehouse".
func cliExec(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runCLI(context.Background(), args, cliEnv{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		getenv: func(string) string { return "" },
		open:   model.Options{Argon2: cliCheapArgon2},
	})
	return code, out.String(), errb.String()
}

// cliAuditActors returns "action by actor on target" for every audit event,
// oldest first.
func cliAuditActors(t *testing.T, s *model.Store) []string {
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

func cliHasUser(t *testing.T, s *model.Store, name string) bool {
	t.Helper()
	_, err := s.UserByName(name)
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// cliCheckOutput compares an exit status and output with what a step wants.
func cliCheckOutput(t *testing.T, code int, stdout, stderr string, wantCode int, wantOut, wantErr []string) {
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

// TestCLIUserCommands runs the user commands one after another on one
// database, checking the output and what the database holds after each.
func TestCLIUserCommands(t *testing.T) {
	dir := cliNewDB(t)
	var bobSession string
	steps := []struct {
		name     string
		stdin    string
		args     []string
		before   func(t *testing.T, s *model.Store)
		wantCode int
		wantOut  []string
		wantErr  []string
		after    func(t *testing.T, s *model.Store)
	}{
		{
			name: "add", stdin: "Passw0rd-ok\n",
			args:     []string{"user", "add", "bob", "--email", "bob@example.com", "--password-stdin"},
			wantCode: 0, wantOut: []string{"user bob created (id 2)"},
			after: func(t *testing.T, s *model.Store) {
				u, err := s.UserByName("bob")
				if err != nil || u.Email != "bob@example.com" {
					t.Fatalf("bob = %+v, %v", u, err)
				}
				// The newline is not part of the password.
				if _, err := s.Authenticate(context.Background(), "bob", "Passw0rd-ok"); err != nil {
					t.Errorf("bob cannot log in with the password given: %v", err)
				}
			},
		},
		{
			name: "flags before NAME, CRLF line", stdin: "Passw0rd-ok\r\n",
			args:     []string{"user", "add", "--password-stdin", "--email=carol@example.com", "carol"},
			wantCode: 0, wantOut: []string{"user carol created"},
			after: func(t *testing.T, s *model.Store) {
				if _, err := s.Authenticate(context.Background(), "carol", "Passw0rd-ok"); err != nil {
					t.Errorf("carol cannot log in: %v", err)
				}
			},
		},
		{
			name: "flags around NAME", stdin: "Passw0rd-ok",
			args:     []string{"user", "add", "--email", "dave@example.com", "dave", "--password-stdin"},
			wantCode: 0, wantOut: []string{"user dave created"},
		},
		{
			name: "bad email", stdin: "Passw0rd-ok\n",
			args:     []string{"user", "add", "eve", "--email", "Eve <eve@example.com>", "--password-stdin"},
			wantCode: 1, wantErr: []string{"email must be a valid address"},
			after: func(t *testing.T, s *model.Store) { cliWantNoUser(t, s, "eve") },
		},
		{
			name: "missing email", stdin: "Passw0rd-ok\n",
			args:     []string{"user", "add", "eve", "--password-stdin"},
			wantCode: 1, wantErr: []string{"email is required"},
			after: func(t *testing.T, s *model.Store) { cliWantNoUser(t, s, "eve") },
		},
		{
			name: "short password", stdin: "abc12\n",
			args:     []string{"user", "add", "eve", "--email", "eve@example.com", "--password-stdin"},
			wantCode: 1, wantErr: []string{"password must be 8 to 20 characters long"},
			after: func(t *testing.T, s *model.Store) { cliWantNoUser(t, s, "eve") },
		},
		{
			name: "bad name and bad email at once", stdin: "Passw0rd-ok\n",
			args:     []string{"user", "add", "e v", "--email", "x", "--password-stdin"},
			wantCode: 1, wantErr: []string{"email must be", "; username may contain only"},
		},
		{
			name: "taken name ignoring case", stdin: "Passw0rd-ok\n",
			args:     []string{"user", "add", "BOB", "--email", "other@example.com", "--password-stdin"},
			wantCode: 1, wantErr: []string{"this username is already taken"},
			after: func(t *testing.T, s *model.Store) {
				us, _ := s.Users()
				if len(us) != 4 {
					t.Errorf("%d users, want 4 (admin bob carol dave)", len(us))
				}
			},
		},
		{
			name: "empty stdin", stdin: "",
			args:     []string{"user", "add", "eve", "--email", "eve@example.com", "--password-stdin"},
			wantCode: 1, wantErr: []string{"standard input is empty"},
		},
		{
			name: "no terminal", stdin: "Passw0rd-ok\n",
			args:     []string{"user", "add", "eve", "--email", "eve@example.com"},
			wantCode: 1, wantErr: []string{"no terminal for the password prompt; use --password-stdin"},
			after: func(t *testing.T, s *model.Store) { cliWantNoUser(t, s, "eve") },
		},
		{
			name: "list",
			args: []string{"user", "list"},
			before: func(t *testing.T, s *model.Store) {
				cliEnableTOTP(t, s, "carol")
			},
			// The table itself is checked in TestCLIListTable.
			wantCode: 0, wantOut: []string{"ID", "USERNAME", "EMAIL", "2FA", "PASSKEYS", "CREATED", "bob@example.com"},
		},
		{
			name: "passwd ends sessions", stdin: "N3w-password\n",
			args: []string{"user", "passwd", "bob", "--password-stdin"},
			before: func(t *testing.T, s *model.Store) {
				u, _ := s.UserByName("bob")
				var err error
				if bobSession, _, err = s.CreateSession(u.ID, "127.0.0.1", "test", model.ActorFor(u, "127.0.0.1"), "password"); err != nil {
					t.Fatal(err)
				}
			},
			wantCode: 0, wantOut: []string{"password of bob changed", "sessions were ended"},
			after: func(t *testing.T, s *model.Store) {
				u, _ := s.UserByName("bob")
				if ss, err := s.SessionsOf(u.ID); err != nil || len(ss) != 0 {
					t.Errorf("bob still has sessions %v (%v)", ss, err)
				}
				if _, _, err := s.SessionByToken(bobSession, model.SessionPolicy{Idle: time.Hour, Max: time.Hour}); !errors.Is(err, model.ErrNotFound) {
					t.Errorf("bob's session still works: %v", err)
				}
				if _, err := s.Authenticate(context.Background(), "bob", "N3w-password"); err != nil {
					t.Errorf("new password refused: %v", err)
				}
			},
		},
		{
			name: "passwd with a bad password", stdin: "aaaaaaaaaa\n",
			args:     []string{"user", "passwd", "bob", "--password-stdin"},
			wantCode: 1, wantErr: []string{"password must mix"},
			after: func(t *testing.T, s *model.Store) {
				if _, err := s.Authenticate(context.Background(), "bob", "N3w-password"); err != nil {
					t.Errorf("the password changed although the new one was refused: %v", err)
				}
			},
		},
		{
			name: "passwd of an unknown user", stdin: "N3w-password\n",
			args:     []string{"user", "passwd", "zed", "--password-stdin"},
			wantCode: 1, wantErr: []string{`no user named "zed"`},
		},
		{
			name:     "delete",
			args:     []string{"user", "delete", "carol"},
			wantCode: 0, wantOut: []string{"user carol deleted"},
			after: func(t *testing.T, s *model.Store) { cliWantNoUser(t, s, "carol") },
		},
		{
			name:     "delete ignoring case, flag first",
			args:     []string{"user", "delete", "--data", dir, "DAVE"},
			wantCode: 0, wantOut: []string{"user dave deleted"},
		},
		{
			name:     "delete an unknown user",
			args:     []string{"user", "delete", "carol"},
			wantCode: 1, wantErr: []string{`no user named "carol"`},
		},
		{name: "usage: no NAME", args: []string{"user", "add", "--email", "x@example.com"}, wantCode: 1, wantErr: []string{"needs NAME", "usage: gatehouse user add NAME"}},
		{name: "usage: extra argument", args: []string{"user", "list", "bob"}, wantCode: 1, wantErr: []string{"takes no arguments"}},
		{name: "usage: unknown flag", args: []string{"user", "delete", "bob", "--yes"}, wantCode: 1, wantErr: []string{"unknown flag: --yes"}},
		{name: "usage: unknown command", args: []string{"user", "frob"}, wantCode: 1, wantErr: []string{`unknown command "user frob"`}},
		{name: "usage: group without command", args: []string{"user"}, wantCode: 1, wantErr: []string{"list, add, passwd, delete"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				cliWith(t, dir, func(s *model.Store) { st.before(t, s) })
			}
			args := st.args
			if !cliContains(args, "--data") && !strings.HasPrefix(st.name, "usage") {
				args = append(append([]string{}, args...), "--data", dir)
			}
			code, stdout, stderr := cliExec(t, st.stdin, args...)
			cliCheckOutput(t, code, stdout, stderr, st.wantCode, st.wantOut, st.wantErr)
			if st.after != nil {
				cliWith(t, dir, func(s *model.Store) { st.after(t, s) })
			}
		})
	}
	// Every change was audited as made by the CLI.
	cliWith(t, dir, func(s *model.Store) {
		got := strings.Join(cliAuditActors(t, s), "\n")
		for _, want := range []string{
			"user.created by cli on bob", "user.created by cli on carol", "user.created by cli on dave",
			"user.password_changed by cli on bob", "user.deleted by cli on carol", "user.deleted by cli on dave",
		} {
			if !strings.Contains(got, want) {
				t.Errorf("audit log lacks %q:\n%s", want, got)
			}
		}
		if strings.Contains(got, "on eve") {
			t.Errorf("a refused command left an audit event:\n%s", got)
		}
	})
}

func cliContains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func cliWantNoUser(t *testing.T, s *model.Store, name string) {
	t.Helper()
	if cliHasUser(t, s, name) {
		t.Errorf("user %s was stored", name)
	}
}

// cliEnableTOTP turns 2FA on for a user the way the enrolment page does.
func cliEnableTOTP(t *testing.T, s *model.Store, name string) {
	t.Helper()
	u, err := s.UserByName(name)
	if err != nil {
		t.Fatal(err)
	}
	e, err := model.NewTOTPEnrollment(u, s.Now())
	if err != nil {
		t.Fatal(err)
	}
	code, err := model.TOTPCode(e.Secret, model.TOTPStep(s.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnableTOTP(e, code, model.ActorFor(u, "")); err != nil {
		t.Fatal(err)
	}
}

// TestCLIListTable checks the table's columns and their alignment.
func TestCLIListTable(t *testing.T) {
	dir := cliNewDB(t)
	for _, args := range [][]string{
		{"user", "add", "bob", "--email", "bob@example.com", "--password-stdin"},
		{"user", "add", "a-much-longer-username", "--email", "long@example.com", "--password-stdin"},
	} {
		if code, _, stderr := cliExec(t, "Passw0rd-ok\n", append(args, "--data", dir)...); code != 0 {
			t.Fatalf("%v: %s", args, stderr)
		}
	}
	cliWith(t, dir, func(s *model.Store) { cliEnableTOTP(t, s, "bob") })

	code, stdout, stderr := cliExec(t, "", "user", "list", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header and 3 rows, got:\n%s", stdout)
	}
	header := regexp.MustCompile(`^ID +USERNAME +EMAIL +2FA +PASSKEYS +CREATED$`)
	if !header.MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	row := regexp.MustCompile(`^(\d+) +(\S+) +(\S+) +(on|off) +(\d+) +(\S+)$`)
	want := map[string][2]string{"admin": {"admin@example.com", "off"}, "bob": {"bob@example.com", "on"}, "a-much-longer-username": {"long@example.com", "off"}}
	for i, l := range lines[1:] {
		m := row.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("row %q does not match %s", l, row)
			continue
		}
		if w, ok := want[m[2]]; !ok || w[0] != m[3] || w[1] != m[4] || m[5] != "0" {
			t.Errorf("row %q: want email %v and 0 passkeys", l, w)
		}
		if m[1] != fmt.Sprint(i+1) {
			t.Errorf("rows not ordered by id: %q", l)
		}
		if ts, err := time.Parse(time.RFC3339, m[6]); err != nil || ts.Location() != time.UTC || !strings.HasSuffix(m[6], "Z") {
			t.Errorf("CREATED %q is not RFC 3339 UTC: %v", m[6], err)
		}
		// Aligned: every column starts where its header does.
		for _, col := range []string{"USERNAME", "EMAIL", "2FA", "PASSKEYS", "CREATED"} {
			at := strings.Index(lines[0], col)
			if at >= len(l) || l[at] == ' ' || l[at-1] != ' ' {
				t.Errorf("column %s misaligned in %q", col, l)
			}
		}
	}
}

// TestCLIDeleteLastUser: the last user is never deleted.
func TestCLIDeleteLastUser(t *testing.T) {
	dir := cliNewDB(t)
	code, stdout, stderr := cliExec(t, "", "user", "delete", "admin", "--data", dir)
	cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{"cannot delete the last user"})
	cliWith(t, dir, func(s *model.Store) {
		if !cliHasUser(t, s, "admin") {
			t.Error("the last user was deleted")
		}
	})
}

// cliCheckBackup checks that file is a complete database holding the users.
func cliCheckBackup(t *testing.T, file string, users ...string) {
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
		if !cliHasUser(t, s, u) {
			t.Errorf("the backup lacks user %s", u)
		}
	}
}

func TestCLIBackup(t *testing.T) {
	dir := cliNewDB(t)
	if code, _, stderr := cliExec(t, "Passw0rd-ok\n", "user", "add", "bob", "--email", "bob@example.com", "--password-stdin", "--data", dir); code != 0 {
		t.Fatal(stderr)
	}
	out := t.TempDir()
	file := filepath.Join(out, "gatehouse-backup.db")

	code, stdout, stderr := cliExec(t, "", "backup", file, "--data", dir)
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"backup written to " + file + " ("}, nil)
	fi, _ := os.Stat(file)
	if want := fmt.Sprintf("(%d bytes)\n", fi.Size()); !strings.HasSuffix(stdout, want) {
		t.Errorf("stdout %q, want the size %s", stdout, want)
	}
	cliCheckBackup(t, file, "admin", "bob")

	t.Run("existing file refused", func(t *testing.T) {
		other := filepath.Join(out, "precious")
		os.WriteFile(other, []byte("keep me"), 0o644)
		code, stdout, stderr := cliExec(t, "", "backup", other, "--data", dir)
		cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{other + " exists; use --force to overwrite"})
		if b, _ := os.ReadFile(other); string(b) != "keep me" {
			t.Errorf("the existing file changed: %q", b)
		}
	})
	t.Run("--force overwrites, before or after FILE", func(t *testing.T) {
		for _, args := range [][]string{{"backup", file, "--force"}, {"backup", "--force", file}} {
			code, stdout, stderr := cliExec(t, "", append(args, "--data", dir)...)
			cliCheckOutput(t, code, stdout, stderr, 0, []string{"backup written to"}, nil)
			cliCheckBackup(t, file, "admin", "bob")
		}
	})
	t.Run("not over the database itself", func(t *testing.T) {
		db := filepath.Join(dir, model.DBFile)
		code, stdout, stderr := cliExec(t, "", "backup", db, "--force", "--data", dir)
		cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{"is the database itself"})
	})
	t.Run("not onto a directory", func(t *testing.T) {
		code, stdout, stderr := cliExec(t, "", "backup", out, "--force", "--data", dir)
		cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{"is a directory"})
	})
	t.Run("missing directory", func(t *testing.T) {
		code, stdout, stderr := cliExec(t, "", "backup", filepath.Join(out, "nope", "b.db"), "--data", dir)
		cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{"no such file or directory"})
		if _, err := os.Stat(filepath.Join(out, "nope")); err == nil {
			t.Error("the missing directory was created")
		}
	})
	t.Run("usage", func(t *testing.T) {
		code, _, stderr := cliExec(t, "", "backup", "--data", dir)
		cliCheckOutput(t, code, "", stderr, 1, nil, []string{"backup needs FILE"})
	})
}

// TestWriteBackupFailure: a failing copy (a full disk) leaves neither the
// file nor the partial file behind and reports the reason.
func TestWriteBackupFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  func(w io.Writer) (int64, error)
		want string
	}{
		{"disk full", func(w io.Writer) (int64, error) {
			n, _ := w.Write(bytes.Repeat([]byte{1}, 4096))
			return int64(n), fmt.Errorf("write: %w", syscall.ENOSPC)
		}, "no space left on device"},
		{"short copy", func(w io.Writer) (int64, error) {
			w.Write([]byte("abc"))
			return 4096, nil
		}, "holds 3 bytes, the database sent 4096"},
		{"empty copy", func(w io.Writer) (int64, error) { return 0, nil }, "holds 0 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "b.db")
			_, err := writeBackup(file, tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("files left behind: %v", ents)
			}
		})
	}
}

// TestCLINoDatabase: no command but serve creates a database; each names
// where it looked and leaves the directory as it was.
func TestCLINoDatabase(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"list", "", []string{"user", "list"}},
		{"add", "Passw0rd-ok\n", []string{"user", "add", "bob", "--email", "bob@example.com", "--password-stdin"}},
		{"passwd", "Passw0rd-ok\n", []string{"user", "passwd", "bob", "--password-stdin"}},
		{"delete", "", []string{"user", "delete", "bob"}},
		{"backup", "", []string{"backup", "BACKUP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			empty := filepath.Join(base, "empty")
			missing := filepath.Join(base, "missing")
			os.Mkdir(empty, 0o700)
			for _, dir := range []string{empty, missing} {
				backup := filepath.Join(base, "backup.db")
				args := append([]string{}, tc.args...)
				for i, a := range args {
					if a == "BACKUP" {
						args[i] = backup
					}
				}
				code, stdout, stderr := cliExec(t, tc.stdin, append(args, "--data", dir)...)
				cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{"no gatehouse database in " + dir, filepath.Join(dir, model.DBFile)})
				if _, err := os.Stat(backup); err == nil {
					t.Error("a backup file was created")
				}
			}
			if ents, _ := os.ReadDir(empty); len(ents) != 0 {
				t.Errorf("files created in the empty directory: %v", ents)
			}
			if _, err := os.Stat(missing); err == nil {
				t.Error("the missing data directory was created")
			}
		})
	}
}

// TestRunCLIEnvironment drives the exported entry point, with the data
// directory from GATEHOUSE_DATA and a relative --data.
func TestRunCLIEnvironment(t *testing.T) {
	dir := cliNewDB(t)
	t.Setenv("GATEHOUSE_DATA", dir)
	var out, errb bytes.Buffer
	if code := RunCLI(context.Background(), []string{"user", "list"}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "admin@example.com") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}

	t.Chdir(filepath.Dir(dir))
	t.Setenv("GATEHOUSE_DATA", "/nonexistent")
	out.Reset()
	if code := RunCLI(context.Background(), []string{"user", "list", "--data", filepath.Base(dir)}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "admin") {
		t.Fatalf("--data must win over GATEHOUSE_DATA: exit %d: %s", code, errb.String())
	}
}

// TestCLIHelp: help goes to stdout with status 0.
func TestCLIHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"user", "--help"}, []string{"gatehouse user add NAME", "gatehouse user delete NAME", "gatehouse user list"}},
		{[]string{"user", "add", "--help"}, []string{"Usage: gatehouse user add NAME", "--email", "--password-stdin", "--data"}},
		{[]string{"backup", "-h"}, []string{"Usage: gatehouse backup FILE", "--force"}},
	} {
		code, stdout, stderr := cliExec(t, "", tc.args...)
		cliCheckOutput(t, code, stdout, stderr, 0, tc.want, nil)
	}
}

// TestCLIRequestFlags: flag values survive the trip to the panel exactly,
// including repeatable flags whose values hold commas (the later token
// command's --ip).
func TestCLIRequestFlags(t *testing.T) {
	define := func(fs *pflag.FlagSet) {
		fs.StringArray("ip", nil, "")
		fs.StringSlice("tag", nil, "")
		fs.String("expires", "90d", "")
		fs.Bool("force", false, "")
	}
	client := pflag.NewFlagSet("x", pflag.ContinueOnError)
	define(client)
	client.String("data", "", "")
	if err := client.Parse([]string{"--ip", "10.0.0.0/8", "--ip", "a,b", "--tag", "x,y", "--force", "--data", "/d"}); err != nil {
		t.Fatal(err)
	}
	flags := requestFlags(client)
	if _, ok := flags["data"]; ok {
		t.Error("--data was sent to the panel")
	}
	server := pflag.NewFlagSet("x", pflag.ContinueOnError)
	define(server)
	for name, vals := range flags {
		if err := setFlag(server, name, vals); err != nil {
			t.Fatal(err)
		}
	}
	ips, _ := server.GetStringArray("ip")
	tags, _ := server.GetStringSlice("tag")
	exp, _ := server.GetString("expires")
	force, _ := server.GetBool("force")
	if fmt.Sprint(ips) != "[10.0.0.0/8 a,b]" || fmt.Sprint(tags) != "[x y]" || exp != "90d" || !force || !server.Changed("ip") {
		t.Errorf("got ip=%q tag=%q expires=%q force=%v", ips, tags, exp, force)
	}
	if err := setFlag(server, "data", []string{"/x"}); err == nil {
		t.Error("a client-only flag was accepted from a request")
	}
	if err := setFlag(server, "nope", []string{"1"}); err == nil {
		t.Error("an unknown flag was accepted from a request")
	}
}

// cliOpenPTY opens a pseudo-terminal pair: the CLI reads the slave as its
// terminal, the test types into the master.
func cliOpenPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pty slave: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestCLIPasswordPrompt types the password at a real (pseudo-)terminal:
// asked twice, the two must match.
func TestCLIPasswordPrompt(t *testing.T) {
	dir := cliNewDB(t)
	for _, tc := range []struct {
		name     string
		typed    string
		wantCode int
		wantErr  string
	}{
		{"matching", "Passw0rd-ok\nPassw0rd-ok\n", 0, "New password for matching: \nRepeat the password: \n"},
		{"mismatch", "Passw0rd-ok\nPassw0rd-ko\n", 1, "the passwords do not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			master, slave := cliOpenPTY(t)
			// The terminal buffers the lines until the prompts read them.
			if _, err := master.WriteString(tc.typed); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			name := strings.ToLower(tc.name)
			code := runCLI(context.Background(), []string{"user", "add", name, "--email", name + "@example.com", "--data", dir}, cliEnv{
				stdin: slave, stdout: &out, stderr: &errb,
				getenv: func(string) string { return "" },
				open:   model.Options{Argon2: cliCheapArgon2},
			})
			if code != tc.wantCode || !strings.Contains(errb.String(), tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errb.String(), tc.wantCode, tc.wantErr)
			}
			cliWith(t, dir, func(s *model.Store) {
				_, err := s.Authenticate(context.Background(), name, "Passw0rd-ok")
				if (err == nil) != (tc.wantCode == 0) {
					t.Errorf("%s's login with the typed password: %v", name, err)
				}
			})
		})
	}
}
