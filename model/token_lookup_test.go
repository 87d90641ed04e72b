package model_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestTokenLookupCache checks that the lookup cache never serves a token or
// user that a write has changed or deleted: every change is visible to the
// very next lookup.
func TestTokenLookupCache(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	u := testkit.AddUser(t, s, "alice")
	testkit.AddUser(t, s, "bob")
	exp := s.Now().Add(time.Hour)
	value, tok, err := s.CreateToken(u.ID, model.NewToken{ExpiresAt: exp}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func() (model.Token, model.User, error) { return s.TokenByValue(value) }
	for i := 0; i < 2; i++ { // the second lookup is served by the cache
		if got, gu, err := lookup(); err != nil || got.ID != tok.ID || gu.Username != "alice" {
			t.Fatalf("lookup %d: %v %v %v", i, got.ID, gu.Username, err)
		}
	}
	// A rename shows at once.
	name := "alice2"
	if _, err := s.UpdateUser(u.ID, model.UserPatch{Username: &name}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if _, gu, err := lookup(); err != nil || gu.Username != "alice2" {
		t.Fatalf("after rename: %q %v", gu.Username, err)
	}
	// A changed white list shows at once.
	ips := []string{"192.0.2.0/24"}
	if _, err := s.UpdateToken(u.ID, tok.ID, model.TokenPatch{IPs: &ips}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if got, _, err := lookup(); err != nil || len(got.IPs) != 1 || got.IPs[0] != "192.0.2.0/24" {
		t.Fatalf("after modify: %v %v", got.IPs, err)
	}
	// A deleted token stops at once.
	if err := s.DeleteToken(u.ID, tok.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if _, _, err := lookup(); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("deleted token still found: %v", err)
	}
	// A deleted user's tokens stop at once.
	value2, _, err := s.CreateToken(u.ID, model.NewToken{ExpiresAt: exp}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TokenByValue(value2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(u.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TokenByValue(value2); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("token of a deleted user still found: %v", err)
	}
}

// TestTokenUserHasNoSecrets: the user a token acts as is loaded without
// secrets, and every other field matches the stored user.
func TestTokenUserHasNoSecrets(t *testing.T) {
	t.Parallel()
	s, clock, alice := tokenStore(t)
	e, err := model.NewTOTPEnrollment(alice, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	code, _ := model.TOTPCode(e.Secret, model.TOTPStep(clock.Now()))
	if _, err := s.EnableTwoFactor(e, code, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	value, _, err := s.CreateToken(alice.ID, model.NewToken{ExpiresAt: clock.Now().Add(time.Hour)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	_, got, err := s.TokenByValue(value)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := s.User(alice.ID)
	if got.PasswordHash != "" || got.TOTPSecret != nil || got.RecoveryHashes != nil {
		t.Errorf("the token's user carries secrets: %+v", got)
	}
	want.PasswordHash, want.TOTPSecret, want.RecoveryHashes = "", nil, nil
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) || !got.TwoFactor || got.Email != "alice@example.com" {
		t.Errorf("token user %+v\nstored     %+v", got, want)
	}
}
