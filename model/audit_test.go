package model

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Every change is audited exactly once, with actor, IP and target.
func TestAuditEventsRecordedOnce(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	s := newStore(t, withClock(clock))
	admin := mustCreate(t, s, "admin", "password1", "admin@example.com")
	by := ActorFor(admin, "198.51.100.7")

	bob, err := s.CreateUser(ctx, NewUser{Username: "bob", Password: "password1", Email: "bob@example.com"}, by)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(bob.ID, UserPatch{Username: strp("robert")}, by); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(bob.ID, UserPatch{Email: strp("robert@example.com")}, by); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, bob.ID, "password2", "", by); err != nil {
		t.Fatal(err)
	}
	robert, _ := s.User(bob.ID)
	self := ActorFor(robert, "203.0.113.5")
	_, sess, err := s.CreateSession(bob.ID, "203.0.113.5", "ua", self, "password")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(sess.ID, self); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(bob.ID, by); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		action string
		actor  Actor
		target string
		detail string
	}{
		{EventUserCreated, by, "bob", ""},
		{EventUserRenamed, by, "robert", "bob → robert"},
		{EventEmailChanged, by, "robert", "bob@example.com → robert@example.com"},
		{EventPasswordChanged, by, "robert", ""},
		{EventLoginSucceeded, self, "robert", "password"},
		{EventLogout, self, "robert", ""},
		{EventUserDeleted, by, "robert", ""},
	}
	var onBob []AuditEvent
	for _, e := range allEvents(t, s) {
		if e.TargetID == bob.ID {
			onBob = append(onBob, e)
		}
	}
	if len(onBob) != len(tests) {
		t.Fatalf("%d events on bob, want %d: %+v", len(onBob), len(tests), onBob)
	}
	for i, tc := range tests {
		t.Run(tc.action, func(t *testing.T) {
			n := 0
			for _, e := range onBob {
				if e.Action != tc.action {
					continue
				}
				n++
				if e.ActorID != tc.actor.UserID || e.Actor != tc.actor.Name || e.IP != tc.actor.IP ||
					e.Target != tc.target || e.Detail != tc.detail || !e.Time.Equal(clock.Now()) {
					t.Fatalf("event = %+v, want actor %+v target %q detail %q", e, tc.actor, tc.target, tc.detail)
				}
			}
			if n != 1 {
				t.Fatalf("%d %s events, want 1", n, tc.action)
			}
			// Newest first: the order of the table reversed.
			if onBob[len(tests)-1-i].Action != tc.action {
				t.Fatalf("event order: %s at position %d", onBob[len(tests)-1-i].Action, len(tests)-1-i)
			}
		})
	}
	t.Run("filter by user", func(t *testing.T) {
		ev, total, err := s.AuditEvents(AuditFilter{UserID: bob.ID})
		if err != nil || total != len(tests) || len(ev) != len(tests) {
			t.Fatalf("filter: %d of %d, %v", len(ev), total, err)
		}
		ev, total, _ = s.AuditEvents(AuditFilter{UserID: bob.ID, Limit: 2, Offset: 1})
		if total != len(tests) || len(ev) != 2 || ev[0].Action != EventLogout || ev[1].Action != EventLoginSucceeded {
			t.Fatalf("page: %+v, total %d", ev, total)
		}
	})
}

// A refused change records nothing.
func TestAuditFailedChangeRecordsNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	bob := mustCreate(t, s, "bob", "password1", "bob@example.com")
	tests := []struct {
		name string
		op   func() error
	}{
		{"create: invalid", func() error {
			_, err := s.CreateUser(ctx, NewUser{"x", "password1", "x@example.com"}, CLIActor)
			return err
		}},
		{"create: taken", func() error {
			_, err := s.CreateUser(ctx, NewUser{"BOB", "password1", "x@example.com"}, CLIActor)
			return err
		}},
		{"rename: invalid", func() error { _, err := s.UpdateUser(bob.ID, UserPatch{Username: strp("b b")}, CLIActor); return err }},
		{"email: invalid", func() error { _, err := s.UpdateUser(bob.ID, UserPatch{Email: strp("bob")}, CLIActor); return err }},
		{"update: unknown user", func() error { _, err := s.UpdateUser(99, UserPatch{Email: strp("a@b.c")}, CLIActor); return err }},
		{"password: invalid", func() error { return s.SetPassword(ctx, bob.ID, "password", "", CLIActor) }},
		{"password: unknown user", func() error { return s.SetPassword(ctx, 99, "password1", "", CLIActor) }},
		{"delete: last user", func() error { return s.DeleteUser(bob.ID, CLIActor) }},
		{"delete: unknown user", func() error { return s.DeleteUser(99, CLIActor) }},
		{"login: unknown user", func() error { _, _, err := s.CreateSession(99, "", "", CLIActor, "password"); return err }},
		{"logout: unknown session", func() error { return s.EndSession(HashToken("x"), ActorFor(bob, "")) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := allEvents(t, s)
			if err := tc.op(); err == nil {
				t.Fatal("the change succeeded")
			}
			if after := allEvents(t, s); len(after) != len(before) {
				t.Fatalf("events %d → %d: %+v", len(before), len(after), after[0])
			}
		})
	}
}

