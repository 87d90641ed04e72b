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
)

// apiFixture is a fresh app with admin (ID 1) and bob, an access token for
// each, and the browser sessions of admin.
type apiFixture struct {
	ta         *testApp
	admin, bob model.User
	adminToken string
	bobToken   model.Token
	bobValue   string
	session    *thSession
	bobPasskey string // set by apiAddPasskey
	bobSession string // public id, set by apiAddSession
}

func newAPIFixture(t *testing.T) *apiFixture {
	t.Helper()
	ta := apiNewApp(t, apiTrustTestPeer)
	f := &apiFixture{ta: ta, admin: ta.Admin, bob: thCreateUser(t, ta, "bob")}
	f.adminToken, _ = ta.apiToken(t, ta.Admin)
	f.bobValue, f.bobToken = ta.apiToken(t, f.bob, "192.0.2.0/24")
	f.session = ta.Session(t, ta.Admin)
	return f
}

// apiAuthMode is how a scenario authenticates.
type apiAuthMode string

const (
	authBearer        apiAuthMode = "bearer"
	authSession       apiAuthMode = "session+csrf"
	authSessionNoCSRF apiAuthMode = "session without csrf"
	authNone          apiAuthMode = "none"
)

// apiScenario is one row of the API route table. Every row runs with a
// bearer token and with the session plus CSRF header; state-changing rows
// also run with the session without the header (403, nothing changes) and
// without credentials (401).
type apiScenario struct {
	name   string
	method string
	// path may hold {bob} and {bobtoken}.
	path   string
	body   any
	setup  func(t *testing.T, f *apiFixture)
	status int
	want   []string
	check  func(t *testing.T, f *apiFixture, r *apiResponse)
	// fields are the errors members a problem answer must have.
	fields []string
}

func (s apiScenario) expand(f *apiFixture) string {
	p := strings.ReplaceAll(s.path, "{bob}", fmt.Sprint(f.bob.ID))
	p = strings.ReplaceAll(p, "{bobpasskey}", f.bobPasskey)
	p = strings.ReplaceAll(p, "{bobsession}", f.bobSession)
	return strings.ReplaceAll(p, "{bobtoken}", f.bobToken.ID)
}

func (s apiScenario) run(t *testing.T, mode apiAuthMode) {
	t.Run(s.name+"/"+string(mode), func(t *testing.T) {
		t.Parallel()
		f := newAPIFixture(t)
		if s.setup != nil {
			s.setup(t, f)
		}
		call := apiCall{Method: s.method, Path: s.expand(f), Body: s.body}
		switch mode {
		case authBearer:
			call.Token = f.adminToken
		case authSession:
			call.Session, call.CSRF = f.session, true
		case authSessionNoCSRF:
			call.Session = f.session
		}
		before := apiState(t, f.ta)
		r := f.ta.API(t, call)
		switch mode {
		case authSessionNoCSRF, authNone:
			want := 403
			if mode == authNone {
				want = 401
				if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("401 without WWW-Authenticate: Bearer (got %q)", got)
				}
			}
			apiWant(t, r, want)
			if after := apiState(t, f.ta); after != before {
				t.Errorf("a refused request changed the state:\nbefore %s\nafter  %s", before, after)
			}
			return
		}
		apiWant(t, r, s.status, s.want...)
		for _, field := range s.fields {
			if r.Field(field) == "" {
				t.Errorf("the problem has no message for %q: %s", field, r.Body)
			}
		}
		if r.Status >= 400 && s.status != 0 && r.Status == s.status && s.status != 404 {
			if after := apiState(t, f.ta); after != before && s.method != "GET" {
				t.Errorf("a refused %s changed the state:\nbefore %s\nafter  %s", s.method, before, after)
			}
		}
		if s.check != nil {
			s.check(t, f, r)
		}
	})
}

// apiState describes users (with hashes and 2FA state), sessions, tokens
// and passkeys, for "nothing changed" checks (see testApp.Snapshot).
func apiState(t testing.TB, ta *testApp) string {
	t.Helper()
	return ta.Snapshot(t)
}

