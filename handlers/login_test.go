package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func TestLoginPage(t *testing.T) {
	t.Parallel()
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "form", Method: "GET", URL: "/login", WantStatus: 200,
			Want:    []string{"<!doctype html>", `name="username"`, `name="password"`, `type="password"`, `action="/login"`},
			NotWant: []string{"Signed in as", `name="_csrf"`}},
		{Name: "next kept in the form", Method: "GET", URL: "/login?next=%2Fsettings%2Fusers%2Fnew", WantStatus: 200,
			Want: []string{`name="next" value="/settings/users/new"`}},
		{Name: "logged in goes to users", Method: "GET", URL: "/login", Session: true, WantStatus: 303,
			WantHeaders: map[string]string{"Location": "/settings/users"}},
		{Name: "logged in goes to next", Method: "GET", URL: "/login?next=%2Fsettings%2Fusers%2Fnew", Session: true, WantStatus: 303,
			WantHeaders: map[string]string{"Location": "/settings/users/new"}},
		{Name: "logged in never leaves the site", Method: "GET", URL: "/login?next=%2F%2Fevil.com", Session: true, WantStatus: 303,
			WantHeaders: map[string]string{"Location": "/settings/users"}},
	})
}

func TestLoginSubmit(t *testing.T) {
	t.Parallel()
	noCookie := func(t *testing.T, ta *testApp, r *response) {
		if c := r.Cookie(sessionCookie); c != nil {
			t.Errorf("session cookie set: %v", c)
		}
	}
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "success", Method: "POST", URL: "/login", Form: loginForm("admin", testkit.AdminPassword), WantStatus: 303,
			WantHeaders: map[string]string{"Location": "/settings/users"},
			After: func(t *testing.T, ta *testApp, r *response) {
				c := r.Cookie(sessionCookie)
				if c == nil || len(c.Value) < 40 {
					t.Fatalf("session cookie = %v", c)
				}
				if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || c.Path != "/" {
					t.Errorf("session cookie flags: HttpOnly=%v SameSite=%v Secure=%v Path=%q", c.HttpOnly, c.SameSite, c.Secure, c.Path)
				}
				if _, _, err := ta.Store.SessionByToken(c.Value, ta.H.sessionPolicy()); err != nil {
					t.Errorf("session not stored: %v", err)
				}
				// Only the hash is stored.
				if sessions, _ := ta.Store.SessionsOf(1); len(sessions) != 1 || sessions[0].ID != model.HashToken(c.Value) {
					t.Errorf("stored sessions = %+v", sessions)
				}
				d := r.Cookie(deviceCookie)
				if d == nil || !d.HttpOnly || d.Path != "/login" || d.Secure {
					t.Errorf("device cookie = %+v", d)
				}
			}},
		{Name: "username ignores case", Method: "POST", URL: "/login", Form: loginForm("ADMIN", testkit.AdminPassword), WantStatus: 303},
		{Name: "next", Method: "POST", URL: "/login", Form: url.Values{"username": {"admin"}, "password": {testkit.AdminPassword}, "next": {"/settings/users/new"}},
			WantStatus: 303, WantHeaders: map[string]string{"Location": "/settings/users/new"}},
		{Name: "wrong password", Method: "POST", URL: "/login", Form: loginForm("admin", "wrong-pass-1"), WantStatus: 401,
			Want: []string{msgBadLogin, `value="admin"`}, NotWant: []string{"wrong-pass-1"}, After: noCookie},
		{Name: "unknown user", Method: "POST", URL: "/login", Form: loginForm("nobody", "wrong-pass-1"), WantStatus: 401,
			Want: []string{msgBadLogin}, After: noCookie},
		{Name: "empty username", Method: "POST", URL: "/login", Form: loginForm("", "whatever-1"), WantStatus: 422,
			Want: []string{"Enter your username and password."}, After: noCookie},
		{Name: "empty password", Method: "POST", URL: "/login", Form: loginForm("admin", ""), WantStatus: 422,
			Want: []string{"Enter your username and password."}, After: noCookie},
		{Name: "no fields", Method: "POST", URL: "/login", WantStatus: 422, After: noCookie},
		{Name: "password over 1 KiB", Method: "POST", URL: "/login", Form: loginForm("admin", strings.Repeat("a1", 513)), WantStatus: 401,
			Want: []string{msgBadLogin},
			After: func(t *testing.T, ta *testApp, r *response) {
				noCookie(t, ta, r)
				ev := ta.AuditEvents(t, model.EventLoginFailed)
				if len(ev) != 1 || ev[0].Detail != "oversized input" {
					t.Errorf("want one failure refused before hashing, got %+v", ev)
				}
			}},
		{Name: "huge username", Method: "POST", URL: "/login", Form: loginForm(strings.Repeat("a", 4000), testkit.AdminPassword), WantStatus: 401,
			Want: []string{msgBadLogin},
			After: func(t *testing.T, ta *testApp, r *response) {
				ev := ta.AuditEvents(t, model.EventLoginFailed)
				if len(ev) != 1 || ev[0].Detail != "oversized input" || len(ev[0].Actor) > 64 {
					t.Errorf("audit = %+v", ev)
				}
			}},
		{Name: "cross-site login form", Method: "POST", URL: "/login", Form: loginForm("admin", testkit.AdminPassword),
			Headers: map[string]string{"Origin": "https://evil.example"}, WantStatus: 403, After: noCookie},
	})
}

