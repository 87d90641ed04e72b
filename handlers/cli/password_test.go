package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// openPTY opens a pseudo-terminal pair: the CLI reads the slave as its
// terminal, the test types into the master.
func openPTY(t *testing.T) (master, slave *os.File) {
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
	t.Parallel()
	dir := newDB(t)
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
			master, slave := openPTY(t)
			// The terminal buffers the lines until the prompts read them.
			if _, err := master.WriteString(tc.typed); err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			name := strings.ToLower(tc.name)
			code := run(context.Background(), []string{"user", "add", name, "--email", name + "@example.com", "--data", dir}, env{
				stdin: slave, stdout: &out, stderr: &errb,
				getenv: func(string) string { return "" },
				open:   model.Options{Argon2: testkit.Argon2()},
			})
			if code != tc.wantCode || !strings.Contains(errb.String(), tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, errb.String(), tc.wantCode, tc.wantErr)
			}
			withStore(t, dir, func(s *model.Store) {
				_, err := s.Authenticate(context.Background(), name, "Passw0rd-ok")
				if (err == nil) != (tc.wantCode == 0) {
					t.Errorf("%s's login with the typed password: %v", name, err)
				}
			})
		})
	}
}
