package model_test

import (
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestSessionAuthAt: signing in starts the step-up window; a
// re-authentication starts it again; it belongs to the one session.
func TestSessionAuthAt(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	token, sess, err := s.CreateSession(bob.ID, "192.0.2.1", "test", model.ActorFor(bob, "192.0.2.1"), "password")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.CreateSession(bob.ID, "192.0.2.1", "test", model.ActorFor(bob, "192.0.2.1"), "password")
	if err != nil {
		t.Fatal(err)
	}
	if !sess.AuthAt.Equal(clock.Now()) || !sess.AuthenticatedWithin(time.Minute, clock.Now()) {
		t.Fatalf("a new session: AuthAt %v", sess.AuthAt)
	}
	clock.Advance(time.Minute)
	if sess.AuthenticatedWithin(time.Minute, clock.Now()) {
		t.Fatal("authenticated within a minute, a minute later")
	}
	if err := s.MarkReauth(sess.ID); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.SessionByToken(token, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if !got.AuthAt.Equal(clock.Now()) || !got.AuthenticatedWithin(time.Minute, clock.Now()) {
		t.Errorf("after MarkReauth: AuthAt %v, now %v", got.AuthAt, clock.Now())
	}
	got, _, err = s.SessionByToken(other, testPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if got.AuthenticatedWithin(time.Minute, clock.Now()) {
		t.Error("another session of the same user re-authenticated too")
	}
	if (model.Session{}).AuthenticatedWithin(time.Hour, clock.Now()) {
		t.Error("a session without AuthAt counts as authenticated")
	}
}

// TestRemovePasskeysAndTokens: every passkey and token of the user goes,
// each audited; other users keep theirs.
func TestRemovePasskeysAndTokens(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	bob := testkit.AddUser(t, s, "bob")
	carol := testkit.AddUser(t, s, "carol")
	by := model.ActorFor(bob, "192.0.2.1")
	for i, u := range []model.User{bob, bob, carol} {
		if _, _, err := s.CreateToken(u.ID, model.NewToken{ExpiresAt: clock.Now().Add(time.Hour)}, by); err != nil {
			t.Fatal(err)
		}
		p := model.Passkey{Name: "key", RPID: "localhost", CredentialID: []byte{byte(i)}, PublicKey: []byte("public-key")}
		handle, err := s.WebAuthnHandle(u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddPasskey(u.ID, handle, p, by); err != nil {
			t.Fatal(err)
		}
	}
	pks, toks, err := s.RemovePasskeysAndTokens(bob.ID, by)
	if err != nil || pks != 2 || toks != 2 {
		t.Fatalf("RemovePasskeysAndTokens = %d, %d, %v; want 2, 2", pks, toks, err)
	}
	if l, _ := s.Passkeys(bob.ID); len(l) != 0 {
		t.Errorf("bob keeps %d passkeys", len(l))
	}
	if l, _ := s.Tokens(bob.ID); len(l) != 0 {
		t.Errorf("bob keeps %d tokens", len(l))
	}
	if u, _ := s.User(bob.ID); u.Passkeys != 0 {
		t.Errorf("bob's passkey count %d", u.Passkeys)
	}
	if l, _ := s.Passkeys(carol.ID); len(l) != 1 {
		t.Errorf("carol has %d passkeys, want 1", len(l))
	}
	if l, _ := s.Tokens(carol.ID); len(l) != 1 {
		t.Errorf("carol has %d tokens, want 1", len(l))
	}
	events, _, err := s.AuditEvents(model.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range events {
		n[e.Action]++
	}
	if n[model.EventPasskeyDeleted] != 2 || n[model.EventTokenDeleted] != 2 {
		t.Errorf("audit: %v", n)
	}
	if _, _, err := s.RemovePasskeysAndTokens(999, by); err == nil {
		t.Error("an unknown user: no error")
	}
}
