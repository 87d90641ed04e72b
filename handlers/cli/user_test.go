package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestCLIUserCommands runs the user commands one after another on one
// database, checking the output and what the database holds after each.
func TestCLIUserCommands(t *testing.T) {
	t.Parallel()
	dir := newDB(t)
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
			after: func(t *testing.T, s *model.Store) { wantNoUser(t, s, "eve") },
		},
		{
			name: "missing email", stdin: "Passw0rd-ok\n",
			args:     []string{"user", "add", "eve", "--password-stdin"},
			wantCode: 1, wantErr: []string{"email is required"},
			after: func(t *testing.T, s *model.Store) { wantNoUser(t, s, "eve") },
		},
		{
			name: "short password", stdin: "abc12\n",
			args:     []string{"user", "add", "eve", "--email", "eve@example.com", "--password-stdin"},
			wantCode: 1, wantErr: []string{"password must be 8 to 20 characters long"},
			after: func(t *testing.T, s *model.Store) { wantNoUser(t, s, "eve") },
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
			after: func(t *testing.T, s *model.Store) { wantNoUser(t, s, "eve") },
		},
		{
			name: "list",
			args: []string{"user", "list"},
			before: func(t *testing.T, s *model.Store) {
				testkit.EnableTwoFactor(t, s, mustUser(t, s, "carol"))
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
			after: func(t *testing.T, s *model.Store) { wantNoUser(t, s, "carol") },
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
		{
			name: "add an admin", stdin: "Passw0rd-ok\n",
			args:     []string{"user", "add", "frank", "--email", "frank@example.com", "--role", "admin", "--password-stdin"},
			wantCode: 0, wantOut: []string{"user frank created"},
			after: func(t *testing.T, s *model.Store) { wantRole(t, s, "frank", model.RoleAdmin) },
		},
		{
			name: "add with an unknown role", stdin: "Passw0rd-ok\n",
			args:     []string{"user", "add", "gina", "--email", "gina@example.com", "--role", "root", "--password-stdin"},
			wantCode: 1, wantErr: []string{"role must be admin or member"},
		},
		{
			name:     "role",
			args:     []string{"user", "role", "bob", "admin"},
			wantCode: 0, wantOut: []string{"bob is now admin"},
			after: func(t *testing.T, s *model.Store) { wantRole(t, s, "bob", model.RoleAdmin) },
		},
		{
			name:     "role unknown",
			args:     []string{"user", "role", "bob", "root"},
			wantCode: 1, wantErr: []string{"role must be admin or member"},
			after: func(t *testing.T, s *model.Store) { wantRole(t, s, "bob", model.RoleAdmin) },
		},
		{
			name:     "disable",
			args:     []string{"user", "disable", "bob"},
			wantCode: 0, wantOut: []string{"bob is disabled"},
			after: func(t *testing.T, s *model.Store) {
				if _, err := s.Authenticate(context.Background(), "bob", "N3w-password"); !errors.Is(err, model.ErrSignInRefused) {
					t.Errorf("disabled bob signed in: %v", err)
				}
				if ev, _, _ := s.AuditEvents(model.AuditFilter{Action: model.EventUserDisabled, Limit: 10}); len(ev) != 1 || ev[0].Via != model.ViaCLI {
					t.Errorf("audit of the disable: %+v", ev)
				}
			},
		},
		{
			name:     "enable",
			args:     []string{"user", "enable", "bob"},
			wantCode: 0, wantOut: []string{"bob is enabled"},
			after: func(t *testing.T, s *model.Store) {
				if _, err := s.Authenticate(context.Background(), "bob", "N3w-password"); err != nil {
					t.Errorf("enabled bob cannot sign in: %v", err)
				}
			},
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
				withStore(t, dir, func(s *model.Store) { st.before(t, s) })
			}
			args := st.args
			if !slices.Contains(args, "--data") && !strings.HasPrefix(st.name, "usage") {
				args = append(append([]string{}, args...), "--data", dir)
			}
			code, stdout, stderr := runCmd(t, st.stdin, args...)
			checkOutput(t, code, stdout, stderr, st.wantCode, st.wantOut, st.wantErr)
			if st.after != nil {
				withStore(t, dir, func(s *model.Store) { st.after(t, s) })
			}
		})
	}
	// Every change was audited as made by the CLI.
	withStore(t, dir, func(s *model.Store) {
		got := strings.Join(auditActors(t, s), "\n")
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

// TestCLIListTable checks the table's columns and their alignment.
func TestCLIListTable(t *testing.T) {
	t.Parallel()
	dir := newDB(t)
	for _, args := range [][]string{
		{"user", "add", "bob", "--email", "bob@example.com", "--password-stdin"},
		{"user", "add", "a-much-longer-username", "--email", "long@example.com", "--password-stdin"},
	} {
		if code, _, stderr := runCmd(t, "Passw0rd-ok\n", append(args, "--data", dir)...); code != 0 {
			t.Fatalf("%v: %s", args, stderr)
		}
	}
	withStore(t, dir, func(s *model.Store) { testkit.EnableTwoFactor(t, s, mustUser(t, s, "bob")) })

	code, stdout, stderr := runCmd(t, "", "user", "list", "--data", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header and 3 rows, got:\n%s", stdout)
	}
	header := regexp.MustCompile(`^ID +USERNAME +EMAIL +2FA +PASSKEYS +CREATED +ROLE +STATUS$`)
	if !header.MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	row := regexp.MustCompile(`^(\d+) +(\S+) +(\S+) +(on|off) +(\d+) +(\S+) +(admin|member) +enabled$`)
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
		for _, col := range []string{"USERNAME", "EMAIL", "2FA", "PASSKEYS", "CREATED", "ROLE", "STATUS"} {
			at := strings.Index(lines[0], col)
			if at >= len(l) || l[at] == ' ' || l[at-1] != ' ' {
				t.Errorf("column %s misaligned in %q", col, l)
			}
		}
	}
}

// TestCLIDeleteLastUser: the last user is never deleted.
func TestCLIDeleteLastUser(t *testing.T) {
	t.Parallel()
	dir := newDB(t)
	code, stdout, stderr := runCmd(t, "", "user", "delete", "admin", "--data", dir)
	checkOutput(t, code, stdout, stderr, 1, nil, []string{"cannot delete the last user"})
	withStore(t, dir, func(s *model.Store) {
		if !hasUser(t, s, "admin") {
			t.Error("the last user was deleted")
		}
	})
}

// twoFactorState describes the 2FA fields of a user, for before/after checks.
func twoFactorState(t *testing.T, s *model.Store, name string) (on bool, sealed, hashes int) {
	t.Helper()
	u, err := s.UserByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return u.TwoFactor, len(u.TOTPSecret), len(u.RecoveryHashes)
}

// TestCLI2FAOff turns 2FA off on the stopped database, audited as a reset
// by the CLI, and leaves the other users' 2FA alone.
func TestCLI2FAOff(t *testing.T) {
	t.Parallel()
	dir := newDB(t)
	withStore(t, dir, func(s *model.Store) {
		testkit.AddUser(t, s, "bob")
		testkit.EnableTwoFactor(t, s, mustUser(t, s, "admin"))
		testkit.EnableTwoFactor(t, s, mustUser(t, s, "bob"))
	})
	run := func(args ...string) (int, string, string) {
		return runCmd(t, "", append(args, "--data", dir)...)
	}

	code, stdout, stderr := run("user", "2fa-off", "BOB")
	checkOutput(t, code, stdout, stderr, 0, []string{"two-factor authentication of bob is off", "secret and recovery codes were deleted"}, nil)
	withStore(t, dir, func(s *model.Store) {
		if on, sealed, hashes := twoFactorState(t, s, "bob"); on || sealed != 0 || hashes != 0 {
			t.Errorf("bob after 2fa-off: on %v, sealed secret %d bytes, %d recovery hashes", on, sealed, hashes)
		}
		if on, _, _ := twoFactorState(t, s, "admin"); !on {
			t.Error("2fa-off bob turned admin's 2FA off")
		}
	})

	// Again: nothing to do, nothing audited.
	code, stdout, stderr = run("user", "2fa-off", "bob")
	checkOutput(t, code, stdout, stderr, 0, []string{"two-factor authentication of bob was already off"}, nil)
	code, stdout, stderr = run("user", "2fa-off", "zed")
	checkOutput(t, code, stdout, stderr, 1, nil, []string{`no user named "zed"`})
	code, stdout, stderr = runCmd(t, "", "user", "2fa-off")
	checkOutput(t, code, stdout, stderr, 1, nil, []string{"needs NAME"})

	withStore(t, dir, func(s *model.Store) {
		got := auditActors(t, s)
		n := 0
		for _, e := range got {
			if strings.HasPrefix(e, "2fa.") && strings.HasSuffix(e, " on bob") && !strings.HasPrefix(e, "2fa.enabled") {
				n++
				if e != "2fa.reset by cli on bob" {
					t.Errorf("audit event %q, want 2fa.reset by cli on bob", e)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d 2FA events on bob, want one 2fa.reset:\n%s", n, strings.Join(got, "\n"))
		}
	})
}

// TestCLI2FAOffWithoutKeyFile: with the key file lost, the panel refuses to
// start while sealed secrets exist; 2fa-off works on the stopped database
// without the key, and afterwards the panel starts again (with a new key).
func TestCLI2FAOffWithoutKeyFile(t *testing.T) {
	t.Parallel()
	dir := newDB(t)
	withStore(t, dir, func(s *model.Store) { testkit.EnableTwoFactor(t, s, mustUser(t, s, "admin")) })
	if err := os.Remove(filepath.Join(dir, model.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if s, err := model.Open(dir, model.Options{Create: true, Argon2: testkit.Argon2()}); err == nil {
		s.Close()
		t.Fatal("serve would start without the key file while a sealed secret exists")
	} else if !strings.Contains(err.Error(), "gatehouse user 2fa-off NAME") {
		t.Errorf("the refusal does not say what to do: %v", err)
	}

	code, stdout, stderr := runCmd(t, "", "user", "2fa-off", "admin", "--data", dir)
	checkOutput(t, code, stdout, stderr, 0, []string{"two-factor authentication of admin is off"}, nil)
	if _, err := os.Stat(filepath.Join(dir, model.KeyFile)); err == nil {
		t.Error("the CLI made a new key file")
	}
	s, err := model.Open(dir, model.Options{Create: true, Argon2: testkit.Argon2()})
	if err != nil {
		t.Fatalf("serve still refuses after 2fa-off: %v", err)
	}
	defer s.Close()
	if on, sealed, _ := twoFactorState(t, s, "admin"); on || sealed != 0 {
		t.Errorf("admin: on %v, sealed %d", on, sealed)
	}
	if got := strings.Join(auditActors(t, s), "\n"); !strings.Contains(got, "2fa.reset by cli on admin") {
		t.Errorf("audit lacks 2fa.reset by cli on admin:\n%s", got)
	}
}

// TestCLI2FAOffInPanel: while the panel holds the database, 2fa-off runs
// inside it through the control socket.
func TestCLI2FAOffInPanel(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	srv := startPanel(t, dir)
	testkit.EnableTwoFactor(t, srv.store, mustUser(t, srv.store, "admin"))
	code, stdout, stderr := runCmd(t, "", "user", "2fa-off", "admin", "--data", dir)
	checkOutput(t, code, stdout, stderr, 0, []string{"two-factor authentication of admin is off"}, nil)
	if on, sealed, hashes := twoFactorState(t, srv.store, "admin"); on || sealed != 0 || hashes != 0 {
		t.Errorf("admin after 2fa-off: on %v, sealed %d, hashes %d", on, sealed, hashes)
	}
	if got := strings.Join(auditActors(t, srv.store), "\n"); !strings.Contains(got, "2fa.reset by cli on admin") {
		t.Errorf("audit lacks 2fa.reset by cli on admin:\n%s", got)
	}
}

// TestCLIUnicodeLookalikeName: a command names a user byte for byte after
// ASCII lower-casing; the Kelvin sign (U+212A) + "ate" is not kate.
func TestCLIUnicodeLookalikeName(t *testing.T) {
	dir := newDB(t)
	withStore(t, dir, func(s *model.Store) { testkit.AddUser(t, s, "kate") })
	code, stdout, stderr := runCmd(t, "", "user", "delete", "\u212Aate", "--data", dir)
	checkOutput(t, code, stdout, stderr, 1, nil, []string{"no user named"})
	code, stdout, stderr = runCmd(t, "", "user", "delete", "KATE", "--data", dir)
	checkOutput(t, code, stdout, stderr, 0, []string{"user kate deleted"}, nil)
}

// wantRole fails the test unless the user named name has role.
func wantRole(t *testing.T, s *model.Store, name, role string) {
	t.Helper()
	if u, err := s.UserByName(name); err != nil || u.Role != role {
		t.Errorf("%s: role %q (%v), want %q", name, u.Role, err, role)
	}
}
