package handlers

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// eachAuth turns rows of the API route table into scenarios: every row
// runs with a bearer token and with the session plus CSRF header;
// state-changing rows also run with the session without the header (403),
// and rows under /api/v1/ without credentials (401, with a Bearer
// challenge). A refused change changes nothing.
func eachAuth(rows []scenario[*fixture]) []scenario[*fixture] {
	var out []scenario[*fixture]
	for _, s := range rows {
		s.Unchanged = s.WantStatus >= 400 && s.WantStatus != 404 && s.Method != "GET"
		bearer, session := s, s
		bearer.Name, bearer.Token = s.Name+"/bearer", true
		session.Name, session.Session = s.Name+"/session+csrf", true
		out = append(out, bearer, session)
		refused := scenario[*fixture]{Method: s.Method, URL: s.URL, Body: s.Body, Setup: s.Setup, Unchanged: true}
		if s.Method != "GET" && !strings.HasPrefix(s.URL, "/api/v2") {
			noCSRF := refused
			noCSRF.Name, noCSRF.Session, noCSRF.CSRF, noCSRF.WantStatus = s.Name+"/session without csrf", true, "none", 403
			out = append(out, noCSRF)
		}
		if strings.HasPrefix(s.URL, "/api/v1/") {
			none := refused
			none.Name, none.WantStatus = s.Name+"/none", 401
			none.After = func(t *testing.T, _ *fixture, r *response) {
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("401 without WWW-Authenticate: Bearer (got %q)", got)
				}
			}
			out = append(out, none)
		}
	}
	return out
}

