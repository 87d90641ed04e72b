package model_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestSignInRefusedEverywhere makes SignInAllowed refuse one user (through
// model.SetSignInRule, the seam for tests) and checks that each of the five entry
// points refuses that user with ErrSignInRefused, and with its usual
// failure so that callers written before the rule refuse too, while
// another user still gets in. The table is the list in SignInAllowed's
// doc comment: a new way to sign in belongs in both. Not parallel: the
// rule is package state, and parallel tests start only after this one.
func TestSignInRefusedEverywhere(t *testing.T) {
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	ctx := context.Background()
	users := map[string]model.User{
		"alice": testkit.CreateUser(t, s, "alice", "alice-pass-1", "alice@example.com"),
		"bob":   testkit.CreateUser(t, s, "bob", "bob-pass-1", "bob@example.com"),
	}
	type secrets struct{ session, token, credential string }
	held := map[string]secrets{}
	for name, u := range users {
		session, _, err := s.CreateSession(u.ID, "192.0.2.1", "test", model.ActorFor(u, "192.0.2.1"), "password")
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := s.CreateToken(u.ID, model.NewToken{ExpiresAt: clock.Now().Add(time.Hour)}, model.CLIActor)
		if err != nil {
			t.Fatal(err)
		}
		credential := "cred-" + name
		if _, err := s.AddPasskey(u.ID, model.NewPasskeyHandle(), samplePasskey(credential, "laptop"), model.CLIActor); err != nil {
			t.Fatal(err)
		}
		held[name] = secrets{session, token, credential}
	}
	policy := model.SessionPolicy{Idle: time.Hour, Max: time.Hour}
	entryPoints := []struct {
		name  string
		usual error
		call  func(name string) error
	}{
		{"Authenticate (password login)", model.ErrInvalidCredentials, func(name string) error {
			_, err := s.Authenticate(ctx, name, name+"-pass-1")
			return err
		}},
		{"SessionByToken (session cookie)", model.ErrNotFound, func(name string) error {
			_, _, err := s.SessionByToken(held[name].session, policy)
			return err
		}},
		{"TokenByValue (access token)", model.ErrNotFound, func(name string) error {
			_, _, err := s.TokenByValue(held[name].token)
			return err
		}},
		{"PasskeyByCredentialID (passkey login)", model.ErrNotFound, func(name string) error {
			_, _, _, err := s.PasskeyByCredentialID([]byte(held[name].credential))
			return err
		}},
		{"UserForSignIn (second step of a 2FA login)", model.ErrNotFound, func(name string) error {
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
	model.SetSignInRule(t, func(u model.User) error {
		if u.ID == refused {
			return errors.New("refused by the test")
		}
		return nil
	})
	for _, ep := range entryPoints {
		t.Run(ep.name, func(t *testing.T) {
			err := ep.call("alice")
			if !errors.Is(err, model.ErrSignInRefused) || !errors.Is(err, ep.usual) {
				t.Errorf("the refused user: %v, want ErrSignInRefused and %v", err, ep.usual)
			}
			if err := ep.call("bob"); err != nil {
				t.Errorf("another user: %v", err)
			}
		})
	}
	// A wrong password stays a wrong password: the refusal is no answer
	// to someone who does not know it.
	if _, err := s.Authenticate(ctx, "alice", "wrong-pass-1"); !errors.Is(err, model.ErrInvalidCredentials) || errors.Is(err, model.ErrSignInRefused) {
		t.Errorf("the refused user with a wrong password: %v, want only ErrInvalidCredentials", err)
	}
	if err := users["alice"].SignInAllowed(); !errors.Is(err, model.ErrSignInRefused) {
		t.Errorf("SignInAllowed = %v, want ErrSignInRefused", err)
	}
}

// TestSignInAllowedByDefault: today every user may sign in.
func TestSignInAllowedByDefault(t *testing.T) {
	t.Parallel()
	for _, u := range []model.User{{}, {ID: 1, Username: "admin"}, {ID: 2, TwoFactor: true, Passkeys: 3}} {
		if err := u.SignInAllowed(); err != nil {
			t.Errorf("SignInAllowed(%+v) = %v", u, err)
		}
	}
}