// With AuditMax 5, eight outside failures (from eight addresses, so eight
// aggregates) leave the newest five, newest first.
func TestAuditBounded(t *testing.T) {
	outsider := func(i int) Actor { return Actor{IP: fmt.Sprintf("192.0.2.%d", i)} }
	tests := []struct {
		name  string
		write func(s *Store, from, to int) error
	}{
		{"one transaction per event", func(s *Store, from, to int) error {
			for i := from; i <= to; i++ {
				if err := s.Update(func(tx *Tx) error { return tx.Audit(outsider(i), EventTokenRefused, 0, "", fmt.Sprint(i)) }); err != nil {
					return err
				}
			}
			return nil
		}},
		{"one batch", func(s *Store, from, to int) error {
			b := NewAuditBuffer(s, time.Hour)
			for i := from; i <= to; i++ {
				b.Add(outsider(i), EventTokenRefused, 0, "", fmt.Sprint(i))
			}
			return b.Flush()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t, withAuditMax(5))
			if err := tc.write(s, 1, 3); err != nil {
				t.Fatal(err)
			}
			if got := details(allEvents(t, s)); got != "3 2 1" {
				t.Fatalf("after 3 events: %s", got)
			}
			if err := tc.write(s, 4, 8); err != nil {
				t.Fatal(err)
			}
			if got := details(allEvents(t, s)); got != "8 7 6 5 4" {
				t.Fatalf("after 8 events: %s, want 8 7 6 5 4", got)
			}
			ev, total, _ := s.AuditEvents(AuditFilter{Limit: 2, Offset: 1})
			if total != 5 || details(ev) != "7 6" {
				t.Fatalf("page: %s of %d", details(ev), total)
			}
		})
	}
}

func details(ev []AuditEvent) string {
	var d []string
	for _, e := range ev {
		d = append(d, e.Detail)
	}
	return strings.Join(d, " ")
}