// TestLoginSameAnswer: a wrong password and an unknown user get the same
// answer, apart from the echoed username.
func TestLoginSameAnswer(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	a := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("admin", "wrong-pass-1")})
	b := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("nobod", "wrong-pass-1")})
	if a.Status != b.Status || strings.ReplaceAll(a.Body, `value="admin"`, "") != strings.ReplaceAll(b.Body, `value="nobod"`, "") {
		t.Errorf("answers differ:\n%d %s\n---\n%d %s", a.Status, a.Body, b.Status, b.Body)
	}
}

// TestLoginNextOpenRedirect: next never sends the browser to another site.
func TestLoginNextOpenRedirect(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	for _, next := range []string{
		"//evil.com", "/\\evil.com", "\\\\evil.com", "https://evil.com", "http:evil.com", "evil.com",
		"/\t/evil.com", "/\n/evil.com", "\t//evil.com", "/\\/evil.com", "//evil.com/settings/users",
		"/\r\nSet-Cookie: x=1", "javascript:alert(1)", "",
	} {
		r := ta.Do(t, request{Method: "POST", URL: "/login",
			Form: url.Values{"username": {"admin"}, "password": {testkit.AdminPassword}, "next": {next}}})
		if r.Status != 303 || r.Header.Get("Location") != "/settings/users" {
			t.Errorf("next %q: %d Location %q, want /settings/users", next, r.Status, r.Header.Get("Location"))
		}
	}
	for _, next := range []string{"/settings/users/new", "/settings/users?x=1"} {
		if got := safeNext(next); got != next {
			t.Errorf("safeNext(%q) = %q", next, got)
		}
	}
}

// TestLoginHTTPSBehindProxy: behind a trusted proxy that says https, the
// cookies are Secure and HSTS is sent; from anyone else the header is
// ignored. app.Test's peer is 0.0.0.0, so trusting 0.0.0.0/32 makes it the
// proxy.
func TestLoginHTTPSBehindProxy(t *testing.T) {
	t.Parallel()
	for _, trusted := range []bool{true, false} {
		var opts []func(*Config)
		if trusted {
			opts = append(opts, trustProxies("0.0.0.0/32"))
		}
		ta := newTestApp(t, opts...)
		r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("admin", testkit.AdminPassword),
			Headers: map[string]string{"X-Forwarded-Proto": "https"}})
		name := sessionCookie
		if trusted {
			name = hostSessionCookie
		}
		c, d := r.Cookie(name), r.Cookie(deviceCookie)
		if r.Status != 303 || c == nil || d == nil {
			t.Fatalf("trusted=%v: %d %v", trusted, r.Status, r.Cookies)
		}
		if c.Secure != trusted || d.Secure != trusted {
			t.Errorf("trusted=%v: Secure session=%v device=%v", trusted, c.Secure, d.Secure)
		}
		if hsts := r.Header.Get("Strict-Transport-Security") != ""; hsts != trusted {
			t.Errorf("trusted=%v: HSTS sent=%v", trusted, hsts)
		}
	}
}

