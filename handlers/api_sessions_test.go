package handlers

import (
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
)

// addSession gives bob a browser session and records its public id.
func addSession(t *testing.T, f *fixture) {
	t.Helper()
	s := f.ta.Session(t, f.bob)
	f.bobSession = f.ta.Store.SessionPublicID(s.ID)
}

// The session list over the API: public ids only, the caller's own
// marked, the User-Agent escaped; ending all others keeps the caller's.
func TestAPISessions(t *testing.T) {
	f := newFixture(t)
	own := f.session // admin's, from the fixture
	other := f.ta.Session(t, f.admin)
	evilUA := "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0 \x1b[31m\u202e"
	if _, _, err := f.ta.Store.CreateSession(f.admin.ID, "203.0.113.5", evilUA, model.ActorFor(f.admin, ""), "password"); err != nil {
		t.Fatal(err)
	}
	r := f.ta.Do(t, request{Method: "GET", URL: "/api/v1/users/1/sessions", Session: own})
	wantAnswer(t, r, 200)
	items := r.Items()
	if len(items) != 3 || r.JSON["total"] != float64(3) {
		t.Fatalf("%d sessions listed: %s", len(items), r.Body)
	}
	current := 0
	for _, it := range items {
		id, _ := it["id"].(string)
		for _, secret := range []string{own.Token, own.ID, other.Token, other.ID} {
			if id == "" || strings.Contains(secret, id) || strings.Contains(r.Body, secret) {
				t.Fatalf("the list shows a secret or a storage id: %s", r.Body)
			}
		}
		if it["current"] == true {
			current++
			if id != f.ta.Store.SessionPublicID(own.ID) {
				t.Errorf("current session %s is not the caller's", id)
			}
		}
		if ua, _ := it["user_agent"].(string); strings.ContainsAny(ua, "\x1b\u202e") {
			t.Errorf("user agent not escaped: %q", ua)
		}
	}
	if current != 1 {
		t.Errorf("%d sessions marked current", current)
	}
	// Ending all but the caller's own, with the session and its CSRF token.
	r = f.ta.Do(t, request{Method: "DELETE", URL: "/api/v1/users/1/sessions", Session: own, CSRF: true})
	wantAnswer(t, r, 204)
	if !f.ta.SessionAlive(t, own) || f.ta.SessionAlive(t, other) {
		t.Fatal("DELETE sessions did not keep exactly the caller's own")
	}
	if ev := f.ta.AuditEvents(t, model.EventSessionsEnded); len(ev) != 1 || ev[0].Detail != "2 sessions" {
		t.Errorf("audit: %+v", ev)
	}
	// Ending one's own session by id logs out.
	r = f.ta.Do(t, request{Method: "DELETE", URL: "/api/v1/users/1/sessions/" + f.ta.Store.SessionPublicID(own.ID), Session: own, CSRF: true})
	wantAnswer(t, r, 204)
	if f.ta.SessionAlive(t, own) {
		t.Fatal("the ended session still works")
	}
	if c := r.Cookie(sessionCookie); c == nil || c.Value != "" {
		t.Errorf("ending one's own session left the cookie: %+v", c)
	}
}
