package handlers

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// TestAPITokenScopes: a read token reads (every documented GET answers as
// it does for a write token) and is refused any write with 403 before the
// handler runs (TestAPIRefusalsOfEveryOperation drives every write
// operation); POST defaults to write, takes read, refuses anything else;
// PATCH changes the scope, effective at the very next request.
func TestAPITokenScopes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addPasskey(t, f)
	exp := f.ta.Clock.Now().Add(time.Hour).Format(time.RFC3339)
	tokens := fmt.Sprintf("/api/v1/users/%d/tokens", f.admin.ID)

	// The default of the API is write, for existing scripts.
	r := f.ta.Do(t, request{Method: "POST", URL: tokens, Token: f.adminValue, Body: map[string]any{"expires_at": exp}})
	wantAnswer(t, r, 201)
	if r.JSON["scope"] != "write" || r.JSON["created_by"] != float64(f.admin.ID) {
		t.Errorf("default token: scope %v, created_by %v", r.JSON["scope"], r.JSON["created_by"])
	}
	for _, bad := range []string{"", "admin", "Read"} {
		r := f.ta.Do(t, request{Method: "POST", URL: tokens, Token: f.adminValue, Body: map[string]any{"expires_at": exp, "scope": bad}})
		wantAnswer(t, r, 422)
		if r.Field("scope") != "scope must be read or write" {
			t.Errorf("scope %q: %s", bad, r.Body)
		}
	}
	r = f.ta.Do(t, request{Method: "POST", URL: tokens, Token: f.adminValue, Body: map[string]any{"expires_at": exp, "scope": "read"}})
	wantAnswer(t, r, 201)
	readValue, tid := r.JSON["token"].(string), r.JSON["id"].(string)
	if r.JSON["scope"] != "read" {
		t.Fatalf("read token answered scope %v", r.JSON["scope"])
	}

	// Every GET answers the read token as it answers the write token.
	for _, op := range operations(t, f) {
		if op.Method != "GET" {
			continue
		}
		url := f.expand(op.Template)
		want := f.ta.Do(t, request{URL: url, Token: f.adminValue}).Status
		if got := f.ta.Do(t, request{URL: url, Token: readValue}); got.Status != want || want != 200 {
			t.Errorf("GET %s: read token %d, write token %d: %s", op.Template, got.Status, want, trimBody(got.Body))
		}
	}

	// A write is refused, with the reason, and changes nothing.
	email := request{Method: "PATCH", URL: fmt.Sprintf("/api/v1/users/%d", f.bob.ID), Token: readValue,
		Body: map[string]string{"email": "robert@example.org"}}
	before := f.ta.Snapshot(t)
	wantAnswer(t, f.ta.Do(t, email), 403, "This access token is read-only")
	if after := f.ta.Snapshot(t); after != before {
		t.Errorf("a read token changed the state:\nbefore %s\nafter  %s", before, after)
	}

	// Modify makes it a write token at once (the lookup cache ends), and
	// back.
	patch := func(scope any, status int) *response {
		r := f.ta.Do(t, request{Method: "PATCH", URL: tokens + "/" + tid, Token: f.adminValue, Body: map[string]any{"scope": scope}})
		wantAnswer(t, r, status)
		return r
	}
	if r := patch("write", 200); r.JSON["scope"] != "write" {
		t.Errorf("patched scope: %v", r.JSON["scope"])
	}
	wantAnswer(t, f.ta.Do(t, email), 200)
	patch("read", 200)
	email.Body = map[string]string{"email": "bob@example.org"}
	wantAnswer(t, f.ta.Do(t, email), 403, "read-only")
	if r := patch("everything", 422); r.Field("scope") == "" {
		t.Errorf("bad scope in PATCH: %s", r.Body)
	}
	if ev := f.ta.AuditEvents(t, model.EventTokenModified); len(ev) != 2 || ev[1].Detail != "token "+tid+": scope write → read" {
		t.Errorf("modify events: %+v", ev)
	}
}

// TestAPITokenCreatorAudited: an action made with a token that an admin
// created for another user is audited with the token, its user and its
// creator (the "token T of U, created by A").
func TestAPITokenCreatorAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	exp := f.ta.Clock.Now().Add(time.Hour).Format(time.RFC3339)
	r := f.ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/api/v1/users/%d/tokens", f.bob.ID), Token: f.adminValue,
		Body: map[string]any{"expires_at": exp}})
	wantAnswer(t, r, 201)
	value, tid := r.JSON["token"].(string), r.JSON["id"].(string)
	if r.JSON["created_by"] != float64(f.admin.ID) || r.JSON["user_id"] != float64(f.bob.ID) {
		t.Fatalf("token for bob: %s", r.Body)
	}
	wantAnswer(t, f.ta.Do(t, request{Method: "PATCH", URL: fmt.Sprintf("/api/v1/users/%d", f.bob.ID), Token: value,
		Body: map[string]string{"email": "robert@example.org"}}), 200)
	r = f.ta.Do(t, request{URL: "/api/v1/audit?event=" + model.EventEmailChanged, Token: f.adminValue})
	wantAnswer(t, r, 200)
	items := r.Items()
	if len(items) == 0 {
		t.Fatalf("no %s event: %s", model.EventEmailChanged, r.Body)
	}
	e := items[0]
	actor, _ := e["actor"].(map[string]any)
	if actor["username"] != "bob" || e["via"] != "token:"+tid || e["token_created_by"] != f.admin.Username {
		t.Errorf("event: actor %v, via %v, token_created_by %v", actor, e["via"], e["token_created_by"])
	}
	// A session's action names no token creator.
	r = f.ta.Do(t, request{URL: "/api/v1/audit?event=" + model.EventTokenCreated, Token: f.adminValue})
	for _, e := range r.Items() {
		if e["token_created_by"] != nil && e["via"] == nil {
			t.Errorf("event without a token names a creator: %v", e)
		}
	}
}
