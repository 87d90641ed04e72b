package model_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func TestSessionListAndEnd(t *testing.T) {
	clock := testkit.NewClock()
	s := testkit.NewStore(t, testkit.WithClock(clock))
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	alice := testkit.CreateUser(t, s, "alice", "password1", "alice@example.com")
	var ids []string
	for i, ua := range []string{"Firefox", "evil\x1b[2J\u202eagent", "Chrome"} {
		_, sess, err := s.CreateSession(bob.ID, "192.0.2.1", ua, model.ActorFor(bob, ""), "password")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sess.ID)
		clock.Advance(time.Duration(i+1) * time.Minute)
	}
	_, alices, _ := s.CreateSession(alice.ID, "", "", model.ActorFor(alice, ""), "password")
	if err := s.TouchSession(ids[0]); err != nil {
		t.Fatal(err)
	}
	list, err := s.LiveSessionsOf(bob.ID, testPolicy)
	if err != nil || len(list) != 3 || list[0].ID != ids[0] {
		t.Fatalf("LiveSessionsOf = %+v, %v; want 3, the touched one first", list, err)
	}
	if ua := list[2].SessionUserAgent(); strings.ContainsAny(ua, "\x1b\u202e") || !strings.Contains(ua, `\x1b`) {
		t.Fatalf("user agent not escaped: %q", ua)
	}
	pid := s.SessionPublicID(ids[1])
	if len(pid) != 20 || strings.Contains(ids[1], pid) || pid == s.SessionPublicID(ids[2]) {
		t.Fatalf("public id %q", pid)
	}
	t.Run("end one by public id", func(t *testing.T) {
		if _, err := s.EndUserSession(alice.ID, pid, model.ActorFor(alice, "")); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("ending bob's session as alice's: %v", err)
		}
		if _, err := s.EndUserSession(bob.ID, ids[1], model.CLIActor); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("the storage id ended a session: %v", err)
		}
		got, err := s.EndUserSession(bob.ID, pid, model.CLIActor)
		if err != nil || got != ids[1] {
			t.Fatalf("EndUserSession = %q, %v", got, err)
		}
		if ev := eventsWith(t, s, model.EventSessionEnded); len(ev) != 1 || ev[0].TargetID != bob.ID {
			t.Fatalf("events %+v", ev)
		}
	})
	t.Run("end all but one", func(t *testing.T) {
		n, err := s.EndSessionsOf(bob.ID, ids[2], model.CLIActor)
		if err != nil || n != 1 {
			t.Fatalf("EndSessionsOf = %d, %v", n, err)
		}
		if ss, _ := s.SessionsOf(bob.ID); len(ss) != 1 || ss[0].ID != ids[2] {
			t.Fatalf("left %+v", ss)
		}
		if n, err := s.EndSessionsOf(bob.ID, "", model.CLIActor); err != nil || n != 1 {
			t.Fatalf("EndSessionsOf all = %d, %v", n, err)
		}
		if ss, _ := s.SessionsOf(alice.ID); len(ss) != 1 || ss[0].ID != alices.ID {
			t.Fatalf("alice's sessions %+v", ss)
		}
		if _, err := s.EndSessionsOf(999, "", model.CLIActor); !errors.Is(err, model.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}
	})
	t.Run("expired sessions are not listed", func(t *testing.T) {
		clock.Advance(2 * time.Hour)
		if list, _ := s.LiveSessionsOf(alice.ID, testPolicy); len(list) != 0 {
			t.Fatalf("expired listed: %+v", list)
		}
	})
}

// LiveSessions lists the live sessions of every user (or of one), the
// most recently used first, with their in-memory last-seen times.
func TestLiveSessionsAllUsers(t *testing.T) {
	clock := testkit.NewClock()
	s := testkit.NewStore(t, testkit.WithClock(clock))
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	alice := testkit.CreateUser(t, s, "alice", "password1", "alice@example.com")
	_, old, err := s.CreateSession(bob.ID, "192.0.2.1", "Firefox", model.ActorFor(bob, ""), "password")
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour) // old is past the idle timeout now
	_, b, _ := s.CreateSession(bob.ID, "192.0.2.2", "Chrome", model.ActorFor(bob, ""), "password")
	clock.Advance(time.Minute)
	_, a, _ := s.CreateSession(alice.ID, "192.0.2.3", "Safari", model.ActorFor(alice, ""), "password")
	clock.Advance(time.Minute)
	if err := s.TouchSession(b.ID); err != nil { // in memory only: too soon to write
		t.Fatal(err)
	}
	all, err := s.LiveSessions(0, testPolicy)
	if err != nil || len(all) != 2 || all[0].ID != b.ID || all[1].ID != a.ID {
		t.Fatalf("LiveSessions(0) = %+v, %v; want bob's touched session, then alice's", all, err)
	}
	for _, sess := range all {
		if sess.ID == old.ID {
			t.Fatal("an expired session is listed")
		}
	}
	if one, _ := s.LiveSessions(alice.ID, testPolicy); len(one) != 1 || one[0].ID != a.ID {
		t.Fatalf("LiveSessions(alice) = %+v", one)
	}
}
