package model_test

import (
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// storedLastSeen reads the last-seen time on disk, bypassing memory.
func storedLastSeen(t *testing.T, s *model.Store, id string) time.Time {
	t.Helper()
	var sess model.Session
	if err := s.View(func(tx *model.Tx) error { return tx.Node().One("ID", id, &sess) }); err != nil {
		t.Fatalf("read session: %v", err)
	}
	return sess.LastSeen
}

// The exact last use decides idle expiry at a 3 s limit, while the disk
// copy is written at most once a minute and at Close, so a restart keeps
// the last use.
func TestSessionLastSeenInMemory(t *testing.T) {
	clock := testkit.NewClock()
	dir := t.TempDir()
	s := testkit.OpenStore(t, dir, testkit.WithClock(clock))
	policy := model.SessionPolicy{Idle: 3 * time.Second, Max: time.Hour}
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	token, sess, err := s.CreateSession(bob.ID, "", "", model.ActorFor(bob, ""), "password")
	if err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	for i := range 10 {
		clock.Advance(time.Second)
		got, _, err := s.SessionByToken(token, policy)
		if err != nil {
			t.Fatalf("used every second, ended after %d s: %v", i+1, err)
		}
		if err := s.TouchSession(got.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := storedLastSeen(t, s, sess.ID); !got.Equal(start) {
		t.Fatalf("stored last-seen written within the first minute (%v after login)", got.Sub(start))
	}
	if ss, _ := s.SessionsOf(bob.ID); len(ss) != 1 || !ss[0].LastSeen.Equal(start.Add(10*time.Second)) {
		t.Fatalf("SessionsOf = %+v, want last seen at +10 s", ss)
	}
	if n, err := s.PurgeSessions(policy); n != 0 || err != nil {
		t.Fatalf("purge deleted a session in use: %d, %v", n, err)
	}
	clock.Advance(3 * time.Second)
	if _, _, err := s.SessionByToken(token, policy); err == nil {
		t.Fatal("session alive after 3 s idle")
	}

	t.Run("written once a minute", func(t *testing.T) {
		clock.Advance(time.Minute)
		if err := s.TouchSession(sess.ID); err != nil {
			t.Fatal(err)
		}
		if got := storedLastSeen(t, s, sess.ID); !got.Equal(clock.Now()) {
			t.Fatalf("stored last-seen not written after a minute: %v", got)
		}
	})
	t.Run("a restart keeps the last use", func(t *testing.T) {
		clock.Advance(20 * time.Second)
		if err := s.TouchSession(sess.ID); err != nil {
			t.Fatal(err)
		}
		want := clock.Now()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s2 := testkit.OpenStore(t, dir, testkit.WithClock(clock))
		got, _, err := s2.SessionByToken(token, policy)
		if err != nil || !got.LastSeen.Equal(want) {
			t.Fatalf("after reopen: last seen %v, %v; want %v", got.LastSeen, err, want)
		}
	})
}

// The in-memory times never outnumber the live sessions: ended sessions
// leave nothing behind, and touching an unknown id stores nothing.
func TestSessionLastSeenBounded(t *testing.T) {
	s := testkit.NewStore(t)
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	alice := testkit.CreateUser(t, s, "alice", "password1", "alice@example.com")
	var ids []string
	for _, u := range []model.User{bob, bob, bob, alice} {
		_, sess, err := s.CreateSession(u.ID, "", "", model.ActorFor(u, ""), "password")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sess.ID)
		if err := s.TouchSession(sess.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.TouchSession(model.HashToken("unknown")); err != nil {
		t.Fatal(err)
	}
	entries := s.SeenEntries
	if n := entries(); n != 4 {
		t.Fatalf("%d entries for 4 sessions", n)
	}
	if err := s.EndSession(ids[0], model.ActorFor(bob, "")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ids[3]); err != nil {
		t.Fatal(err)
	}
	if n := entries(); n != 2 {
		t.Fatalf("%d entries after ending 2 of 4 sessions", n)
	}
	if err := s.DeleteUser(bob.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if n := entries(); n != 0 {
		t.Fatalf("%d entries after deleting the user", n)
	}
}
