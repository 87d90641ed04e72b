package handlers

import (
	"testing"
	"time"
)

// A short --session-idle must not end a session that is in use: the
// last-seen time decides expiry exactly, however seldom it is written to
// disk (#9 finding 6).
func TestShortSessionIdleKeepsSessionsInUse(t *testing.T) {
	ta := newTestApp(t, func(c *Config) { c.Sessions.Idle = 3 * time.Second })
	s := ta.Session(t, ta.Admin)
	for i := range 10 {
		ta.Clock.Advance(time.Second)
		if !ta.SessionAlive(t, s) {
			t.Fatalf("session used every second ended after %d s with a 3 s idle limit", i+1)
		}
	}
	ta.Clock.Advance(3*time.Second - time.Millisecond)
	if !ta.SessionAlive(t, s) {
		t.Fatal("session ended before 3 s idle")
	}
	ta.Clock.Advance(3 * time.Second)
	if ta.SessionAlive(t, s) {
		t.Fatal("session still alive after 3 s idle")
	}
}