// TestLoginNewSessionID: logging in over an existing session replaces it
// (no fixation).
func TestLoginNewSessionID(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	testkit.AddUser(t, ta.Store, "bob")
	old := ta.Session(t, ta.Admin)
	r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("bob", testkit.UserPassword), Session: old})
	c := r.Cookie(sessionCookie)
	if r.Status != 303 || c == nil || c.Value == old.Token {
		t.Fatalf("login: %d cookie %v", r.Status, c)
	}
	if ta.SessionAlive(t, old) {
		t.Errorf("the old session still works")
	}
	if _, u, err := ta.Store.SessionByToken(c.Value, ta.H.sessionPolicy()); err != nil || u.Username != "bob" {
		t.Errorf("new session: %v %v", u.Username, err)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	t.Run("plain", func(t *testing.T) {
		ta := newTestApp(t)
		s := ta.Login(t, "admin", testkit.AdminPassword)
		r := ta.Do(t, request{Method: "POST", URL: "/logout", Session: s, CSRFField: s.CSRF})
		checkResponse(t, r, 303, nil, nil, map[string]string{"Location": "/login"})
		c := r.Cookie(sessionCookie)
		if c == nil || c.Value != "" || c.Expires.After(time.Unix(2, 0)) {
			t.Errorf("session cookie not cleared: %+v", c)
		}
		if ta.SessionAlive(t, s) {
			t.Errorf("session still works after logout")
		}
		if _, _, err := ta.Store.SessionByToken(s.Token, ta.H.sessionPolicy()); err == nil {
			t.Errorf("session still stored")
		}
	})
	t.Run("htmx", func(t *testing.T) {
		ta := newTestApp(t)
		s := ta.Login(t, "admin", testkit.AdminPassword)
		r := ta.Do(t, request{Method: "POST", URL: "/logout", Session: s, CSRFHeader: s.CSRF, HTMX: true})
		checkResponse(t, r, 204, nil, nil, map[string]string{"HX-Redirect": "/login"})
		if ta.SessionAlive(t, s) {
			t.Errorf("session still works after logout")
		}
	})
	t.Run("other sessions stay", func(t *testing.T) {
		ta := newTestApp(t)
		a, b := ta.Session(t, ta.Admin), ta.Session(t, ta.Admin)
		r := ta.Do(t, request{Method: "POST", URL: "/logout", Session: a, CSRFHeader: a.CSRF})
		checkResponse(t, r, 303, nil, nil, nil)
		if ta.SessionAlive(t, a) || !ta.SessionAlive(t, b) {
			t.Errorf("logout should end exactly its own session")
		}
	})
	t.Run("needs CSRF", func(t *testing.T) {
		ta := newTestApp(t)
		s := ta.Session(t, ta.Admin)
		r := ta.Do(t, request{Method: "POST", URL: "/logout", Session: s})
		checkResponse(t, r, 403, nil, nil, nil)
		if !ta.SessionAlive(t, s) {
			t.Errorf("logout without token ended the session")
		}
	})
	t.Run("GET does not log out", func(t *testing.T) {
		ta := newTestApp(t)
		s := ta.Session(t, ta.Admin)
		r := ta.Do(t, request{Method: "GET", URL: "/logout", Session: s})
		if r.Status < 400 {
			t.Errorf("GET /logout = %d", r.Status)
		}
		if !ta.SessionAlive(t, s) {
			t.Errorf("GET /logout ended the session")
		}
	})
	t.Run("page has logout form with token", func(t *testing.T) {
		ta := newTestApp(t)
		s := ta.Session(t, ta.Admin)
		r := ta.Do(t, request{Method: "GET", URL: "/settings/users", Session: s})
		checkResponse(t, r, 200, []string{`action="/logout"`, `Signed in as <strong data-testid="me">admin</strong>`}, nil, nil)
		if got := csrfFromPage(r.Body); got != s.CSRF {
			t.Errorf("page CSRF token = %q, want %q", got, s.CSRF)
		}
		if !strings.Contains(r.Body, `hx-headers='{"X-CSRF-Token":"`+s.CSRF+`"}'`) {
			t.Errorf("page lacks hx-headers with the token")
		}
	})
}

// TestSessionIdleTimeout: a session unused for an hour ends; use keeps it.
func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	for i := 0; i < 3; i++ {
		ta.Clock.Advance(59 * time.Minute)
		if !ta.SessionAlive(t, s) {
			t.Fatalf("session ended after %d uses 59 minutes apart", i+1)
		}
	}
	ta.Clock.Advance(time.Hour)
	if ta.SessionAlive(t, s) {
		t.Fatalf("session alive after an idle hour")
	}
	r := ta.Do(t, request{Method: "GET", URL: "/settings/users", Session: s, HTMX: true})
	checkResponse(t, r, 401, nil, nil, map[string]string{"HX-Redirect": "/login"})
	r = ta.Do(t, request{Method: "PUT", URL: "/settings/users/1", Session: s, CSRFHeader: s.CSRF, HTMX: true,
		Form: url.Values{"email": {"x@example.com"}}})
	checkResponse(t, r, 401, nil, nil, map[string]string{"HX-Redirect": "/login"})
}

