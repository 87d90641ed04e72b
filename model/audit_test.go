package model_test

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

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// Every change is audited exactly once, with actor, IP and target.
func TestAuditEventsRecordedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testkit.ClockAt(testkit.Epoch)
	s := testkit.NewStore(t, testkit.WithClock(clock))
	admin := testkit.CreateUser(t, s, "admin", "password1", "admin@example.com")
	by := model.ActorFor(admin, "198.51.100.7")

	bob, err := s.CreateUser(ctx, model.NewUser{Username: "bob", Password: "password1", Email: "bob@example.com"}, by)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(bob.ID, model.UserPatch{Username: strp("robert")}, by); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(bob.ID, model.UserPatch{Email: strp("robert@example.com")}, by); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, bob.ID, "password2", "", by); err != nil {
		t.Fatal(err)
	}
	robert, _ := s.User(bob.ID)
	self := model.ActorFor(robert, "203.0.113.5")
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
		actor  model.Actor
		target string
		detail string
	}{
		{model.EventUserCreated, by, "bob", ""},
		{model.EventUserRenamed, by, "robert", "bob → robert"},
		{model.EventEmailChanged, by, "robert", "bob@example.com → robert@example.com"},
		{model.EventPasswordChanged, by, "robert", ""},
		{model.EventLoginSucceeded, self, "robert", "password"},
		{model.EventLogout, self, "robert", ""},
		{model.EventUserDeleted, by, "robert", ""},
	}
	var onBob []model.AuditEvent
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
		ev, total, err := s.AuditEvents(model.AuditFilter{UserID: bob.ID})
		if err != nil || total != len(tests) || len(ev) != len(tests) {
			t.Fatalf("filter: %d of %d, %v", len(ev), total, err)
		}
		ev, total, _ = s.AuditEvents(model.AuditFilter{UserID: bob.ID, Limit: 2, Offset: 1})
		if total != len(tests) || len(ev) != 2 || ev[0].Action != model.EventLogout || ev[1].Action != model.EventLoginSucceeded {
			t.Fatalf("page: %+v, total %d", ev, total)
		}
	})
}

// A refused change records nothing.
func TestAuditFailedChangeRecordsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testkit.NewStore(t)
	bob := testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	tests := []struct {
		name string
		op   func() error
	}{
		{"create: invalid", func() error {
			_, err := s.CreateUser(ctx, model.NewUser{"x", "password1", "x@example.com", ""}, model.CLIActor)
			return err
		}},
		{"create: taken", func() error {
			_, err := s.CreateUser(ctx, model.NewUser{"BOB", "password1", "x@example.com", ""}, model.CLIActor)
			return err
		}},
		{"rename: invalid", func() error {
			_, err := s.UpdateUser(bob.ID, model.UserPatch{Username: strp("b b")}, model.CLIActor)
			return err
		}},
		{"email: invalid", func() error {
			_, err := s.UpdateUser(bob.ID, model.UserPatch{Email: strp("bob")}, model.CLIActor)
			return err
		}},
		{"update: unknown user", func() error {
			_, err := s.UpdateUser(99, model.UserPatch{Email: strp("a@b.c")}, model.CLIActor)
			return err
		}},
		{"password: invalid", func() error { return s.SetPassword(ctx, bob.ID, "password", "", model.CLIActor) }},
		{"password: unknown user", func() error { return s.SetPassword(ctx, 99, "password1", "", model.CLIActor) }},
		{"delete: last user", func() error { return s.DeleteUser(bob.ID, model.CLIActor) }},
		{"delete: unknown user", func() error { return s.DeleteUser(99, model.CLIActor) }},
		{"login: unknown user", func() error { _, _, err := s.CreateSession(99, "", "", model.CLIActor, "password"); return err }},
		{"logout: unknown session", func() error { return s.EndSession(model.HashToken("x"), model.ActorFor(bob, "")) }},
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
	t.Parallel()
	outsider := func(i int) model.Actor { return model.Actor{IP: fmt.Sprintf("192.0.2.%d", i)} }
	tests := []struct {
		name  string
		write func(s *model.Store, from, to int) error
	}{
		{"one transaction per event", func(s *model.Store, from, to int) error {
			for i := from; i <= to; i++ {
				if err := s.Update(func(tx *model.Tx) error { return tx.Audit(outsider(i), model.EventTokenRefused, 0, "", fmt.Sprint(i)) }); err != nil {
					return err
				}
			}
			return nil
		}},
		{"one batch", func(s *model.Store, from, to int) error {
			b := model.NewAuditBuffer(s, time.Hour)
			for i := from; i <= to; i++ {
				b.Add(outsider(i), model.EventTokenRefused, 0, "", fmt.Sprint(i))
			}
			return b.Flush()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testkit.NewStore(t, withAuditMax(5))
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
			ev, total, _ := s.AuditEvents(model.AuditFilter{Limit: 2, Offset: 1})
			if total != 5 || details(ev) != "7 6" {
				t.Fatalf("page: %s of %d", details(ev), total)
			}
		})
	}
}

func details(ev []model.AuditEvent) string {
	var d []string
	for _, e := range ev {
		d = append(d, e.Detail)
	}
	return strings.Join(d, " ")
}

