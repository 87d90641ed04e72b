package model_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

var testPolicy = model.SessionPolicy{Idle: time.Hour, Max: 12 * time.Hour}

func TestCreateSession(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	seen := map[string]bool{}
	var tokens []string
	for i := range 5 {
		token, sess, err := s.CreateSession(bob.ID, "192.0.2.1", strings.Repeat("u", 300), model.ActorFor(bob, "192.0.2.1"), "password")
		if err != nil {
			t.Fatal(err)
		}
		if len(token) != 43 || seen[token] || seen[sess.ID] {
			t.Fatalf("session %d: token %q (len %d), repeated token or id", i, token, len(token))
		}
		if sess.ID != model.HashToken(token) || sess.ID == token {
			t.Fatalf("session id %q is not the SHA-256 of the token", sess.ID)
		}
		if sess.UserID != bob.ID || sess.IP != "192.0.2.1" || len(sess.UserAgent) != 256 ||
			!sess.CreatedAt.Equal(clock.Now()) || !sess.LastSeen.Equal(clock.Now()) {
			t.Fatalf("session = %+v", sess)
		}
		seen[token], seen[sess.ID] = true, true
		tokens = append(tokens, token)
	}
	if ss, _ := s.SessionsOf(bob.ID); len(ss) != 5 {
		t.Fatalf("%d sessions stored", len(ss))
	}
	t.Run("unknown user", func(t *testing.T) {
		before := len(allEvents(t, s))
		if _, _, err := s.CreateSession(999, "", "", model.CLIActor, "password"); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("CreateSession(999) = %v, want ErrNotFound", err)
		}
		if n := len(allEvents(t, s)); n != before {
			t.Fatal("a refused session was audited")
		}
	})
	t.Run("tokens are not in the database file", func(t *testing.T) {
		s.Close()
		raw, err := os.ReadFile(filepath.Join(s.Dir(), model.DBFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range tokens {
			if bytes.Contains(raw, []byte(tok)) {
				t.Fatalf("token %s found in the database file", tok)
			}
			if !bytes.Contains(raw, []byte(model.HashToken(tok))) {
				t.Fatalf("hash of token %s not found in the database file", tok)
			}
		}
	})
}

func TestSessionByToken(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	token, sess, err := s.CreateSession(bob.ID, "192.0.2.1", "ua", model.ActorFor(bob, "192.0.2.1"), "password")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"the token", token, true},
		{"empty", "", false},
		{"unknown", model.RandomToken(32), false},
		{"the stored hash is not a token", sess.ID, false},
		{"over-long", strings.Repeat("a", 129), false},
		{"token with a suffix", token + "x", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, u, err := s.SessionByToken(tc.token, testPolicy)
			if !tc.ok {
				if !errors.Is(err, model.ErrNotFound) {
					t.Fatalf("SessionByToken = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil || got.ID != sess.ID || u.ID != bob.ID || u.Username != "bob" {
				t.Fatalf("SessionByToken = %+v, %+v, %v", got, u, err)
			}
		})
	}
}