// TestSessionAbsoluteTimeout: even a session in constant use ends 12 hours
// after login.
func TestSessionAbsoluteTimeout(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	elapsed := time.Duration(0)
	for elapsed+50*time.Minute < 12*time.Hour {
		ta.Clock.Advance(50 * time.Minute)
		elapsed += 50 * time.Minute
		if !ta.SessionAlive(t, s) {
			t.Fatalf("session ended after %v of use", elapsed)
		}
	}
	ta.Clock.Advance(12*time.Hour - elapsed)
	if ta.SessionAlive(t, s) {
		t.Fatalf("session alive 12 hours after login")
	}
}

// TestSessionTouchedOncePerMinute: last-seen is exact at every request,
// although the store writes it to disk at most once a minute (the model's
// TestSessionLastSeenInMemory checks the disk copy).
func TestSessionTouchedOncePerMinute(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	lastSeen := func() time.Time {
		list, err := ta.Store.SessionsOf(1)
		if err != nil || len(list) != 1 {
			t.Fatalf("sessions: %v %v", list, err)
		}
		return list[0].LastSeen
	}
	start := lastSeen()
	ta.Clock.Advance(30 * time.Second)
	ta.SessionAlive(t, s)
	if got := lastSeen(); !got.Equal(start.Add(30 * time.Second)) {
		t.Errorf("last-seen after 30 s = %v, want %v", got, start.Add(30*time.Second))
	}
	ta.Clock.Advance(31 * time.Second)
	ta.SessionAlive(t, s)
	if got := lastSeen(); !got.Equal(ta.Clock.Now()) {
		t.Errorf("last-seen = %v, want %v", got, ta.Clock.Now())
	}
}

// TestSessionEndsWithUser: deleting a user ends its sessions at once.
func TestSessionEndsWithUser(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	testkit.AddUser(t, ta.Store, "bob")
	testkit.AddUser(t, ta.Store, "carol")
	admin := ta.Session(t, ta.Admin)
	bob := ta.Login(t, "bob", testkit.UserPassword)
	r := ta.Do(t, request{Method: "DELETE", URL: "/settings/users/2", Session: admin, CSRFHeader: admin.CSRF, HTMX: true})
	checkResponse(t, r, 200, nil, nil, nil)
	if ta.SessionAlive(t, bob) {
		t.Errorf("deleted user's session still works")
	}
	r = ta.Do(t, request{Method: "GET", URL: "/settings/users", Session: bob, HTMX: true})
	checkResponse(t, r, 401, nil, nil, map[string]string{"HX-Redirect": "/login"})

	// Deleted behind the panel's back (the CLI): same.
	carol := ta.Login(t, "carol", testkit.UserPassword)
	if err := ta.Store.DeleteUser(3, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if ta.SessionAlive(t, carol) {
		t.Errorf("session of a user deleted by the CLI still works")
	}
	if !ta.SessionAlive(t, admin) {
		t.Errorf("admin's session ended")
	}
}

// TestSessionEndsWithPasswordChange: a password change ends the user's
// other sessions; the session that made the change stays.
func TestSessionEndsWithPasswordChange(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	testkit.AddUser(t, ta.Store, "bob")
	a1 := ta.Login(t, "admin", testkit.AdminPassword)
	a2 := ta.Login(t, "admin", testkit.AdminPassword)
	bob := ta.Login(t, "bob", testkit.UserPassword)

	// admin changes their own password in a1: a2 ends, a1 and bob stay.
	r := ta.Do(t, request{Method: "PUT", URL: "/settings/users/1/password", Session: a1, CSRFHeader: a1.CSRF, HTMX: true,
		Form: url.Values{"password": {"admin-pass-2"}}})
	checkResponse(t, r, 200, []string{"Password of admin changed."}, nil, nil)
	if !ta.SessionAlive(t, a1) || ta.SessionAlive(t, a2) || !ta.SessionAlive(t, bob) {
		t.Errorf("after own change: a1=%v a2=%v bob=%v, want true false true",
			ta.SessionAlive(t, a1), ta.SessionAlive(t, a2), ta.SessionAlive(t, bob))
	}

	// bob changes admin's password: every admin session ends, bob's stays.
	r = ta.Do(t, request{Method: "POST", URL: "/settings/users/1/password", Session: bob, CSRFField: bob.CSRF,
		Form: url.Values{"password": {"admin-pass-3"}}})
	checkResponse(t, r, 303, nil, nil, map[string]string{"Location": "/settings/users"})
	if ta.SessionAlive(t, a1) || !ta.SessionAlive(t, bob) {
		t.Errorf("after bob's change: a1=%v bob=%v, want false true", ta.SessionAlive(t, a1), ta.SessionAlive(t, bob))
	}

	// The old passwords no longer work; the new one does.
	for _, pw := range []string{testkit.AdminPassword, "admin-pass-2"} {
		r = ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("admin", pw)})
		checkResponse(t, r, 401, nil, nil, nil)
	}
	ta.Login(t, "admin", "admin-pass-3")
}