// TestAPIRoutes drives every route of the API table with a bearer token
// and with a browser session: success, each validation failure, 404, 409,
// 422; the session without its CSRF header is refused for every change,
// and no credentials at all get 401. Every answer is validated against
// openapi.json (see roundTrip).
func TestAPIRoutes(t *testing.T) {
	t.Parallel()
	userCount := func(n int) func(t *testing.T, f *fixture, r *response) {
		return func(t *testing.T, f *fixture, r *response) {
			if got := len(r.Items()); got != n || r.JSON["total"] != float64(n) {
				t.Errorf("%d items, total %v; want %d", got, r.JSON["total"], n)
			}
		}
	}
	bobPasswordIs := func(pw string) func(t *testing.T, f *fixture, r *response) {
		return func(t *testing.T, f *fixture, r *response) {
			if _, err := f.ta.Store.Authenticate(context.Background(), "bob", pw); err != nil {
				t.Errorf("bob's password is not %q: %v", pw, err)
			}
		}
	}
	rows := []scenario[*fixture]{
		// me
		{Name: "me", Method: "GET", URL: "/api/v1/me", WantStatus: 200, Want: []string{`"username":"admin"`, `"id":1`, `"two_factor":false`}},

		// users
		{Name: "list users", Method: "GET", URL: "/api/v1/users", WantStatus: 200, Want: []string{`"admin"`, `"bob"`, `"created_at":"`}, After: userCount(2)},
		{Name: "create user", Method: "POST", URL: "/api/v1/users", Body: map[string]string{"username": "carol", "password": "carol-pass-1", "email": "carol@example.com"},
			WantStatus: 201, Want: []string{`"username":"carol"`},
			After: func(t *testing.T, f *fixture, r *response) {
				u, err := f.ta.Store.UserByName("carol")
				if err != nil || r.Header.Get("Location") != fmt.Sprintf("/api/v1/users/%d", u.ID) {
					t.Errorf("carol %v, %v; Location %q", u, err, r.Header.Get("Location"))
				}
				if ev := f.ta.AuditEvents(t, model.EventUserCreated); ev[len(ev)-1].Actor != "admin" {
					t.Errorf("created by %q", ev[len(ev)-1].Actor)
				}
			}},
		{Name: "create user: invalid fields", Method: "POST", URL: "/api/v1/users", Body: map[string]string{"username": "x", "password": "short", "email": "nope"},
			WantStatus: 422, WantFields: []string{"username", "password", "email"}},
		{Name: "create user: missing fields", Method: "POST", URL: "/api/v1/users", Body: map[string]string{},
			WantStatus: 422, WantFields: []string{"username", "password", "email"}},
		{Name: "create user: taken name", Method: "POST", URL: "/api/v1/users", Body: map[string]string{"username": "BOB", "password": "carol-pass-1", "email": "c@example.com"},
			WantStatus: 409, WantFields: []string{"username"}},
		{Name: "get user", Method: "GET", URL: "/api/v1/users/{bob}", WantStatus: 200, Want: []string{`"username":"bob"`, `"email":"bob@example.com"`}},
		{Name: "get user: unknown", Method: "GET", URL: "/api/v1/users/999", WantStatus: 404},
		{Name: "get user: not a number", Method: "GET", URL: "/api/v1/users/bob", WantStatus: 404},
		{Name: "patch user: email only", Method: "PATCH", URL: "/api/v1/users/{bob}", Body: map[string]string{"email": "bobby@example.com"},
			WantStatus: 200, Want: []string{`"username":"bob"`, `"email":"bobby@example.com"`}},
		{Name: "patch user: username only", Method: "PATCH", URL: "/api/v1/users/{bob}", Body: map[string]string{"username": "robert"},
			WantStatus: 200, Want: []string{`"username":"robert"`, `"email":"bob@example.com"`}},
		{Name: "patch user: nothing", Method: "PATCH", URL: "/api/v1/users/{bob}", Body: map[string]string{}, WantStatus: 200, Want: []string{`"username":"bob"`}},
		{Name: "patch user: bad email", Method: "PATCH", URL: "/api/v1/users/{bob}", Body: map[string]string{"email": "<script>"}, WantStatus: 422, WantFields: []string{"email"}},
		{Name: "patch user: bidi override in email", Method: "PATCH", URL: "/api/v1/users/{bob}", Body: map[string]string{"email": "bob\u202egro.elpmaxe@example.com"},
			WantStatus: 422, WantFields: []string{"email"}, Want: []string{"U+202E"}},
		{Name: "create user: zero-width space in email", Method: "POST", URL: "/api/v1/users", Body: map[string]string{"username": "carol", "password": "carol-pass-1", "email": "carol\u200b@example.com"},
			WantStatus: 422, WantFields: []string{"email"}},
		{Name: "patch user: taken name", Method: "PATCH", URL: "/api/v1/users/{bob}", Body: map[string]string{"username": "Admin"}, WantStatus: 409, WantFields: []string{"username"}},
		{Name: "patch user: unknown", Method: "PATCH", URL: "/api/v1/users/999", Body: map[string]string{"email": "x@example.com"}, WantStatus: 404},
		{Name: "set password", Method: "PUT", URL: "/api/v1/users/{bob}/password", Body: map[string]string{"password": "new-pass-42"}, WantStatus: 204, After: bobPasswordIs("new-pass-42")},
		{Name: "set password: too short", Method: "PUT", URL: "/api/v1/users/{bob}/password", Body: map[string]string{"password": "short"}, WantStatus: 422, WantFields: []string{"password"}},
		{Name: "set password: missing", Method: "PUT", URL: "/api/v1/users/{bob}/password", Body: map[string]string{}, WantStatus: 422, WantFields: []string{"password"}},
		{Name: "set password: unknown user", Method: "PUT", URL: "/api/v1/users/999/password", Body: map[string]string{"password": "new-pass-42"}, WantStatus: 404},
		{Name: "delete user", Method: "DELETE", URL: "/api/v1/users/{bob}", WantStatus: 204,
			After: func(t *testing.T, f *fixture, r *response) {
				wantNoUser(t, f.ta, "bob")
				// bob's token stops at once.
				r2 := f.ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: f.bobValue, ClientIP: "192.0.2.1"})
				wantAnswer(t, r2, 401)
			}},
		{Name: "delete user: unknown", Method: "DELETE", URL: "/api/v1/users/999", WantStatus: 404},
		{Name: "delete user: the last one", Method: "DELETE", URL: "/api/v1/users/1", WantStatus: 409, Want: []string{"last user"},
			Setup: func(t *testing.T, f *fixture) {
				if err := f.ta.Store.DeleteUser(f.bob.ID, model.CLIActor); err != nil {
					t.Fatal(err)
				}
			}},
		{Name: "2fa off", Method: "DELETE", URL: "/api/v1/users/{bob}/2fa", WantStatus: 204,
			Setup: func(t *testing.T, f *fixture) { testkit.EnableTwoFactor(t, f.ta.Store, f.bob); markReauth(t, f) },
			After: func(t *testing.T, f *fixture, r *response) {
				if u := storedUser(t, f.ta, "bob"); u.TwoFactor || len(u.TOTPSecret) != 0 || len(u.RecoveryHashes) != 0 {
					t.Errorf("bob after 2FA off: enabled=%v secret=%d codes=%d", u.TwoFactor, len(u.TOTPSecret), len(u.RecoveryHashes))
				}
				if ev := f.ta.AuditEvents(t, model.EventTwoFactorReset); len(ev) != 1 || ev[0].Actor != "admin" {
					t.Errorf("2fa reset events: %+v", ev)
				}
			}},
		{Name: "2fa off: already off", Method: "DELETE", URL: "/api/v1/users/{bob}/2fa", WantStatus: 204, Setup: markReauth},
		{Name: "2fa off: unknown user", Method: "DELETE", URL: "/api/v1/users/999/2fa", WantStatus: 404},

		// tokens
		{Name: "list tokens", Method: "GET", URL: "/api/v1/users/{bob}/tokens", WantStatus: 200,
			Want: []string{`"ips":["192.0.2.0/24"]`, `"last_used_at":null`, `"last_used_ip":null`, `"expired":false`},
			After: func(t *testing.T, f *fixture, r *response) {
				if items := r.Items(); len(items) != 1 || items[0]["id"] != f.bobToken.ID || items[0]["token"] != nil {
					t.Errorf("items %v", items)
				}
				if strings.Contains(r.Body, f.bobValue) || strings.Contains(r.Body, f.bobToken.Hash) {
					t.Error("the list shows a token value or hash")
				}
			}},
		{Name: "list tokens: none", Method: "GET", URL: "/api/v1/users/{bob}/tokens", WantStatus: 200, Want: []string{`{"items":[],"total":0}`},
			Setup: func(t *testing.T, f *fixture) {
				if err := f.ta.Store.DeleteToken(f.bob.ID, f.bobToken.ID, model.CLIActor); err != nil {
					t.Fatal(err)
				}
			}},
		{Name: "list tokens: unknown user", Method: "GET", URL: "/api/v1/users/999/tokens", WantStatus: 404},
		{Name: "create token", Method: "POST", URL: "/api/v1/users/{bob}/tokens",
			Body:       map[string]any{"ips": []string{"203.0.113.0/24", "2001:DB8::/32", "::ffff:127.0.0.1"}, "expires_at": "2031-02-03T04:05:06+01:00"},
			WantStatus: 201, Want: []string{`"token":"gth_`, `"ips":["203.0.113.0/24","2001:db8::/32","127.0.0.1"]`, `"expires_at":"2031-02-03T03:05:06Z"`},
			After: func(t *testing.T, f *fixture, r *response) {
				value, _ := r.JSON["token"].(string)
				tok, u, err := f.ta.Store.TokenByValue(value)
				if err != nil || u.ID != f.bob.ID || tok.ID != r.JSON["id"] {
					t.Fatalf("the answered token does not work: %v", err)
				}
				if loc := r.Header.Get("Location"); loc != fmt.Sprintf("/api/v1/users/%d/tokens/%s", f.bob.ID, tok.ID) {
					t.Errorf("Location %q", loc)
				}
				if ev := f.ta.AuditEvents(t, model.EventTokenCreated); !strings.Contains(ev[len(ev)-1].Detail, tok.ID) || ev[len(ev)-1].Actor != "admin" {
					t.Errorf("token.created event %+v", ev[len(ev)-1])
				}
			}},
		{Name: "create token: any address", Method: "POST", URL: "/api/v1/users/{bob}/tokens", Body: map[string]any{"expires_at": "2031-02-03T04:05:06Z"},
			WantStatus: 201, Want: []string{`"ips":[]`}},
		{Name: "create token: bad entries and past expiry", Method: "POST", URL: "/api/v1/users/{bob}/tokens",
			Body:       map[string]any{"ips": []string{"10.0.0.0/33", "10.0.0.1/8"}, "expires_at": "2001-01-01T00:00:00Z"},
			WantStatus: 422, WantFields: []string{"ips", "expires_at"}, Want: []string{"did you mean 10.0.0.0/8?", "prefix length"}},
		{Name: "create token: no expiry", Method: "POST", URL: "/api/v1/users/{bob}/tokens", Body: map[string]any{"ips": []string{}}, WantStatus: 422, WantFields: []string{"expires_at"}},
		{Name: "create token: unreadable expiry", Method: "POST", URL: "/api/v1/users/{bob}/tokens", Body: map[string]any{"ips": []string{"nope"}, "expires_at": "next week"},
			WantStatus: 422, WantFields: []string{"expires_at", "ips"}, Want: []string{"RFC 3339"}},
		{Name: "create token: too far", Method: "POST", URL: "/api/v1/users/{bob}/tokens", Body: map[string]any{"expires_at": "2099-01-01T00:00:00Z"}, WantStatus: 422, WantFields: []string{"expires_at"}},
		{Name: "create token: ips not a list", Method: "POST", URL: "/api/v1/users/{bob}/tokens", Body: map[string]any{"ips": "10.0.0.0/8", "expires_at": "2031-01-01T00:00:00Z"},
			WantStatus: 422, WantFields: []string{"ips"}},
		{Name: "create token: unknown user", Method: "POST", URL: "/api/v1/users/999/tokens", Body: map[string]any{"expires_at": "2031-01-01T00:00:00Z"}, WantStatus: 404},
		{Name: "patch token: expiry only", Method: "PATCH", URL: "/api/v1/users/{bob}/tokens/{bobtoken}", Body: map[string]any{"expires_at": "2031-01-01T00:00:00Z"},
			WantStatus: 200, Want: []string{`"ips":["192.0.2.0/24"]`, `"expires_at":"2031-01-01T00:00:00Z"`},
			After: func(t *testing.T, f *fixture, r *response) {
				if ev := f.ta.AuditEvents(t, model.EventTokenModified); len(ev) != 1 || !strings.Contains(ev[0].Detail, "→ 2031-01-01T00:00:00Z") {
					t.Errorf("token.modified events %+v", ev)
				}
			}},
		{Name: "patch token: ips only", Method: "PATCH", URL: "/api/v1/users/{bob}/tokens/{bobtoken}", Body: map[string]any{"ips": []string{"::1"}},
			WantStatus: 200, Want: []string{`"ips":["::1"]`},
			After: func(t *testing.T, f *fixture, r *response) {
				if got := r.JSON["expires_at"]; got != f.bobToken.ExpiresAt.UTC().Format(time.RFC3339) {
					t.Errorf("expiry changed to %v", got)
				}
			}},
		{Name: "patch token: empty list means any", Method: "PATCH", URL: "/api/v1/users/{bob}/tokens/{bobtoken}", Body: map[string]any{"ips": []string{}},
			WantStatus: 200, Want: []string{`"ips":[]`},
			After: func(t *testing.T, f *fixture, r *response) {
				r2 := f.ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: f.bobValue, ClientIP: "198.51.100.1"})
				wantAnswer(t, r2, 200, `"username":"bob"`)
			}},
		{Name: "patch token: null keeps", Method: "PATCH", URL: "/api/v1/users/{bob}/tokens/{bobtoken}", Body: `{"ips":null}`, WantStatus: 200, Want: []string{`"ips":["192.0.2.0/24"]`}},
		{Name: "patch token: bad", Method: "PATCH", URL: "/api/v1/users/{bob}/tokens/{bobtoken}", Body: map[string]any{"ips": []string{"fe80::1%eth0"}, "expires_at": "2000-01-01T00:00:00Z"},
			WantStatus: 422, WantFields: []string{"ips", "expires_at"}},
		{Name: "patch token: unreadable expiry saves nothing", Method: "PATCH", URL: "/api/v1/users/{bob}/tokens/{bobtoken}", Body: map[string]any{"ips": []string{"::1"}, "expires_at": "soon"},
			WantStatus: 422, WantFields: []string{"expires_at"}},
		{Name: "patch token: unknown token", Method: "PATCH", URL: "/api/v1/users/{bob}/tokens/nonexistent1", Body: map[string]any{"ips": []string{}}, WantStatus: 404},
		{Name: "patch token: another user's token", Method: "PATCH", URL: "/api/v1/users/1/tokens/{bobtoken}", Body: map[string]any{"ips": []string{}}, WantStatus: 404},
		{Name: "delete token", Method: "DELETE", URL: "/api/v1/users/{bob}/tokens/{bobtoken}", WantStatus: 204,
			After: func(t *testing.T, f *fixture, r *response) {
				r2 := f.ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: f.bobValue, ClientIP: "192.0.2.1"})
				wantAnswer(t, r2, 401)
				if ev := f.ta.AuditEvents(t, model.EventTokenDeleted); len(ev) != 1 || ev[0].Detail != "token "+f.bobToken.ID {
					t.Errorf("token.deleted events %+v", ev)
				}
			}},
		{Name: "delete token: unknown", Method: "DELETE", URL: "/api/v1/users/{bob}/tokens/nonexistent1", WantStatus: 404},
		{Name: "delete token: another user's", Method: "DELETE", URL: "/api/v1/users/1/tokens/{bobtoken}", WantStatus: 404},

		// passkeys
		{Name: "list passkeys", Method: "GET", URL: "/api/v1/users/{bob}/passkeys", WantStatus: 200, Want: []string{`{"items":[],"total":0}`}},
		{Name: "list passkeys: one", Method: "GET", URL: "/api/v1/users/{bob}/passkeys", WantStatus: 200, Setup: addPasskey,
			Want: []string{`"name":"laptop"`, `"last_used_at":null`, `"total":1`}, After: func(t *testing.T, f *fixture, r *response) {
				if items := r.Items(); len(items) != 1 || items[0]["id"] != f.bobPasskey {
					t.Errorf("items %v", items)
				}
			}},
		{Name: "delete passkey", Method: "DELETE", URL: "/api/v1/users/{bob}/passkeys/{bobpasskey}", WantStatus: 204, Setup: addPasskey,
			After: func(t *testing.T, f *fixture, r *response) {
				if list, _ := f.ta.Store.Passkeys(f.bob.ID); len(list) != 0 {
					t.Errorf("%d passkeys left", len(list))
				}
			}},
		{Name: "delete passkey: another user's", Method: "DELETE", URL: "/api/v1/users/1/passkeys/{bobpasskey}", WantStatus: 404, Setup: addPasskey},
		{Name: "list passkeys: unknown user", Method: "GET", URL: "/api/v1/users/999/passkeys", WantStatus: 404},
		{Name: "delete passkey: unknown", Method: "DELETE", URL: "/api/v1/users/{bob}/passkeys/nonexistent", WantStatus: 404},
		{Name: "delete passkey: unknown user", Method: "DELETE", URL: "/api/v1/users/999/passkeys/x", WantStatus: 404},
		// sessions (more in api_sessions_test.go)
		{Name: "list sessions", Method: "GET", URL: "/api/v1/users/{bob}/sessions", WantStatus: 200, Setup: addSession,
			After: func(t *testing.T, f *fixture, r *response) {
				if items := r.Items(); len(items) != 1 || items[0]["id"] != f.bobSession || items[0]["current"] != false {
					t.Errorf("sessions %v", items)
				}
			}},
		{Name: "list sessions: unknown user", Method: "GET", URL: "/api/v1/users/999/sessions", WantStatus: 404},
		{Name: "end session", Method: "DELETE", URL: "/api/v1/users/{bob}/sessions/{bobsession}", WantStatus: 204, Setup: addSession,
			After: func(t *testing.T, f *fixture, r *response) {
				if ss, _ := f.ta.Store.SessionsOf(f.bob.ID); len(ss) != 0 {
					t.Errorf("%d sessions left", len(ss))
				}
			}},
		{Name: "end session: another user's", Method: "DELETE", URL: "/api/v1/users/1/sessions/{bobsession}", WantStatus: 404, Setup: addSession},
		{Name: "end session: unknown", Method: "DELETE", URL: "/api/v1/users/{bob}/sessions/0123456789abcdef0123", WantStatus: 404},
		{Name: "end session: unknown user", Method: "DELETE", URL: "/api/v1/users/999/sessions/0123456789abcdef0123", WantStatus: 404},
		{Name: "end sessions", Method: "DELETE", URL: "/api/v1/users/{bob}/sessions", WantStatus: 204, Setup: addSession,
			After: func(t *testing.T, f *fixture, r *response) {
				if ss, _ := f.ta.Store.SessionsOf(f.bob.ID); len(ss) != 0 {
					t.Errorf("%d sessions left", len(ss))
				}
			}},
		{Name: "end sessions: unknown user", Method: "DELETE", URL: "/api/v1/users/999/sessions", WantStatus: 404},

		// audit
		{Name: "audit", Method: "GET", URL: "/api/v1/audit", WantStatus: 200, Want: []string{`"action":"token.created"`, `"action":"user.created"`},
			After: func(t *testing.T, f *fixture, r *response) {
				items := r.Items()
				for i := 1; i < len(items); i++ {
					if items[i-1]["id"].(float64) <= items[i]["id"].(float64) {
						t.Fatalf("not newest first: %v", items)
					}
				}
			}},
		{Name: "audit: paginated", Method: "GET", URL: "/api/v1/audit?limit=2&offset=1", WantStatus: 200,
			After: func(t *testing.T, f *fixture, r *response) {
				all, total, _ := f.ta.Store.AuditEvents(model.AuditFilter{Limit: 500})
				items := r.Items()
				if len(items) != 2 || r.JSON["total"] != float64(total) || items[0]["id"] != float64(all[1].ID) {
					t.Errorf("page %v of %v", items, r.JSON["total"])
				}
			}},
		{Name: "audit: by user", Method: "GET", URL: "/api/v1/audit?user={bob}", WantStatus: 200,
			After: func(t *testing.T, f *fixture, r *response) {
				items := r.Items()
				if len(items) == 0 {
					t.Fatal("no events for bob")
				}
				for _, it := range items {
					if it["target_id"] != float64(f.bob.ID) && it["actor_id"] != float64(f.bob.ID) {
						t.Errorf("event not about bob: %v", it)
					}
				}
			}},
		{Name: "audit: bad limit", Method: "GET", URL: "/api/v1/audit?limit=0&offset=-1&user=x", WantStatus: 422, WantFields: []string{"limit", "offset", "user"}},

		// unknown routes
		{Name: "unknown route", Method: "GET", URL: "/api/v1/nope", WantStatus: 404},
		{Name: "unknown version", Method: "GET", URL: "/api/v2/me", WantStatus: 404},
	}
	runScenarios(t, newFixture, eachAuth(rows))
	// After every subtest: each operation of openapi.json answered with a
	// success at least once.
	t.Cleanup(func() {
		checker := contractChecker(t)
		var missing []string
		for path, item := range checker.Doc().Paths.Map() {
			if path == "/healthz" || path == "/api/openapi.json" {
				continue
			}
			for method := range item.Operations() {
				ok := false
				for _, code := range []int{200, 201, 204} {
					ok = ok || checker.Seen(method, path, code)
				}
				if !ok {
					missing = append(missing, method+" "+path)
				}
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 && !t.Failed() {
			t.Errorf("operations never answered with success in the tests: %v", missing)
		}
	})
}

// markReauth marks the fixture's browser session as having
// re-authenticated just now, which the step-up rule asks of a session
// for sensitive changes (stepup.go).
func markReauth(t *testing.T, f *fixture) {
	t.Helper()
	if err := f.ta.Store.MarkReauth(f.session.ID); err != nil {
		t.Fatal(err)
	}
}

// TestAPITwoFactorOffNeedsReauth checks that a browser session cannot use
// the API to turn 2FA off without a recent re-authentication, while a
// bearer token needs none.
func TestAPITwoFactorOffNeedsReauth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	testkit.EnableTwoFactor(t, f.ta.Store, f.bob)
	path := fmt.Sprintf("/api/v1/users/%d/2fa", f.bob.ID)
	f.ta.Clock.Advance(DefaultConfig().StepUp)
	wantReauthProblem(t, f.ta.Do(t, request{Method: "DELETE", URL: path, Session: f.session, CSRF: true}))
	if u := storedUser(t, f.ta, "bob"); !u.TwoFactor {
		t.Fatal("2FA turned off without re-authentication")
	}
	markReauth(t, f)
	f.ta.Clock.Advance(DefaultConfig().StepUp - time.Second)
	wantAnswer(t, f.ta.Do(t, request{Method: "DELETE", URL: path, Session: f.session, CSRF: true}), 204)
	testkit.EnableTwoFactor(t, f.ta.Store, f.bob)
	f.ta.Clock.Advance(time.Second)
	wantReauthProblem(t, f.ta.Do(t, request{Method: "DELETE", URL: path, Session: f.session, CSRF: true}))
	wantAnswer(t, f.ta.Do(t, request{Method: "DELETE", URL: path, Token: f.adminValue}), 204)
	if u := storedUser(t, f.ta, "bob"); u.TwoFactor {
		t.Fatal("2FA still on after DELETE with a bearer token")
	}
}