func TestAuditBuffer(t *testing.T) {
	t.Run("flush writes all pending at once", func(t *testing.T) {
		s := newStore(t)
		b := NewAuditBuffer(s, time.Hour)
		for i := range 4 {
			// Known targets: four events, none aggregated.
			b.Add(Actor{Name: fmt.Sprintf("guess%d", i), IP: "192.0.2.66"}, EventLoginFailed, i+1, "", "bad_password")
		}
		if n := len(allEvents(t, s)); n != 0 {
			t.Fatalf("%d events written before Flush", n)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		ev := allEvents(t, s)
		if len(ev) != 4 {
			t.Fatalf("%d events after Flush, want 4", len(ev))
		}
		for i, e := range ev {
			if e.Action != EventLoginFailed || e.Actor != fmt.Sprintf("guess%d", 3-i) || e.IP != "192.0.2.66" || e.Detail != "bad_password" {
				t.Fatalf("event %d = %+v", i, e)
			}
		}
		if err := b.Flush(); err != nil || len(allEvents(t, s)) != 4 {
			t.Fatalf("second Flush: %v, %d events", err, len(allEvents(t, s)))
		}
	})
	// Past max pending events, Add writes them rather than drop any (#12).
	t.Run("memory bounded, nothing dropped", func(t *testing.T) {
		s := newStore(t)
		b := NewAuditBuffer(s, time.Hour)
		b.max = 3
		for range 10 {
			b.Add(CLIActor, EventLoginFailed, 0, "", "")
			if len(b.pending) > 3 {
				t.Fatalf("%d events pending, max 3", len(b.pending))
			}
		}
		if n := len(allEvents(t, s)); n < 9 {
			t.Fatalf("%d events written before Flush, want 9", n)
		}
		if err := b.Flush(); err != nil {
			t.Fatal(err)
		}
		if n := len(allEvents(t, s)); n != 10 {
			t.Fatalf("%d events, want 10", n)
		}
	})
	t.Run("Run flushes when the context ends", func(t *testing.T) {
		s := newStore(t)
		b := NewAuditBuffer(s, time.Hour)
		ctx, cancel := context.WithCancel(context.Background())
		go b.Run(ctx)
		b.Add(CLIActor, EventLoginFailed, 0, "", "a")
		b.Add(CLIActor, EventLoginFailed, 0, "", "b")
		cancel()
		b.Wait()
		if got := details(allEvents(t, s)); got != "b a" {
			t.Fatalf("events after Run ended: %q", got)
		}
	})
	t.Run("Run flushes every interval", func(t *testing.T) {
		s := newStore(t)
		b := NewAuditBuffer(s, 10*time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); b.Wait() }()
		go b.Run(ctx)
		b.Add(CLIActor, EventLoginFailed, 0, "", "tick")
		deadline := time.Now().Add(5 * time.Second)
		for len(allEvents(t, s)) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no flush within 5 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// No password ever reaches the database file: not in users, sessions or
// audit events.
func TestNoPasswordInDatabase(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	passwords := []string{"Env-Secret-Pw9", "Sup3r-Secret-Pw", "N3w-Secret-Pw!", "Wrong-Guess-Pw1"}
	if _, _, err := s.EnsureAdmin(ctx, passwords[0]); err != nil {
		t.Fatal(err)
	}
	bob, err := s.CreateUser(ctx, NewUser{Username: "bob", Password: passwords[1], Email: "bob@example.com"}, CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, bob.ID, passwords[2], "", ActorFor(bob, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "bob", passwords[3]); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatal(err)
	}
	u, err := s.Authenticate(ctx, "bob", passwords[2])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateSession(u.ID, "192.0.2.1", "ua", ActorFor(u, "192.0.2.1"), "password"); err != nil {
		t.Fatal(err)
	}
	for _, e := range allEvents(t, s) {
		for _, pw := range passwords {
			if strings.Contains(fmt.Sprintf("%+v", e), pw) {
				t.Fatalf("event %+v holds a password", e)
			}
		}
	}
	s.Close()
	raw, err := os.ReadFile(filepath.Join(s.Dir(), DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(EventPasswordChanged)) {
		t.Fatal("the file read is not the database (no audit event found)")
	}
	for _, pw := range passwords {
		if bytes.Contains(raw, []byte(pw)) {
			t.Fatalf("password %q found in the database file", pw)
		}
	}
}

// TestAuditTextSanitized: what the audit log stores from outside input (a
// username typed at a failed login, a user agent, an origin) never holds
// NUL, other control or format characters, or invalid UTF-8, and is
// bounded, whichever way the event is recorded.
func TestAuditTextSanitized(t *testing.T) {
	dirty := "ad\x00min\u202egnp.exe\x1b[31m\r\n\u200b\ufeff\xff"
	huge := strings.Repeat("\x00\u202eA", 20000)
	record := map[string]func(s *Store, by Actor, target, detail string) error{
		"transaction": func(s *Store, by Actor, target, detail string) error {
			return s.Update(func(tx *Tx) error { return tx.Audit(by, "test", 0, target, detail) })
		},
		"buffer": func(s *Store, by Actor, target, detail string) error {
			b := NewAuditBuffer(s, time.Hour)
			b.Add(by, "test", 0, target, detail)
			return b.Flush()
		},
	}
	for name, rec := range record {
		t.Run(name, func(t *testing.T) {
			s := newStore(t)
			if err := rec(s, Actor{Name: dirty, IP: "192.0.2.1\x00"}, dirty, dirty); err != nil {
				t.Fatal(err)
			}
			if err := rec(s, Actor{Name: huge, IP: huge}, huge, huge); err != nil {
				t.Fatal(err)
			}
			ev := allEvents(t, s)
			if len(ev) != 2 {
				t.Fatalf("events = %d", len(ev))
			}
			for _, e := range ev {
				for field, v := range map[string]string{"actor": e.Actor, "target": e.Target, "ip": e.IP, "detail": e.Detail} {
					if !utf8.ValidString(v) {
						t.Errorf("%s %+q is not valid UTF-8", field, v)
					}
					for _, r := range v {
						if isInvisible(r) {
							t.Errorf("%s %+q holds %U", field, v, r)
							break
						}
					}
					if len(v) > AuditDetailMaxLen {
						t.Errorf("%s holds %d bytes", field, len(v))
					}
				}
				if len(e.Actor) > AuditNameMaxLen || len(e.Target) > AuditNameMaxLen || len(e.IP) > AuditNameMaxLen {
					t.Errorf("name fields hold %d, %d, %d bytes", len(e.Actor), len(e.Target), len(e.IP))
				}
			}
			// The escapes keep what was sent readable.
			if d := ev[1].Detail; d != `ad\x00min\u202egnp.exe\x1b[31m\x0d\x0a\u200b\ufeff\xff` {
				t.Errorf("detail = %s", d)
			}
		})
	}
}

// isInvisible restates the rule independently: Cc, Cf, Zl, Zp.
func isInvisible(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// FuzzAuditText: whatever comes in, what is stored is valid UTF-8 without
// invisible characters and within the bound; clean text within the bound
// is kept exactly.
func FuzzAuditText(f *testing.F) {
	for _, s := range []string{"", "admin", "ad\x00min", "\u202e", "\xff\xfe", strings.Repeat("é", 70), strings.Repeat("\x00", 40)} {
		f.Add(s, 16)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < 8 || max > 4096 {
			return
		}
		got := auditText(s, max)
		if !utf8.ValidString(got) || len(got) > max {
			t.Fatalf("auditText(%+q, %d) = %+q", s, max, got)
		}
		for _, r := range got {
			if isInvisible(r) {
				t.Fatalf("auditText(%+q, %d) = %+q holds %U", s, max, got, r)
			}
		}
		clean := utf8.ValidString(s) && len(s) <= max && strings.IndexFunc(s, isInvisible) < 0
		if clean && got != s {
			t.Fatalf("clean %+q changed to %+q", s, got)
		}
	})
}
