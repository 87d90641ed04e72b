package handlers

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// Turning 2FA on ends the user's other sessions, which were signed in
// without it; the session that turned it on stays (#9 finding 5).
func TestTwoFactorOnEndsOtherSessions(t *testing.T) {
	t.Run("own account", func(t *testing.T) {
		ta := newTestApp(t)
		bob := testkit.AddUser(t, ta.Store, "bob")
		acting := ta.Session(t, ta.Admin)
		other := ta.Session(t, ta.Admin)
		bobs := ta.Session(t, bob)
		turnOnTwoFactor(t, ta, acting, ta.Admin.ID)
		if !ta.SessionAlive(t, acting) {
			t.Fatal("the session that turned 2FA on ended")
		}
		if ta.SessionAlive(t, other) {
			t.Fatal("another session of the user survived turning 2FA on")
		}
		if !ta.SessionAlive(t, bobs) {
			t.Fatal("another user's session ended")
		}
	})
	t.Run("another user's account", func(t *testing.T) {
		ta := newTestApp(t)
		bob := testkit.AddUser(t, ta.Store, "bob")
		admin := ta.Session(t, ta.Admin)
		bob1, bob2 := ta.Session(t, bob), ta.Session(t, bob)
		turnOnTwoFactor(t, ta, admin, bob.ID)
		if !ta.SessionAlive(t, admin) {
			t.Fatal("the acting admin's session ended")
		}
		if ta.SessionAlive(t, bob1) || ta.SessionAlive(t, bob2) {
			t.Fatal("bob's sessions survived 2FA going on for bob")
		}
	})
}

// A 2FA login whose password step came before a password reset (or a new
// second factor) cannot be finished (#9 finding 5).
func TestTwoFactorLoginRefusedAfterCredentialChange(t *testing.T) {
	for _, tc := range []struct {
		name string
		// change returns the TOTP secret from then on ("" when unchanged).
		change func(t *testing.T, ta *testApp, s *userSession, bob model.User) string
	}{
		{"password reset", func(t *testing.T, ta *testApp, _ *userSession, bob model.User) string {
			if err := ta.Store.SetPassword(context.Background(), bob.ID, "a-new-password-1", "", model.CLIActor); err != nil {
				t.Fatal(err)
			}
			return ""
		}},
		{"2FA set up again", func(t *testing.T, ta *testApp, s *userSession, bob model.User) string {
			if err := ta.Store.DisableTwoFactor(bob.ID, model.CLIActor); err != nil {
				t.Fatal(err)
			}
			ta.Clock.Advance(30 * time.Second)
			secret, _ := turnOnTwoFactor(t, ta, s, bob.ID)
			return secret
		}},
		{"nothing changed", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := newTestApp(t)
			bob := testkit.AddUser(t, ta.Store, "bob")
			admin := ta.Session(t, ta.Admin)
			secret, _ := turnOnTwoFactor(t, ta, admin, bob.ID)
			_, pending := loginPassword(t, ta, "bob", testkit.UserPassword)
			if pending == nil {
				t.Fatal("no pending login after the password step")
			}
			if tc.change != nil {
				if s := tc.change(t, ta, admin, bob); s != "" {
					secret = s
				}
			}
			ta.Clock.Advance(30 * time.Second)
			r := loginCode(t, ta, pending, testkit.Oathtool(t, secret, ta.Clock.Now()))
			c := r.Cookie(sessionCookie)
			loggedIn := r.Status == 303 && c != nil && c.Value != ""
			if want := tc.change == nil; loggedIn != want {
				t.Fatalf("second step: status %d, logged in %v, want %v\n%s", r.Status, loggedIn, want, trimBody(r.Body))
			}
			if !loggedIn && r.Status != 401 {
				t.Fatalf("refused second step: status %d, want 401", r.Status)
			}
		})
	}
}
