package model_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
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
			clock := testkit.NewClock()
			s := testkit.NewStore(t, testkit.WithClock(clock), func(o *model.Options) { o.AuditRetention = tc.retention })
			testkit.CreateUser(t, s, "kate", "horse-battery", "kate@example.com")
			if n, err := s.PruneAudit(); err != nil || n != 0 {
				t.Fatalf("PruneAudit on a fresh event: %d, %v", n, err)
			}
			clock.Advance(tc.age)
			if err := s.Update(func(tx *model.Tx) error { return tx.Audit(model.CLIActor, model.EventUserDeleted, 1, "kate", "") }); err != nil {
				t.Fatal(err)
			}
			n, err := s.PruneAudit()
			if err != nil || n != 1 {
				t.Fatalf("PruneAudit: %d, %v; want 1 dropped", n, err)
			}
			if ev := allEvents(t, s); len(ev) != 1 || ev[0].Action != model.EventUserDeleted {
				t.Fatalf("events after pruning: %+v", ev)
			}
		})
	}
}

// Outside failures are counted per address, action and window, across
// flushes; a new window starts a new aggregate. Failures naming a known
// account, and anything with a Via, are single events.
func TestAuditOutsideAggregated(t *testing.T) {
	clock := testkit.NewClock()
	s := testkit.NewStore(t, testkit.WithClock(clock))
	b := model.NewAuditBuffer(s, time.Hour)
	add := func(n int, ip, action string) {
		for range n {
			b.Add(model.Actor{IP: ip}, action, 0, "", "unknown or malformed token")
		}
	}
	add(30, "192.0.2.1", model.EventTokenRefused)
	add(5, "192.0.2.2", model.EventTokenRefused)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	add(20, "192.0.2.1", model.EventTokenRefused) // same window: added to the stored row
	add(4, "192.0.2.1", model.EventLoginFailed)
	b.Add(model.Actor{Name: "kate", IP: "192.0.2.1"}, model.EventLoginFailed, 1, "kate", "invalid credentials")
	b.Add(model.Actor{IP: "192.0.2.1", Via: model.ViaPasskey}, model.EventLoginFailed, 0, "", "passkey")
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(model.AuditWindow)
	add(7, "192.0.2.1", model.EventTokenRefused)
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
	s := testkit.NewStore(t, withAuditMax(5))
	testkit.CreateUser(t, s, "kate", "horse-battery", "kate@example.com")
	if err := s.Update(func(tx *model.Tx) error { return tx.Audit(model.CLIActor, model.EventPasswordChanged, 1, "kate", "") }); err != nil {
		t.Fatal(err)
	}
	b := model.NewAuditBuffer(s, time.Hour)
	b.SetMax(7) // several flushes from Add itself
	for i := range 300 {
		b.Add(model.Actor{IP: fmt.Sprintf("10.0.%d.%d", i/250, i%250)}, model.EventTokenRefused, 0, "", "")
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

// AuditEvents filters by action and time (since, until) as well as by user.
func TestAuditFilterActionSince(t *testing.T) {
	clock := testkit.NewClock()
	s := testkit.NewStore(t, testkit.WithClock(clock))
	testkit.CreateUser(t, s, "kate", "horse-battery", "kate@example.com")
	clock.Advance(time.Hour)
	since := clock.Now()
	for _, a := range []string{model.EventPasswordChanged, model.EventUserDeleted} {
		if err := s.Update(func(tx *model.Tx) error { return tx.Audit(model.CLIActor, a, 1, "kate", "") }); err != nil {
			t.Fatal(err)
		}
	}
	if ev, total, _ := s.AuditEvents(model.AuditFilter{Action: model.EventUserCreated}); total != 1 || ev[0].Action != model.EventUserCreated {
		t.Errorf("by action: %+v", ev)
	}
	if ev, total, _ := s.AuditEvents(model.AuditFilter{Since: since}); total != 2 || ev[1].Action != model.EventPasswordChanged {
		t.Errorf("since: %+v", ev)
	}
	if _, total, _ := s.AuditEvents(model.AuditFilter{Since: since, Action: model.EventUserCreated}); total != 0 {
		t.Errorf("since and action: %d", total)
	}
	// Until is exclusive, so that since and until of adjacent pages of
	// time never count an event twice.
	if ev, total, _ := s.AuditEvents(model.AuditFilter{Until: since}); total != 1 || ev[0].Action != model.EventUserCreated {
		t.Errorf("until: %+v", ev)
	}
	if _, total, _ := s.AuditEvents(model.AuditFilter{Since: since, Until: since.Add(time.Nanosecond)}); total != 2 {
		t.Errorf("since and until: %d", total)
	}
}
