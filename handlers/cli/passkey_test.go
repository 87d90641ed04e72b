package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestCLIPasskeysClear: `gatehouse user passkeys-clear NAME` deletes every
// passkey of the user and no one else's, and says how many. (That a
// cleared passkey no longer signs in is checked in package handlers,
// through a real WebAuthn ceremony.)
func TestCLIPasskeysClear(t *testing.T) {
	t.Parallel()
	dir := newDB(t)
	withStore(t, dir, func(s *model.Store) {
		testkit.AddUser(t, s, "alice")
		for user, creds := range map[string][]string{"alice": {"cred-1", "cred-2"}, "admin": {"cred-3"}} {
			u, err := s.UserByName(user)
			if err != nil {
				t.Fatal(err)
			}
			handle := model.NewPasskeyHandle()
			for _, c := range creds {
				p := model.Passkey{RPID: "localhost", Name: c, CredentialID: []byte(c), PublicKey: []byte("cose-key-" + c), AAGUID: bytes.Repeat([]byte{7}, 16)}
				if _, err := s.AddPasskey(u.ID, handle, p, model.ActorFor(u, "")); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	for _, tc := range []struct {
		name, user string
		code       int
		out, err   string
	}{
		{"two", "alice", 0, "2 passkeys of alice deleted\n", ""},
		{"again", "alice", 0, "alice had no passkeys\n", ""},
		{"one, ignoring case", "ADMIN", 0, "1 passkey of admin deleted\n", ""},
		{"unknown user", "nobody", 1, "", `no user named "nobody"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, "", "user", "passkeys-clear", tc.user, "--data", dir)
			checkOutput(t, code, stdout, stderr, tc.code, nil, nil)
			if stdout != tc.out || !strings.Contains(stderr, tc.err) {
				t.Errorf("stdout %q stderr %q; want %q and %q", stdout, stderr, tc.out, tc.err)
			}
		})
	}
	withStore(t, dir, func(s *model.Store) {
		for _, name := range []string{"alice", "admin"} {
			u, _ := s.UserByName(name)
			if ps, err := s.Passkeys(u.ID); err != nil || len(ps) != 0 || u.Passkeys != 0 {
				t.Errorf("%s keeps passkeys %v (count %d, %v)", name, ps, u.Passkeys, err)
			}
		}
		n := 0
		for _, e := range auditActors(t, s) {
			if strings.HasPrefix(e, model.EventPasskeyDeleted+" by cli on ") {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d %s events by cli, want 3:\n%s", n, model.EventPasskeyDeleted, strings.Join(auditActors(t, s), "\n"))
		}
	})
}