func TestAuditBuffer(t *testing.T) {
	t.Parallel()
	t.Run("flush writes all pending at once", func(t *testing.T) {
		s := testkit.NewStore(t)
		b := model.NewAuditBuffer(s, time.Hour)
		for i := range 4 {
			// Known targets: four events, none aggregated.
			b.Add(model.Actor{Name: fmt.Sprintf("guess%d", i), IP: "192.0.2.66"}, model.EventLoginFailed, i+1, "", "bad_password")
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
			if e.Action != model.EventLoginFailed || e.Actor != fmt.Sprintf("guess%d", 3-i) || e.IP != "192.0.2.66" || e.Detail != "bad_password" {
				t.Fatalf("event %d = %+v", i, e)
			}
		}
		if err := b.Flush(); err != nil || len(allEvents(t, s)) != 4 {
			t.Fatalf("second Flush: %v, %d events", err, len(allEvents(t, s)))
		}
	})
	// Past max pending events, Add writes them rather than drop any (#12).
	t.Run("memory bounded, nothing dropped", func(t *testing.T) {
		s := testkit.NewStore(t)
		b := model.NewAuditBuffer(s, time.Hour)
		b.SetMax(3)
		for range 10 {
			b.Add(model.CLIActor, model.EventLoginFailed, 0, "", "")
			if n := b.Pending(); n > 3 {
				t.Fatalf("%d events pending, max 3", n)
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
		s := testkit.NewStore(t)
		b := model.NewAuditBuffer(s, time.Hour)
		ctx, cancel := context.WithCancel(context.Background())
		go b.Run(ctx)
		b.Add(model.CLIActor, model.EventLoginFailed, 0, "", "a")
		b.Add(model.CLIActor, model.EventLoginFailed, 0, "", "b")
		cancel()
		b.Wait()
		if got := details(allEvents(t, s)); got != "b a" {
			t.Fatalf("events after Run ended: %q", got)
		}
	})
	t.Run("Run flushes every interval", func(t *testing.T) {
		s := testkit.NewStore(t)
		b := model.NewAuditBuffer(s, 10*time.Millisecond)
		ctx, cancel := context.WithCancel(context.Background())
		defer func() { cancel(); b.Wait() }()
		go b.Run(ctx)
		b.Add(model.CLIActor, model.EventLoginFailed, 0, "", "tick")
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
	t.Parallel()
	ctx := context.Background()
	s := testkit.NewStore(t)
	passwords := []string{"Env-Secret-Pw9", "Sup3r-Secret-Pw", "N3w-Secret-Pw!", "Wrong-Guess-Pw1"}
	if _, _, err := s.EnsureAdmin(ctx, passwords[0]); err != nil {
		t.Fatal(err)
	}
	bob, err := s.CreateUser(ctx, model.NewUser{Username: "bob", Password: passwords[1], Email: "bob@example.com"}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, bob.ID, passwords[2], "", model.ActorFor(bob, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "bob", passwords[3]); !errors.Is(err, model.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	u, err := s.Authenticate(ctx, "bob", passwords[2])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateSession(u.ID, "192.0.2.1", "ua", model.ActorFor(u, "192.0.2.1"), "password"); err != nil {
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
	raw, err := os.ReadFile(filepath.Join(s.Dir(), model.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(model.EventPasswordChanged)) {
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
	record := map[string]func(s *model.Store, by model.Actor, target, detail string) error{
		"transaction": func(s *model.Store, by model.Actor, target, detail string) error {
			return s.Update(func(tx *model.Tx) error { return tx.Audit(by, "test", 0, target, detail) })
		},
		"buffer": func(s *model.Store, by model.Actor, target, detail string) error {
			b := model.NewAuditBuffer(s, time.Hour)
			b.Add(by, "test", 0, target, detail)
			return b.Flush()
		},
	}
	for name, rec := range record {
		t.Run(name, func(t *testing.T) {
			s := testkit.NewStore(t)
			if err := rec(s, model.Actor{Name: dirty, IP: "192.0.2.1\x00"}, dirty, dirty); err != nil {
				t.Fatal(err)
			}
			if err := rec(s, model.Actor{Name: huge, IP: huge}, huge, huge); err != nil {
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
					if len(v) > model.AuditDetailMaxLen {
						t.Errorf("%s holds %d bytes", field, len(v))
					}
				}
				if len(e.Actor) > model.AuditNameMaxLen || len(e.Target) > model.AuditNameMaxLen || len(e.IP) > model.AuditNameMaxLen {
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
		got := model.AuditText(s, max)
		if !utf8.ValidString(got) || len(got) > max {
			t.Fatalf("model.AuditText(%+q, %d) = %+q", s, max, got)
		}
		for _, r := range got {
			if isInvisible(r) {
				t.Fatalf("model.AuditText(%+q, %d) = %+q holds %U", s, max, got, r)
			}
		}
		clean := utf8.ValidString(s) && len(s) <= max && strings.IndexFunc(s, isInvisible) < 0
		if clean && got != s {
			t.Fatalf("clean %+q changed to %+q", s, got)
		}
	})
}
