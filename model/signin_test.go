package model

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestSignInRefusedEverywhere makes SignInAllowed refuse one user (through
// signInRule, the seam for tests) and checks that each of the five entry
// points refuses that user with ErrSignInRefused, and with its usual
// failure so that callers written before the rule refuse too, while
// another user still gets in. The table is the list in SignInAllowed's
// doc comment: a new way to sign in belongs in both.
func TestSignInRefusedEverywhere(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, withClock(clock))
	ctx := context.Background()
	users := map[string]User{
		"alice": mustCreate(t, s, "alice", "alice-pass-1", "alice@example.com"),
		"bob":   mustCreate(t, s, "bob", "bob-pass-1", "bob@example.com"),
	}
	type secrets struct{ session, token, credential string }
	held := map[string]secrets{}
	for name, u := range users {
		session, _, err := s.CreateSession(u.ID, "192.0.2.1", "test", ActorFor(u, "192.0.2.1"), "password")
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := s.CreateToken(u.ID, NewToken{ExpiresAt: clock.Now().Add(time.Hour)}, CLIActor)
		if err != nil {
			t.Fatal(err)
		}
		credential := "cred-" + name
		if _, err := s.AddPasskey(u.ID, NewPasskeyHandle(), pkFixture(credential, "laptop"), CLIActor); err != nil {
			t.Fatal(err)
		}
		held[name] = secrets{session, token, credential}
	}
	policy := SessionPolicy{Idle: time.Hour, Max: time.Hour}
	entryPoints := []struct {
		name  string
		usual error
		call  func(name string) error
	}{
		{"Authenticate (password login)", ErrInvalidCredentials, func(name string) error {
			_, err := s.Authenticate(ctx, name, name+"-pass-1")
			return err
		}},
		{"SessionByToken (session cookie)", ErrNotFound, func(name string) error {
			_, _, err := s.SessionByToken(held[name].session, policy)
			return err
		}},
		{"TokenByValue (access token)", ErrNotFound, func(name string) error {
			_, _, err := s.TokenByValue(held[name].token)
			return err
		}},
		{"PasskeyByCredentialID (passkey login)", ErrNotFound, func(name string) error {
			_, _, _, err := s.PasskeyByCredentialID([]byte(held[name].credential))
			return err
		}},
		{"UserForSignIn (second step of a 2FA login)", ErrNotFound, func(name string) error {
			_, err := s.UserForSignIn(users[name].ID)
			return err
		}},
	}
	// Before the rule refuses anyone, both get in everywhere (this also
	// fills the token lookup cache, which must not let alice in later).
	for _, ep := range entryPoints {
		for name := range users {
			if err := ep.call(name); err != nil {
				t.Fatalf("%s for %s before any refusal: %v", ep.name, name, err)
			}
		}
	}

	refused := users["alice"].ID
	defer func(rule func(User) error) { signInRule = rule }(signInRule)
	signInRule = func(u User) error {
		if u.ID == refused {
			return errors.New("refused by the test")
		}
		return nil
	}
	for _, ep := range entryPoints {
		t.Run(ep.name, func(t *testing.T) {
			err := ep.call("alice")
			if !errors.Is(err, ErrSignInRefused) || !errors.Is(err, ep.usual) {
				t.Errorf("the refused user: %v, want ErrSignInRefused and %v", err, ep.usual)
			}
			if err := ep.call("bob"); err != nil {
				t.Errorf("another user: %v", err)
			}
		})
	}
	// A wrong password stays a wrong password: the refusal is no answer
	// to someone who does not know it.
	if _, err := s.Authenticate(ctx, "alice", "wrong-pass-1"); !errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrSignInRefused) {
		t.Errorf("the refused user with a wrong password: %v, want only ErrInvalidCredentials", err)
	}
	if err := users["alice"].SignInAllowed(); !errors.Is(err, ErrSignInRefused) {
		t.Errorf("SignInAllowed = %v, want ErrSignInRefused", err)
	}
}

// TestSignInAllowedByDefault: today every user may sign in.
func TestSignInAllowedByDefault(t *testing.T) {
	for _, u := range []User{{}, {ID: 1, Username: "admin"}, {ID: 2, TwoFactor: true, Passkeys: 3}} {
		if err := u.SignInAllowed(); err != nil {
			t.Errorf("SignInAllowed(%+v) = %v", u, err)
		}
	}
}