// TestAPIOpenAPIDocument: openapi.json is a valid OpenAPI 3.1 document,
// served without authentication, and it describes exactly the routes the
// app has under /api/v1.
func TestAPIOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc, _ := loadSpec(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	ta := newAPIApp(t)
	r := ta.Do(t, request{Method: "GET", URL: "/api/openapi.json"})
	wantAnswer(t, r, 200, `"openapi": "3.1.0"`)
	if r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range ta.App.GetRoutes(true) {
		if !strings.HasPrefix(rt.Path, "/api/v1/") || rt.Method == "HEAD" {
			continue
		}
		p := strings.ReplaceAll(rt.Path, ":id<int>", "{id}")
		p = strings.ReplaceAll(p, ":tid", "{tid}")
		p = strings.ReplaceAll(p, ":pid", "{pid}")
		p = strings.ReplaceAll(p, ":sid", "{sid}")
		served[rt.Method+" "+p] = true
		if !documented[rt.Method+" "+p] {
			t.Errorf("route %s %s is not in openapi.json", rt.Method, p)
		}
	}
	for op := range documented {
		if strings.Contains(op, "/api/v1/") && !served[op] {
			t.Errorf("openapi.json documents %s, which the app does not serve", op)
		}
	}
	if len(served) < 15 {
		t.Errorf("only %d API routes found: %v", len(served), served)
	}
	// The operations all say what they answer, and every error answer is
	// a problem.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Responses == nil || op.Responses.Len() == 0 || op.Summary == "" || op.OperationID == "" {
				t.Errorf("%s %s lacks a summary, operationId or responses", method, path)
			}
			for code, resp := range op.Responses.Map() {
				if code[0] == '4' || code[0] == '5' {
					if resp.Value.Content.Get("application/problem+json") == nil {
						t.Errorf("%s %s %s is not a problem answer", method, path, code)
					}
				}
			}
		}
	}
	_ = http.StatusOK
}

// TestAPIAuditIncludesBufferedEvents checks that a failed login, which is
// buffered rather than written at once, is in the audit answer right away.
func TestAPIAuditIncludesBufferedEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("admin", "wrong-pass-1")})
	if r.Status != 401 {
		t.Fatalf("login: %d", r.Status)
	}
	a := f.ta.Do(t, request{Method: "GET", URL: "/api/v1/audit?limit=5", Token: f.adminValue})
	wantAnswer(t, a, 200, `"action":"login.failed"`)
}
