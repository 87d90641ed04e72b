package handlers

// Tests of `gatehouse user 2fa-off NAME`, the lock-out recovery command:
// on the stopped database (also without its key file, which is exactly
// when it is needed) and inside a running panel through the control socket.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
)

// cli2faState describes the 2FA fields of a user, for before/after checks.
func cli2faState(t *testing.T, s *model.Store, name string) (on bool, sealed, hashes int) {
	t.Helper()
	u, err := s.UserByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return u.TOTPEnabled, len(u.TOTPSecret), len(u.RecoveryHashes)
}

// TestCLI2FAOff turns 2FA off on the stopped database, audited as a reset
// by the CLI, and leaves the other users' 2FA alone.
func TestCLI2FAOff(t *testing.T) {
	dir := cliNewDB(t)
	cliWith(t, dir, func(s *model.Store) {
		cli2faCreateUser(t, s, "bob")
		cliEnableTOTP(t, s, "admin")
		cliEnableTOTP(t, s, "bob")
	})
	run := func(args ...string) (int, string, string) {
		return cliExec(t, "", append(args, "--data", dir)...)
	}

	code, stdout, stderr := run("user", "2fa-off", "BOB")
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"two-factor authentication of bob is off", "secret and recovery codes were deleted"}, nil)
	cliWith(t, dir, func(s *model.Store) {
		if on, sealed, hashes := cli2faState(t, s, "bob"); on || sealed != 0 || hashes != 0 {
			t.Errorf("bob after 2fa-off: on %v, sealed secret %d bytes, %d recovery hashes", on, sealed, hashes)
		}
		if on, _, _ := cli2faState(t, s, "admin"); !on {
			t.Error("2fa-off bob turned admin's 2FA off")
		}
	})

	// Again: nothing to do, nothing audited.
	code, stdout, stderr = run("user", "2fa-off", "bob")
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"two-factor authentication of bob was already off"}, nil)
	code, stdout, stderr = run("user", "2fa-off", "zed")
	cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{`no user named "zed"`})
	code, stdout, stderr = cliExec(t, "", "user", "2fa-off")
	cliCheckOutput(t, code, stdout, stderr, 1, nil, []string{"needs NAME"})

	cliWith(t, dir, func(s *model.Store) {
		got := cliAuditActors(t, s)
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
	dir := cliNewDB(t)
	cliWith(t, dir, func(s *model.Store) { cliEnableTOTP(t, s, "admin") })
	if err := os.Remove(filepath.Join(dir, model.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if s, err := model.Open(dir, model.Options{Create: true, Argon2: cliCheapArgon2}); err == nil {
		s.Close()
		t.Fatal("serve would start without the key file while a sealed secret exists")
	} else if !strings.Contains(err.Error(), "gatehouse user 2fa-off NAME") {
		t.Errorf("the refusal does not say what to do: %v", err)
	}

	code, stdout, stderr := cliExec(t, "", "user", "2fa-off", "admin", "--data", dir)
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"two-factor authentication of admin is off"}, nil)
	if _, err := os.Stat(filepath.Join(dir, model.KeyFile)); err == nil {
		t.Error("the CLI made a new key file")
	}
	s, err := model.Open(dir, model.Options{Create: true, Argon2: cliCheapArgon2})
	if err != nil {
		t.Fatalf("serve still refuses after 2fa-off: %v", err)
	}
	defer s.Close()
	if on, sealed, _ := cli2faState(t, s, "admin"); on || sealed != 0 {
		t.Errorf("admin: on %v, sealed %d", on, sealed)
	}
	if got := strings.Join(cliAuditActors(t, s), "\n"); !strings.Contains(got, "2fa.reset by cli on admin") {
		t.Errorf("audit lacks 2fa.reset by cli on admin:\n%s", got)
	}
}

// TestCLI2FAOffInPanel: while the panel holds the database, 2fa-off runs
// inside it through the control socket.
func TestCLI2FAOffInPanel(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	srv := ctlStart(t, dir, nil)
	cliEnableTOTP(t, srv.store, "admin")
	code, stdout, stderr := cliExec(t, "", "user", "2fa-off", "admin", "--data", dir)
	cliCheckOutput(t, code, stdout, stderr, 0, []string{"two-factor authentication of admin is off"}, nil)
	if on, sealed, hashes := cli2faState(t, srv.store, "admin"); on || sealed != 0 || hashes != 0 {
		t.Errorf("admin after 2fa-off: on %v, sealed %d, hashes %d", on, sealed, hashes)
	}
	if got := strings.Join(cliAuditActors(t, srv.store), "\n"); !strings.Contains(got, "2fa.reset by cli on admin") {
		t.Errorf("audit lacks 2fa.reset by cli on admin:\n%s", got)
	}
}

// cli2faCreateUser creates the user name (password thUserPassword) in s.
func cli2faCreateUser(t *testing.T, s *model.Store, name string) {
	t.Helper()
	if _, err := s.CreateUser(t.Context(), model.NewUser{Username: name, Password: thUserPassword, Email: name + "@example.com"}, model.Actor{Name: "system"}); err != nil {
		t.Fatal(err)
	}
}