// Idle and absolute expiry with an injected clock: policy 1 h idle, 12 h max.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	type step struct {
		advance time.Duration
		touch   bool // TouchSession after advancing (when still alive)
		alive   bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"fresh", []step{{0, false, true}}},
		{"just under idle", []step{{time.Hour - time.Second, false, true}}},
		{"idle timeout reached", []step{{time.Hour, false, false}}},
		{"touch extends idle", []step{{50 * time.Minute, true, true}, {50 * time.Minute, false, true}, {10 * time.Minute, false, false}}},
		{"touched sessions still end at the absolute limit", func() []step {
			var st []step
			for range 14 { // 14 × 50 min = 11 h 40 min
				st = append(st, step{50 * time.Minute, true, true})
			}
			return append(st, step{19 * time.Minute, false, true}, step{time.Minute, false, false})
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := testkit.ClockAt(testkit.Epoch)
			s := testkit.NewStore(t, testkit.WithClock(clock))
			bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
			token, sess, err := s.CreateSession(bob.ID, "", "", model.ActorFor(bob, ""), "password")
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				clock.Advance(st.advance)
				_, _, err := s.SessionByToken(token, testPolicy)
				if alive := err == nil; alive != st.alive {
					t.Fatalf("step %d (%v after login): alive = %v (%v), want %v", i, clock.Now().Sub(sess.CreatedAt), alive, err, st.alive)
				}
				if err != nil && !errors.Is(err, model.ErrNotFound) {
					t.Fatalf("step %d: %v, want ErrNotFound", i, err)
				}
				if st.touch {
					if err := s.TouchSession(sess.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

func TestTouchSession(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	token, sess, _ := s.CreateSession(bob.ID, "192.0.2.1", "ua", model.ActorFor(bob, "192.0.2.1"), "password")
	clock.Advance(5 * time.Minute)
	if err := s.TouchSession(sess.ID); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.SessionByToken(token, testPolicy)
	if err != nil || !got.LastSeen.Equal(clock.Now()) || !got.CreatedAt.Equal(sess.CreatedAt) ||
		got.UserID != bob.ID || got.IP != "192.0.2.1" || got.UserAgent != "ua" {
		t.Fatalf("after touch: %+v, %v", got, err)
	}
	// The user index still finds it, so a password change still ends it.
	if ss, _ := s.SessionsOf(bob.ID); len(ss) != 1 {
		t.Fatalf("SessionsOf after touch: %d", len(ss))
	}
	if err := s.TouchSession(model.HashToken("gone")); err != nil {
		t.Fatalf("touching a missing session: %v", err)
	}
	if _, err := s.SessionsOf(bob.ID); err != nil {
		t.Fatal(err)
	}
}

func TestEndSession(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	token, sess, _ := s.CreateSession(bob.ID, "192.0.2.1", "ua", model.ActorFor(bob, "192.0.2.1"), "password")
	_, other, _ := s.CreateSession(bob.ID, "192.0.2.9", "ua", model.ActorFor(bob, "192.0.2.9"), "password")
	if err := s.EndSession(sess.ID, model.ActorFor(bob, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionByToken(token, testPolicy); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("ended session still works: %v", err)
	}
	ev := eventsWith(t, s, model.EventLogout)
	if len(ev) != 1 || ev[0].ActorID != bob.ID || ev[0].Actor != "bob" || ev[0].IP != "192.0.2.1" || ev[0].TargetID != bob.ID {
		t.Fatalf("logout events = %+v", ev)
	}
	if err := s.EndSession(sess.ID, model.ActorFor(bob, "192.0.2.1")); !errors.Is(err, model.ErrNotFound) {
		t.Fatalf("second EndSession = %v, want ErrNotFound", err)
	}
	if n := len(eventsWith(t, s, model.EventLogout)); n != 1 {
		t.Fatalf("%d logout events after a second logout", n)
	}
	if ss, _ := s.SessionsOf(bob.ID); len(ss) != 1 || ss[0].ID != other.ID {
		t.Fatalf("other session: %+v", ss)
	}
	if err := s.DeleteSession(other.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(other.ID); err != nil {
		t.Fatalf("deleting a missing session: %v", err)
	}
	if ss, _ := s.SessionsOf(bob.ID); len(ss) != 0 {
		t.Fatalf("%d sessions left", len(ss))
	}
}

func TestSessionsOfDeletedUser(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	testkit.CreateUser(t, s, "admin", "password1", "admin@example.com")
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	carol := testkit.CreateUser(t, s, "carol", "password1", "carol@example.com")
	var bobTokens []string
	for range 2 {
		tok, _, _ := s.CreateSession(bob.ID, "", "", model.ActorFor(bob, ""), "password")
		bobTokens = append(bobTokens, tok)
	}
	carolToken, _, _ := s.CreateSession(carol.ID, "", "", model.ActorFor(carol, ""), "password")
	t.Run("DeleteUser ends the sessions", func(t *testing.T) {
		if err := s.DeleteUser(bob.ID, model.CLIActor); err != nil {
			t.Fatal(err)
		}
		for _, tok := range bobTokens {
			if _, _, err := s.SessionByToken(tok, testPolicy); !errors.Is(err, model.ErrNotFound) {
				t.Fatalf("session of a deleted user: %v", err)
			}
		}
		if ss, _ := s.SessionsOf(bob.ID); len(ss) != 0 {
			t.Fatalf("%d sessions of the deleted user stored", len(ss))
		}
	})
	t.Run("a session whose user record is gone fails the lookup", func(t *testing.T) {
		err := s.Update(func(tx *model.Tx) error { return tx.Node().DeleteStruct(&model.User{ID: carol.ID}) })
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionByToken(carolToken, testPolicy); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("lookup = %v, want ErrNotFound", err)
		}
	})
}

func TestPurgeSessions(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	newSession := func() model.Session {
		_, sess, err := s.CreateSession(bob.ID, "", "", model.ActorFor(bob, ""), "password")
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	if n, err := s.PurgeSessions(testPolicy); n != 0 || err != nil {
		t.Fatalf("purge with no sessions: %d, %v", n, err)
	}
	old := newSession() // created at 0, touched every 50 min: absolute expiry
	clock.Advance(30 * time.Minute)
	idle := newSession() // created at 30 min, never touched: idle expiry
	for range 14 {
		clock.Advance(50 * time.Minute)
		if err := s.TouchSession(old.ID); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(30 * time.Minute) // 12 h 10 min
	fresh := newSession()
	n, err := s.PurgeSessions(testPolicy)
	if err != nil || n != 2 {
		t.Fatalf("PurgeSessions = %d, %v; want 2", n, err)
	}
	ss, _ := s.SessionsOf(bob.ID)
	if len(ss) != 1 || ss[0].ID != fresh.ID {
		t.Fatalf("left: %+v (old %s, idle %s)", ss, old.ID, idle.ID)
	}
	if n, _ := s.PurgeSessions(testPolicy); n != 0 {
		t.Fatalf("second purge deleted %d", n)
	}
}
