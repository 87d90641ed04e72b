package model

import (
	"fmt"
	"testing"
	"time"
)

// Security events are kept by age: past the retention they are dropped,
// within it they stay, whatever else was written (#3).
func TestAuditRetention(t *testing.T) {
	for _, tc := range []struct {
		name      string
		retention time.Duration // 0: the default, one year
		age       time.Duration // of the old event when pruned
	}{
		{"default one year", 0, 366 * 24 * time.Hour},
		{"configured one hour", time.Hour, 61 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			s := newStore(t, withClock(clock), func(o *Options) { o.AuditRetention = tc.retention })
			mustCreate(t, s, "kate", "horse-battery", "kate@example.com")
			if n, err := s.PruneAudit(); err != nil || n != 0 {
				t.Fatalf("PruneAudit on a fresh event: %d, %v", n, err)
			}
			clock.Advance(tc.age)
			if err := s.Update(func(tx *Tx) error { return tx.Audit(CLIActor, EventUserDeleted, 1, "kate", "") }); err != nil {
				t.Fatal(err)
			}
			n, err := s.PruneAudit()
			if err != nil || n != 1 {
				t.Fatalf("PruneAudit: %d, %v; want 1 dropped", n, err)
			}
			if ev := allEvents(t, s); len(ev) != 1 || ev[0].Action != EventUserDeleted {
				t.Fatalf("events after pruning: %+v", ev)
			}
		})
	}
}

// Outside failures are counted per address, action and window, across
// flushes; a new window starts a new aggregate. Failures naming a known
// account, and anything with a Via, are single events.
func TestAuditOutsideAggregated(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, withClock(clock))
	b := NewAuditBuffer(s, time.Hour)
	add := func(n int, ip, action string) {
		for range n {
			b.Add(Actor{IP: ip}, action, 0, "", "unknown or malformed token")
		}
	}
	add(30, "192.0.2.1", EventTokenRefused)
	add(5, "192.0.2.2", EventTokenRefused)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	add(20, "192.0.2.1", EventTokenRefused) // same window: added to the stored row
	add(4, "192.0.2.1", EventLoginFailed)
	b.Add(Actor{Name: "kate", IP: "192.0.2.1"}, EventLoginFailed, 1, "kate", "invalid credentials")
	b.Add(Actor{IP: "192.0.2.1", Via: ViaPasskey}, EventLoginFailed, 0, "", "passkey")
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(AuditWindow)
	add(7, "192.0.2.1", EventTokenRefused)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range allEvents(t, s) {
		got = append(got, fmt.Sprintf("%s %s %d", e.IP, e.Action, e.Count))
	}
	want := fmt.Sprint([]string{
		"192.0.2.1 token.refused 7",
		"192.0.2.1 login.failed 0",
		"192.0.2.1 login.failed 0",
		"192.0.2.1 login.failed 4",
		"192.0.2.2 token.refused 5",
		"192.0.2.1 token.refused 50",
	})
	if fmt.Sprint(got) != want {
		t.Fatalf("events:\n %v\nwant\n %v", got, want)
	}
}

// However many outside aggregates arrive, the security stream keeps every
// event: only older aggregates make room.
func TestAuditNoiseNeverEvictsSecurity(t *testing.T) {
	s := newStore(t, withAuditMax(5))
	mustCreate(t, s, "kate", "horse-battery", "kate@example.com")
	if err := s.Update(func(tx *Tx) error { return tx.Audit(CLIActor, EventPasswordChanged, 1, "kate", "") }); err != nil {
		t.Fatal(err)
	}
	b := NewAuditBuffer(s, time.Hour)
	b.max = 7 // several flushes from Add itself
	for i := range 300 {
		b.Add(Actor{IP: fmt.Sprintf("10.0.%d.%d", i/250, i%250)}, EventTokenRefused, 0, "", "")
	}
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	security, aggregates := 0, 0
	for _, e := range allEvents(t, s) {
		if e.Outside() {
			aggregates++
		} else {
			security++
		}
	}
	if security != 2 || aggregates != 5 {
		t.Fatalf("%d security events (want 2), %d aggregates (want 5)", security, aggregates)
	}
}

// AuditEvents filters by action and time as well as by user.
func TestAuditFilterActionSince(t *testing.T) {
	clock := newFakeClock()
	s := newStore(t, withClock(clock))
	mustCreate(t, s, "kate", "horse-battery", "kate@example.com")
	clock.Advance(time.Hour)
	since := clock.Now()
	for _, a := range []string{EventPasswordChanged, EventUserDeleted} {
		if err := s.Update(func(tx *Tx) error { return tx.Audit(CLIActor, a, 1, "kate", "") }); err != nil {
			t.Fatal(err)
		}
	}
	if ev, total, _ := s.AuditEvents(AuditFilter{Action: EventUserCreated}); total != 1 || ev[0].Action != EventUserCreated {
		t.Errorf("by action: %+v", ev)
	}
	if ev, total, _ := s.AuditEvents(AuditFilter{Since: since}); total != 2 || ev[1].Action != EventPasswordChanged {
		t.Errorf("since: %+v", ev)
	}
	if _, total, _ := s.AuditEvents(AuditFilter{Since: since, Action: EventUserCreated}); total != 0 {
		t.Errorf("since and action: %d", total)
	}
}
