package handlers

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// auditItem returns the newest audit item of event, read through the API
// with token.
func auditItem(t *testing.T, ta *testApp, token, event string) map[string]any {
	t.Helper()
	r := ta.Do(t, request{Method: "GET", URL: "/api/v1/audit?event=" + event, Token: token})
	wantAnswer(t, r, 200)
	items := r.Items()
	if len(items) == 0 {
		t.Fatalf("no %s event: %s", event, r.Body)
	}
	return items[0]
}

// TestAuditNamesHowTheActorActed (#11): each event names the actor, how it
// acted (the access token's id, the session, the CLI), the target and the
// address; outside failures are one aggregate with a count.
func TestAuditNamesHowTheActorActed(t *testing.T) {
	ta := newAPIApp(t, trustTestPeer)
	value, tok := ta.Token(t, ta.Admin) // by the CLI
	r := ta.Do(t, request{Method: "POST", URL: "/api/v1/users", Token: value, ClientIP: "203.0.113.9",
		Body: map[string]string{"username": "carol", "password": "carol-pass-1", "email": "carol@example.com"}})
	wantAnswer(t, r, 201)
	carol := storedUser(t, ta, "carol")
	sess := ta.Session(t, ta.Admin)
	r = ta.Do(t, request{Method: "PATCH", URL: fmt.Sprintf("/api/v1/users/%d", carol.ID), Session: sess, CSRF: true,
		ClientIP: "203.0.113.10", Body: map[string]string{"email": "carol2@example.com"}})
	wantAnswer(t, r, 200)
	for range 3 {
		r = ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: "gh_nosuchtoken000000000000000000000", ClientIP: "198.51.100.7"})
		wantAnswer(t, r, 401)
	}

	admin := map[string]any{"id": float64(ta.Admin.ID), "username": "admin"}
	for _, tc := range []struct {
		event string
		want  map[string]any
	}{
		{model.EventUserCreated, map[string]any{"via": "token:" + tok.ID, "actor": admin, "target": "carol",
			"target_id": float64(carol.ID), "ip": "203.0.113.9", "count": float64(1), "event": model.EventUserCreated}},
		{model.EventEmailChanged, map[string]any{"via": "session", "actor": admin, "target": "carol", "ip": "203.0.113.10"}},
		{model.EventTokenCreated, map[string]any{"via": "cli", "actor": nil, "actor_name": "cli", "target": "admin"}},
		{model.EventTokenRefused, map[string]any{"via": nil, "actor": nil, "ip": "198.51.100.7", "count": float64(3)}},
	} {
		got := auditItem(t, ta, value, tc.event)
		for k, v := range tc.want {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("%s: %s = %v, want %v (event %v)", tc.event, k, got[k], v, got)
			}
		}
	}
}

// TestAPIAuditFilters: ?event=, ?since=, ?page= and ?per_page=, with
// total counting every match; a since that is not RFC 3339 is 422.
func TestAPIAuditFilters(t *testing.T) {
	f := newFixture(t)
	ta := f.ta
	get := func(q string) *response {
		t.Helper()
		return ta.Do(t, request{Method: "GET", URL: "/api/v1/audit" + q, Token: f.adminValue})
	}
	all, total, err := ta.Store.AuditEvents(model.AuditFilter{Limit: 500})
	if err != nil || total < 3 {
		t.Fatalf("events: %d, %v", total, err)
	}

	r := get("?page=2&per_page=1")
	wantAnswer(t, r, 200)
	if items := r.Items(); len(items) != 1 || items[0]["id"] != float64(all[1].ID) || r.JSON["total"] != float64(total) {
		t.Errorf("page 2 of 1: %v of %v, want id %d of %d", items, r.JSON["total"], all[1].ID, total)
	}
	r = get("?event=" + model.EventUserCreated)
	wantAnswer(t, r, 200)
	if r.JSON["total"] != float64(2) {
		t.Errorf("user.created: total %v, want 2 (admin, bob)", r.JSON["total"])
	}
	past := ta.Clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := ta.Clock.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = get("?since=" + past + "&event=" + model.EventUserCreated + "&user=" + fmt.Sprint(f.bob.ID))
	wantAnswer(t, r, 200)
	if r.JSON["total"] != float64(1) {
		t.Errorf("since an hour ago, bob's creation: total %v, want 1", r.JSON["total"])
	}
	r = get("?since=" + future)
	wantAnswer(t, r, 200)
	if r.JSON["total"] != float64(0) {
		t.Errorf("since in an hour: total %v, want 0", r.JSON["total"])
	}
	r = get("?since=yesterday&page=0&per_page=501")
	wantAnswer(t, r, 422, `"since"`, `"page"`, `"per_page"`)
}
