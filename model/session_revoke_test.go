package model_test

import (
	"context"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// EnableTwoFactor ends every session of the user but e.KeepSession.
func TestEnableTwoFactorEndsOtherSessions(t *testing.T) {
	s := testkit.NewStore(t)
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	alice := testkit.CreateUser(t, s, "alice", "password1", "alice@example.com")
	_, keep, _ := s.CreateSession(bob.ID, "", "", model.ActorFor(bob, ""), "password")
	s.CreateSession(bob.ID, "", "", model.ActorFor(bob, ""), "password")
	_, alices, _ := s.CreateSession(alice.ID, "", "", model.ActorFor(alice, ""), "password")
	e, err := model.NewTOTPEnrollment(bob, s.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.KeepSession = keep.ID
	code, _ := model.TOTPCode(e.Secret, model.TOTPStep(s.Now()))
	if _, err := s.EnableTwoFactor(e, code, model.ActorFor(bob, "")); err != nil {
		t.Fatal(err)
	}
	if ss, _ := s.SessionsOf(bob.ID); len(ss) != 1 || ss[0].ID != keep.ID {
		t.Fatalf("bob's sessions after 2FA on: %+v", ss)
	}
	if ss, _ := s.SessionsOf(alice.ID); len(ss) != 1 || ss[0].ID != alices.ID {
		t.Fatalf("alice's sessions: %+v", ss)
	}
}

// CredentialStamp changes with the password and the second factor only.
func TestCredentialStamp(t *testing.T) {
	s := testkit.NewStore(t)
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	stamp := func() string {
		u, err := s.User(bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		return u.CredentialStamp()
	}
	first := stamp()
	newEmail := "new@example.com"
	if _, err := s.UpdateUser(bob.ID, model.UserPatch{Email: &newEmail}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if stamp() != first {
		t.Fatal("an e-mail change changed the stamp")
	}
	if err := s.SetPassword(context.Background(), bob.ID, "password1", "", model.CLIActor); err != nil {
		t.Fatal(err)
	}
	second := stamp()
	if second == first {
		t.Fatal("setting the password (even the same one) kept the stamp")
	}
	testkit.EnableTwoFactor(t, s, bob)
	if stamp() == second {
		t.Fatal("turning 2FA on kept the stamp")
	}
}