// TestAPIRoutes drives every route of the API table with a bearer token
// and with a browser session: success, each validation failure, 404, 409,
// 422; the session without its CSRF header is refused for every change,
// and no credentials at all get 401. Every answer is validated against
// openapi.json (see apiCheckContract).
func TestAPIRoutes(t *testing.T) {
	userCount := func(n int) func(t *testing.T, f *apiFixture, r *apiResponse) {
		return func(t *testing.T, f *apiFixture, r *apiResponse) {
			if got := len(r.Items()); got != n || r.JSON["total"] != float64(n) {
				t.Errorf("%d items, total %v; want %d", got, r.JSON["total"], n)
			}
		}
	}
	bobPasswordIs := func(pw string) func(t *testing.T, f *apiFixture, r *apiResponse) {
		return func(t *testing.T, f *apiFixture, r *apiResponse) {
			if _, err := f.ta.Store.Authenticate(context.Background(), "bob", pw); err != nil {
				t.Errorf("bob's password is not %q: %v", pw, err)
			}
		}
	}
	future := func(f *apiFixture, d time.Duration) string { return f.ta.Clock.Now().Add(d).Format(time.RFC3339) }
	_ = future
	scenarios := []apiScenario{
		// me
		{name: "me", method: "GET", path: "/api/v1/me", status: 200, want: []string{`"username":"admin"`, `"id":1`, `"two_factor":false`}},

		// users
		{name: "list users", method: "GET", path: "/api/v1/users", status: 200, want: []string{`"admin"`, `"bob"`, `"created_at":"`}, check: userCount(2)},
		{name: "create user", method: "POST", path: "/api/v1/users", body: map[string]string{"username": "carol", "password": "carol-pass-1", "email": "carol@example.com"},
			status: 201, want: []string{`"username":"carol"`},
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				u, err := f.ta.Store.UserByName("carol")
				if err != nil || r.Header.Get("Location") != fmt.Sprintf("/api/v1/users/%d", u.ID) {
					t.Errorf("carol %v, %v; Location %q", u, err, r.Header.Get("Location"))
				}
				if ev := f.ta.AuditEvents(t, model.EventUserCreated); ev[len(ev)-1].Actor != "admin" {
					t.Errorf("created by %q", ev[len(ev)-1].Actor)
				}
			}},
		{name: "create user: invalid fields", method: "POST", path: "/api/v1/users", body: map[string]string{"username": "x", "password": "short", "email": "nope"},
			status: 422, fields: []string{"username", "password", "email"}},
		{name: "create user: missing fields", method: "POST", path: "/api/v1/users", body: map[string]string{},
			status: 422, fields: []string{"username", "password", "email"}},
		{name: "create user: taken name", method: "POST", path: "/api/v1/users", body: map[string]string{"username": "BOB", "password": "carol-pass-1", "email": "c@example.com"},
			status: 409, fields: []string{"username"}},
		{name: "get user", method: "GET", path: "/api/v1/users/{bob}", status: 200, want: []string{`"username":"bob"`, `"email":"bob@example.com"`}},
		{name: "get user: unknown", method: "GET", path: "/api/v1/users/999", status: 404},
		{name: "get user: not a number", method: "GET", path: "/api/v1/users/bob", status: 404},
		{name: "patch user: email only", method: "PATCH", path: "/api/v1/users/{bob}", body: map[string]string{"email": "bobby@example.com"},
			status: 200, want: []string{`"username":"bob"`, `"email":"bobby@example.com"`}},
		{name: "patch user: username only", method: "PATCH", path: "/api/v1/users/{bob}", body: map[string]string{"username": "robert"},
			status: 200, want: []string{`"username":"robert"`, `"email":"bob@example.com"`}},
		{name: "patch user: nothing", method: "PATCH", path: "/api/v1/users/{bob}", body: map[string]string{}, status: 200, want: []string{`"username":"bob"`}},
		{name: "patch user: bad email", method: "PATCH", path: "/api/v1/users/{bob}", body: map[string]string{"email": "<script>"}, status: 422, fields: []string{"email"}},
		{name: "patch user: bidi override in email", method: "PATCH", path: "/api/v1/users/{bob}", body: map[string]string{"email": "bob\u202egro.elpmaxe@example.com"},
			status: 422, fields: []string{"email"}, want: []string{"U+202E"}},
		{name: "create user: zero-width space in email", method: "POST", path: "/api/v1/users", body: map[string]string{"username": "carol", "password": "carol-pass-1", "email": "carol\u200b@example.com"},
			status: 422, fields: []string{"email"}},
		{name: "patch user: taken name", method: "PATCH", path: "/api/v1/users/{bob}", body: map[string]string{"username": "Admin"}, status: 409, fields: []string{"username"}},
		{name: "patch user: unknown", method: "PATCH", path: "/api/v1/users/999", body: map[string]string{"email": "x@example.com"}, status: 404},
		{name: "set password", method: "PUT", path: "/api/v1/users/{bob}/password", body: map[string]string{"password": "new-pass-42"}, status: 204, check: bobPasswordIs("new-pass-42")},
		{name: "set password: too short", method: "PUT", path: "/api/v1/users/{bob}/password", body: map[string]string{"password": "short"}, status: 422, fields: []string{"password"}},
		{name: "set password: missing", method: "PUT", path: "/api/v1/users/{bob}/password", body: map[string]string{}, status: 422, fields: []string{"password"}},
		{name: "set password: unknown user", method: "PUT", path: "/api/v1/users/999/password", body: map[string]string{"password": "new-pass-42"}, status: 404},
		{name: "delete user", method: "DELETE", path: "/api/v1/users/{bob}", status: 204,
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				thNoUser(t, f.ta, "bob")
				// bob's token stops at once.
				r2 := f.ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: f.bobValue, ClientIP: "192.0.2.1"})
				apiWant(t, r2, 401)
			}},
		{name: "delete user: unknown", method: "DELETE", path: "/api/v1/users/999", status: 404},
		{name: "delete user: the last one", method: "DELETE", path: "/api/v1/users/1", status: 409, want: []string{"last user"},
			setup: func(t *testing.T, f *apiFixture) {
				if err := f.ta.Store.DeleteUser(f.bob.ID, model.CLIActor); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "2fa off", method: "DELETE", path: "/api/v1/users/{bob}/2fa", status: 204,
			setup: func(t *testing.T, f *apiFixture) { apiEnableTOTP(t, f); apiReauth(t, f) },
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				if u := thUser(t, f.ta, "bob"); u.TwoFactor || len(u.TOTPSecret) != 0 || len(u.RecoveryHashes) != 0 {
					t.Errorf("bob after 2FA off: enabled=%v secret=%d codes=%d", u.TwoFactor, len(u.TOTPSecret), len(u.RecoveryHashes))
				}
				if ev := f.ta.AuditEvents(t, model.EventTwoFactorReset); len(ev) != 1 || ev[0].Actor != "admin" {
					t.Errorf("2fa reset events: %+v", ev)
				}
			}},
		{name: "2fa off: already off", method: "DELETE", path: "/api/v1/users/{bob}/2fa", status: 204, setup: apiReauth},
		{name: "2fa off: unknown user", method: "DELETE", path: "/api/v1/users/999/2fa", status: 404},

		// tokens
		{name: "list tokens", method: "GET", path: "/api/v1/users/{bob}/tokens", status: 200,
			want: []string{`"ips":["192.0.2.0/24"]`, `"last_used_at":null`, `"last_used_ip":null`, `"expired":false`},
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				if items := r.Items(); len(items) != 1 || items[0]["id"] != f.bobToken.ID || items[0]["token"] != nil {
					t.Errorf("items %v", items)
				}
				if strings.Contains(r.Body, f.bobValue) || strings.Contains(r.Body, f.bobToken.Hash) {
					t.Error("the list shows a token value or hash")
				}
			}},
		{name: "list tokens: none", method: "GET", path: "/api/v1/users/{bob}/tokens", status: 200, want: []string{`{"items":[],"total":0}`},
			setup: func(t *testing.T, f *apiFixture) {
				if err := f.ta.Store.DeleteToken(f.bob.ID, f.bobToken.ID, model.CLIActor); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "list tokens: unknown user", method: "GET", path: "/api/v1/users/999/tokens", status: 404},
		{name: "create token", method: "POST", path: "/api/v1/users/{bob}/tokens",
			body:   map[string]any{"ips": []string{"203.0.113.0/24", "2001:DB8::/32", "::ffff:127.0.0.1"}, "expires_at": "2031-02-03T04:05:06+01:00"},
			status: 201, want: []string{`"token":"gth_`, `"ips":["203.0.113.0/24","2001:db8::/32","127.0.0.1"]`, `"expires_at":"2031-02-03T03:05:06Z"`},
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
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
		{name: "create token: any address", method: "POST", path: "/api/v1/users/{bob}/tokens", body: map[string]any{"expires_at": "2031-02-03T04:05:06Z"},
			status: 201, want: []string{`"ips":[]`}},
		{name: "create token: bad entries and past expiry", method: "POST", path: "/api/v1/users/{bob}/tokens",
			body:   map[string]any{"ips": []string{"10.0.0.0/33", "10.0.0.1/8"}, "expires_at": "2001-01-01T00:00:00Z"},
			status: 422, fields: []string{"ips", "expires_at"}, want: []string{"did you mean 10.0.0.0/8?", "prefix length"}},
		{name: "create token: no expiry", method: "POST", path: "/api/v1/users/{bob}/tokens", body: map[string]any{"ips": []string{}}, status: 422, fields: []string{"expires_at"}},
		{name: "create token: unreadable expiry", method: "POST", path: "/api/v1/users/{bob}/tokens", body: map[string]any{"ips": []string{"nope"}, "expires_at": "next week"},
			status: 422, fields: []string{"expires_at", "ips"}, want: []string{"RFC 3339"}},
		{name: "create token: too far", method: "POST", path: "/api/v1/users/{bob}/tokens", body: map[string]any{"expires_at": "2099-01-01T00:00:00Z"}, status: 422, fields: []string{"expires_at"}},
		{name: "create token: ips not a list", method: "POST", path: "/api/v1/users/{bob}/tokens", body: map[string]any{"ips": "10.0.0.0/8", "expires_at": "2031-01-01T00:00:00Z"},
			status: 422, fields: []string{"ips"}},
		{name: "create token: unknown user", method: "POST", path: "/api/v1/users/999/tokens", body: map[string]any{"expires_at": "2031-01-01T00:00:00Z"}, status: 404},
		{name: "patch token: expiry only", method: "PATCH", path: "/api/v1/users/{bob}/tokens/{bobtoken}", body: map[string]any{"expires_at": "2031-01-01T00:00:00Z"},
			status: 200, want: []string{`"ips":["192.0.2.0/24"]`, `"expires_at":"2031-01-01T00:00:00Z"`},
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				if ev := f.ta.AuditEvents(t, model.EventTokenModified); len(ev) != 1 || !strings.Contains(ev[0].Detail, "→ 2031-01-01T00:00:00Z") {
					t.Errorf("token.modified events %+v", ev)
				}
			}},
		{name: "patch token: ips only", method: "PATCH", path: "/api/v1/users/{bob}/tokens/{bobtoken}", body: map[string]any{"ips": []string{"::1"}},
			status: 200, want: []string{`"ips":["::1"]`},
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				if got := r.JSON["expires_at"]; got != f.bobToken.ExpiresAt.UTC().Format(time.RFC3339) {
					t.Errorf("expiry changed to %v", got)
				}
			}},
		{name: "patch token: empty list means any", method: "PATCH", path: "/api/v1/users/{bob}/tokens/{bobtoken}", body: map[string]any{"ips": []string{}},
			status: 200, want: []string{`"ips":[]`},
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				r2 := f.ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: f.bobValue, ClientIP: "198.51.100.1"})
				apiWant(t, r2, 200, `"username":"bob"`)
			}},
		{name: "patch token: null keeps", method: "PATCH", path: "/api/v1/users/{bob}/tokens/{bobtoken}", body: `{"ips":null}`, status: 200, want: []string{`"ips":["192.0.2.0/24"]`}},
		{name: "patch token: bad", method: "PATCH", path: "/api/v1/users/{bob}/tokens/{bobtoken}", body: map[string]any{"ips": []string{"fe80::1%eth0"}, "expires_at": "2000-01-01T00:00:00Z"},
			status: 422, fields: []string{"ips", "expires_at"}},
		{name: "patch token: unreadable expiry saves nothing", method: "PATCH", path: "/api/v1/users/{bob}/tokens/{bobtoken}", body: map[string]any{"ips": []string{"::1"}, "expires_at": "soon"},
			status: 422, fields: []string{"expires_at"}},
		{name: "patch token: unknown token", method: "PATCH", path: "/api/v1/users/{bob}/tokens/nonexistent1", body: map[string]any{"ips": []string{}}, status: 404},
		{name: "patch token: another user's token", method: "PATCH", path: "/api/v1/users/1/tokens/{bobtoken}", body: map[string]any{"ips": []string{}}, status: 404},
		{name: "delete token", method: "DELETE", path: "/api/v1/users/{bob}/tokens/{bobtoken}", status: 204,
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				r2 := f.ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: f.bobValue, ClientIP: "192.0.2.1"})
				apiWant(t, r2, 401)
				if ev := f.ta.AuditEvents(t, model.EventTokenDeleted); len(ev) != 1 || ev[0].Detail != "token "+f.bobToken.ID {
					t.Errorf("token.deleted events %+v", ev)
				}
			}},
		{name: "delete token: unknown", method: "DELETE", path: "/api/v1/users/{bob}/tokens/nonexistent1", status: 404},
		{name: "delete token: another user's", method: "DELETE", path: "/api/v1/users/1/tokens/{bobtoken}", status: 404},

		// passkeys
		{name: "list passkeys", method: "GET", path: "/api/v1/users/{bob}/passkeys", status: 200, want: []string{`{"items":[],"total":0}`}},
		{name: "list passkeys: one", method: "GET", path: "/api/v1/users/{bob}/passkeys", status: 200, setup: apiAddPasskey,
			want: []string{`"name":"laptop"`, `"last_used_at":null`, `"total":1`}, check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				if items := r.Items(); len(items) != 1 || items[0]["id"] != f.bobPasskey {
					t.Errorf("items %v", items)
				}
			}},
		{name: "delete passkey", method: "DELETE", path: "/api/v1/users/{bob}/passkeys/{bobpasskey}", status: 204, setup: apiAddPasskey,
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				if list, _ := f.ta.Store.Passkeys(f.bob.ID); len(list) != 0 {
					t.Errorf("%d passkeys left", len(list))
				}
			}},
		{name: "delete passkey: another user's", method: "DELETE", path: "/api/v1/users/1/passkeys/{bobpasskey}", status: 404, setup: apiAddPasskey},
		{name: "list passkeys: unknown user", method: "GET", path: "/api/v1/users/999/passkeys", status: 404},
		{name: "delete passkey: unknown", method: "DELETE", path: "/api/v1/users/{bob}/passkeys/nonexistent", status: 404},
		{name: "delete passkey: unknown user", method: "DELETE", path: "/api/v1/users/999/passkeys/x", status: 404},
		// sessions (more in api_sessions_test.go)
		{name: "list sessions", method: "GET", path: "/api/v1/users/{bob}/sessions", status: 200, setup: apiAddSession,
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				if items := r.Items(); len(items) != 1 || items[0]["id"] != f.bobSession || items[0]["current"] != false {
					t.Errorf("sessions %v", items)
				}
			}},
		{name: "list sessions: unknown user", method: "GET", path: "/api/v1/users/999/sessions", status: 404},
		{name: "end session", method: "DELETE", path: "/api/v1/users/{bob}/sessions/{bobsession}", status: 204, setup: apiAddSession,
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				if ss, _ := f.ta.Store.SessionsOf(f.bob.ID); len(ss) != 0 {
					t.Errorf("%d sessions left", len(ss))
				}
			}},
		{name: "end session: another user's", method: "DELETE", path: "/api/v1/users/1/sessions/{bobsession}", status: 404, setup: apiAddSession},
		{name: "end session: unknown", method: "DELETE", path: "/api/v1/users/{bob}/sessions/0123456789abcdef0123", status: 404},
		{name: "end session: unknown user", method: "DELETE", path: "/api/v1/users/999/sessions/0123456789abcdef0123", status: 404},
		{name: "end sessions", method: "DELETE", path: "/api/v1/users/{bob}/sessions", status: 204, setup: apiAddSession,
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				if ss, _ := f.ta.Store.SessionsOf(f.bob.ID); len(ss) != 0 {
					t.Errorf("%d sessions left", len(ss))
				}
			}},
		{name: "end sessions: unknown user", method: "DELETE", path: "/api/v1/users/999/sessions", status: 404},

		// audit
		{name: "audit", method: "GET", path: "/api/v1/audit", status: 200, want: []string{`"action":"token.created"`, `"action":"user.created"`},
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				items := r.Items()
				for i := 1; i < len(items); i++ {
					if items[i-1]["id"].(float64) <= items[i]["id"].(float64) {
						t.Fatalf("not newest first: %v", items)
					}
				}
			}},
		{name: "audit: paginated", method: "GET", path: "/api/v1/audit?limit=2&offset=1", status: 200,
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
				all, total, _ := f.ta.Store.AuditEvents(model.AuditFilter{Limit: 500})
				items := r.Items()
				if len(items) != 2 || r.JSON["total"] != float64(total) || items[0]["id"] != float64(all[1].ID) {
					t.Errorf("page %v of %v", items, r.JSON["total"])
				}
			}},
		{name: "audit: by user", method: "GET", path: "/api/v1/audit?user={bob}", status: 200,
			check: func(t *testing.T, f *apiFixture, r *apiResponse) {
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
		{name: "audit: bad limit", method: "GET", path: "/api/v1/audit?limit=0&offset=-1&user=x", status: 422, fields: []string{"limit", "offset", "user"}},

		// unknown routes
		{name: "unknown route", method: "GET", path: "/api/v1/nope", status: 404},
		{name: "unknown version", method: "GET", path: "/api/v2/me", status: 404},
	}
	for _, s := range scenarios {
		s.run(t, authBearer)
		s.run(t, authSession)
		if s.method != "GET" && !strings.HasPrefix(s.path, "/api/v2") {
			s.run(t, authSessionNoCSRF)
		}
		if strings.HasPrefix(s.path, "/api/v1/") {
			s.run(t, authNone)
		}
	}
	// After every subtest: each operation of openapi.json answered with a
	// success at least once.
	t.Cleanup(func() {
		checker := apiChecker(t)
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

// apiAddPasskey gives bob a passkey named laptop, as a registration
// would store it.
func apiAddPasskey(t *testing.T, f *apiFixture) {
	t.Helper()
	p, err := f.ta.Store.AddPasskey(f.bob.ID, model.NewPasskeyHandle(),
		model.Passkey{Name: "laptop", RPID: "localhost", CredentialID: []byte("credential-1"), PublicKey: []byte("public-key")},
		model.ActorFor(f.bob, "192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	f.bobPasskey = p.ID
}

// apiEnableTOTP turns 2FA on for bob, as the enrolment dialog would.
// apiReauth marks the fixture's browser session as having re-entered its
// password just now (the panel's sudo mode), which turning 2FA off through
// the API needs when it is called with a session.
func apiReauth(t *testing.T, f *apiFixture) {
	t.Helper()
	if err := f.ta.Store.MarkReauth(f.session.ID); err != nil {
		t.Fatal(err)
	}
}

// TestAPITwoFactorOffNeedsReauth checks that a browser session cannot use
// the API to skip the password prompt of the 2FA switch, while a bearer
// token needs none.
func TestAPITwoFactorOffNeedsReauth(t *testing.T) {
	f := newAPIFixture(t)
	apiEnableTOTP(t, f)
	path := fmt.Sprintf("/api/v1/users/%d/2fa", f.bob.ID)
	r := f.ta.API(t, apiCall{Method: "DELETE", Path: path, Session: f.session, CSRF: true})
	apiWant(t, r, 403, "needs your password")
	if u := thUser(t, f.ta, "bob"); !u.TwoFactor {
		t.Fatal("2FA turned off without re-authentication")
	}
	apiReauth(t, f)
	f.ta.Clock.Advance(5*time.Minute + time.Second)
	apiWant(t, f.ta.API(t, apiCall{Method: "DELETE", Path: path, Session: f.session, CSRF: true}), 403)
	apiWant(t, f.ta.API(t, apiCall{Method: "DELETE", Path: path, Token: f.adminToken}), 204)
	if u := thUser(t, f.ta, "bob"); u.TwoFactor {
		t.Fatal("2FA still on after DELETE with a bearer token")
	}
}

func apiEnableTOTP(t *testing.T, f *apiFixture) {
	t.Helper()
	e, err := model.NewTOTPEnrollment(f.bob, f.ta.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	code, err := model.TOTPCode(e.Secret, model.TOTPStep(f.ta.Clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ta.Store.EnableTwoFactor(e, code, model.ActorFor(f.bob, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
}

// TestAPIOpenAPIDocument: openapi.json is a valid OpenAPI 3.1 document,
// served without authentication, and it describes exactly the routes the
// app has under /api/v1.
func TestAPIOpenAPIDocument(t *testing.T) {
	doc, _ := apiLoadSpec(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	ta := apiNewApp(t)
	r := ta.API(t, apiCall{Method: "GET", Path: "/api/openapi.json"})
	apiWant(t, r, 200, `"openapi": "3.1.0"`)
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
	f := newAPIFixture(t)
	r := f.ta.Do(t, thReq{Method: "POST", URL: "/login", Form: thLoginForm("admin", "wrong-pass-1")})
	if r.Status != 401 {
		t.Fatalf("login: %d", r.Status)
	}
	a := f.ta.API(t, apiCall{Method: "GET", Path: "/api/v1/audit?limit=5", Token: f.adminToken})
	apiWant(t, a, 200, `"action":"login.failed"`)
}