// TestLoginUnicodeLookalikeName: the Kelvin sign (U+212A) followed by "ate"
// is not kate, even though Unicode lower-cases it to 'k'. It is refused like
// any unknown name, audited under the name typed, counted apart from kate,
// and kate's device cookie does not vouch for it.
func TestLoginUnicodeLookalikeName(t *testing.T) {
	ta := newTestApp(t, func(c *Config) {
		c.Limiter.IPFree, c.Limiter.UserMaxFailures = 100, 3
	})
	kate := testkit.AddUser(t, ta.Store, "kate")
	r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("kate", testkit.UserPassword)})
	device := r.Cookie(deviceCookie)
	if r.Status != 303 || device == nil {
		t.Fatalf("kate's login: status %d, device cookie %v", r.Status, device)
	}
	// Someone else's guessing locks kate for browsers without her device
	// cookie.
	for range 3 {
		ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("kate", "wrong-pass-1")})
	}
	if r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("kate", testkit.UserPassword)}); r.Status != 429 {
		t.Fatalf("kate after 3 failures: status %d, want 429", r.Status)
	}
	const kelvin = "\u212Aate"
	for _, withDevice := range []bool{true, false} {
		req := request{Method: "POST", URL: "/login", Form: loginForm(kelvin, testkit.UserPassword)}
		if withDevice {
			req.Cookies = []*http.Cookie{device}
		}
		r := ta.Do(t, req)
		if r.Status != 401 || !strings.Contains(r.Body, msgBadLogin) || r.Cookie(sessionCookie) != nil {
			t.Fatalf("login as %+q (kate's device cookie: %v): status %d, session cookie %v", kelvin, withDevice, r.Status, r.Cookie(sessionCookie))
		}
	}
	ev := ta.AuditEvents(t, model.EventLoginFailed)
	var kelvinFailures int
	for _, e := range ev {
		if e.Actor == kelvin {
			kelvinFailures += max(e.Count, 1) // one address: aggregated
			if e.TargetID != 0 || e.Detail != "invalid credentials" {
				t.Errorf("failure at %+q names a user: %+v", kelvin, e)
			}
		}
	}
	if kelvinFailures != 2 {
		t.Errorf("login.failed events for %+q = %d, want 2", kelvin, kelvinFailures)
	}
	if sessions, _ := ta.Store.SessionsOf(kate.ID); len(sessions) != 1 {
		t.Errorf("kate has %d sessions, want only her own login's", len(sessions))
	}
}

// TestLoginFailureAuditSanitized: a name typed at a failed login goes into
// the audit log as the actor, so it must arrive there without NUL bytes,
// bidi overrides or other invisible characters, and bounded.
func TestLoginFailureAuditSanitized(t *testing.T) {
	ta := newTestApp(t)
	for _, name := range []string{"ad\x00min\u202enimda", strings.Repeat("\x00\u202e", 30)} {
		// A window apart: failures of unknown names from one address in
		// one window are one aggregate, named after the first.
		ta.Clock.Advance(model.AuditWindow)
		r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm(name, "wrong-pass-1")})
		if r.Status != 401 {
			t.Fatalf("login as %+q: status %d", name, r.Status)
		}
	}
	ev := ta.AuditEvents(t, model.EventLoginFailed)
	if len(ev) != 2 {
		t.Fatalf("login.failed events = %d, want 2", len(ev))
	}
	for _, e := range ev {
		if strings.ContainsAny(e.Actor+e.Detail+e.Target, "\x00\u202e") {
			t.Errorf("audit event holds NUL or U+202E: %+q", e.Actor)
		}
	}
	if ev[0].Actor != `ad\x00min\u202enimda` {
		t.Errorf("actor = %s, want the escaped name", ev[0].Actor)
	}
}
