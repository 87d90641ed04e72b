package handlers

import (
	"bytes"
	"compress/gzip"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "no session", Method: "GET", URL: "/healthz", WantStatus: 200,
			Want:        []string{`{"status":"ok"}`},
			WantHeaders: map[string]string{"Cache-Control": "no-store", "Content-Type": "application/json"}},
		{Name: "with session", Method: "GET", URL: "/healthz", Session: true, WantStatus: 200,
			Want: []string{`{"status":"ok"}`}},
	})
}

func TestAssets(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	for _, name := range []string{"app.css", "app.js", "htmx.min.js"} {
		t.Run(name, func(t *testing.T) {
			hash := ta.H.assets.hash[name]
			if hash == "" {
				t.Fatalf("no asset %s", name)
			}
			r := ta.Do(t, request{Method: "GET", URL: "/assets/" + hash + "/" + name})
			checkResponse(t, r, 200, nil, nil, map[string]string{"Cache-Control": "public, max-age=31536000, immutable"})
			if r.Body != string(ta.H.assets.files[name]) {
				t.Errorf("body differs from the embedded file")
			}
			wantType := map[string]string{"app.css": "text/css", "app.js": "javascript", "htmx.min.js": "javascript"}[name]
			if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, wantType) {
				t.Errorf("Content-Type = %q, want %s", ct, wantType)
			}
			if r.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("no nosniff on asset")
			}

			// An old or wrong hash still serves the file, but it must not be
			// cached for a year.
			r = ta.Do(t, request{Method: "GET", URL: "/assets/000000000000/" + name})
			checkResponse(t, r, 200, nil, nil, map[string]string{"Cache-Control": "no-cache"})
		})
	}
	t.Run("unknown", func(t *testing.T) {
		r := ta.Do(t, request{Method: "GET", URL: "/assets/000000000000/nope.js"})
		checkResponse(t, r, 404, nil, nil, nil)
		if strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("404 answer is cacheable: %q", r.Header.Get("Cache-Control"))
		}
	})
	t.Run("page links hashed assets", func(t *testing.T) {
		r := ta.Do(t, request{Method: "GET", URL: "/login"})
		for _, name := range []string{"app.css", "app.js", "htmx.min.js"} {
			if p := ta.H.assetPath(name); !strings.Contains(r.Body, p) {
				t.Errorf("login page lacks %s", p)
			}
		}
	})
}

func TestHome(t *testing.T) {
	t.Parallel()
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "no session goes to login", Method: "GET", URL: "/", WantStatus: 303,
			WantHeaders: map[string]string{"Location": "/login"}},
		{Name: "session goes to users", Method: "GET", URL: "/", Session: true, WantStatus: 303,
			WantHeaders: map[string]string{"Location": "/settings/users"}},
	})
}

// TestSecurityHeaders checks the hardening headers on pages, fragments,
// errors and JSON alike.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	reqs := []request{
		{Method: "GET", URL: "/login"},
		{Method: "GET", URL: "/healthz"},
		{Method: "GET", URL: "/settings/users", Session: s},
		{Method: "GET", URL: "/settings/users", Session: s, HTMX: true},
		{Method: "GET", URL: "/settings/users/99", Session: s},
		{Method: "POST", URL: "/login", Form: loginForm("admin", "wrong-pass-1")},
	}
	for _, req := range reqs {
		r := ta.Do(t, req)
		csp := r.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("%s %s: CSP %q lacks %q", req.Method, req.URL, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s %s: CSP allows unsafe code: %q", req.Method, req.URL, csp)
		}
		checkResponse(t, r, 0, nil, nil, map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "same-origin",
			// Plain HTTP: no HSTS.
			"Strict-Transport-Security": "",
		})
	}
}

// TestPagesHaveNoInlineScript keeps the CSP honest: no inline <script> or
// on* handler in any page.
func TestPagesHaveNoInlineScript(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	testkit.AddUser(t, ta.Store, "bob")
	s := ta.Session(t, ta.Admin)
	for _, u := range []string{"/settings/users", "/settings/users/new", "/settings/users/2/password",
		"/settings/users/2/delete", "/settings/users/2/edit?field=email"} {
		r := ta.Do(t, request{Method: "GET", URL: u, Session: s})
		if r.Status != 200 {
			t.Fatalf("GET %s: %d", u, r.Status)
		}
		for _, bad := range []string{"<script>", "onclick=", "onload=", "javascript:", "style="} {
			if strings.Contains(r.Body, bad) {
				t.Errorf("GET %s: page has %q", u, bad)
			}
		}
	}
	r := ta.Do(t, request{Method: "GET", URL: "/login"})
	if strings.Contains(r.Body, "<script>") {
		t.Errorf("login page has an inline script")
	}
}

// TestWithoutSession covers every page and action without a session:
// pages redirect to the login form with next, htmx requests get 401 with
// HX-Redirect, plain form posts get 401, and nothing changes.
func TestWithoutSession(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T, ta *testApp) { testkit.AddUser(t, ta.Store, "bob") }
	get := func(path string) []scenario[*testApp] {
		return []scenario[*testApp]{
			{Name: "GET " + path, Method: "GET", URL: path, Setup: setup, WantStatus: 303,
				WantHeaders: map[string]string{"Location": "/login?next=" + url.QueryEscape(path)}},
			{Name: "htmx GET " + path, Method: "GET", URL: path, HTMX: true, Setup: setup, WantStatus: 401,
				WantHeaders: map[string]string{"HX-Redirect": "/login"}},
		}
	}
	var list []scenario[*testApp]
	for _, p := range []string{"/settings/users", "/settings/users/new", "/settings/users/2",
		"/settings/users/2/edit?field=email", "/settings/users/2/password", "/settings/users/2/delete"} {
		list = append(list, get(p)...)
	}
	actions := []struct {
		method, path string
		form         url.Values
	}{
		{"POST", "/logout", nil},
		{"POST", "/settings/users", url.Values{"username": {"carol"}, "password": {"carol-pass-1"}, "email": {"carol@example.com"}}},
		{"PUT", "/settings/users/2", url.Values{"username": {"bobby"}}},
		{"POST", "/settings/users/2", url.Values{"email": {"b@example.org"}}},
		{"PUT", "/settings/users/2/password", url.Values{"password": {"new-pass-12"}}},
		{"POST", "/settings/users/2/password", url.Values{"password": {"new-pass-12"}}},
		{"DELETE", "/settings/users/2", nil},
		{"POST", "/settings/users/2/delete", nil},
	}
	for _, a := range actions {
		list = append(list,
			scenario[*testApp]{Name: a.method + " " + a.path, Method: a.method, URL: a.path, Form: a.form, Setup: setup,
				WantStatus: 401, Want: []string{"Log in again"}, Unchanged: true},
			scenario[*testApp]{Name: "htmx " + a.method + " " + a.path, Method: a.method, URL: a.path, Form: a.form, HTMX: true, Setup: setup,
				WantStatus: 401, WantHeaders: map[string]string{"HX-Redirect": "/login"}, Unchanged: true},
		)
	}
	// A cookie that names no session is no session.
	list = append(list, scenario[*testApp]{Name: "unknown session cookie", Method: "GET", URL: "/settings/users",
		Headers: map[string]string{"Cookie": sessionCookie + "=bogus"}, WantStatus: 303,
		WantHeaders: map[string]string{"Location": "/login?next=%2Fsettings%2Fusers"}})
	runScenarios(t, newTestApp, list)
}

func TestUnknownRoutes(t *testing.T) {
	t.Parallel()
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "unknown path with session", Method: "GET", URL: "/nope", Session: true, WantStatus: 404},
		{Name: "non-numeric user id", Method: "GET", URL: "/settings/users/abc/edit?field=email", Session: true, WantStatus: 404},
		{Name: "unknown user id page", Method: "GET", URL: "/settings/users/99/password", Session: true, WantStatus: 404,
			Want: []string{"This user does not exist (any more)."}},
		{Name: "unknown user id htmx", Method: "GET", URL: "/settings/users/99/edit?field=email", HTMX: true, Session: true, WantStatus: 404,
			Want:        []string{"This user does not exist (any more)."},
			WantHeaders: map[string]string{"HX-Retarget": "#flash"}},
		{Name: "unknown user id delete", Method: "DELETE", URL: "/settings/users/99", HTMX: true, Session: true, WantStatus: 404,
			Want: []string{"This user does not exist"}, Unchanged: true},
		{Name: "unknown user id update", Method: "PUT", URL: "/settings/users/99", HTMX: true, Session: true,
			Form: url.Values{"email": {"x@example.com"}}, WantStatus: 404, Want: []string{"This user does not exist"}, Unchanged: true},
		{Name: "unknown user id password", Method: "POST", URL: "/settings/users/99/password", Session: true,
			Form: url.Values{"password": {"new-pass-12"}}, WantStatus: 404, Want: []string{"This user does not exist"}, Unchanged: true},
	})
}

// TestOutputEscaping checks that what users type is shown escaped, never
// executed: the login form echoes the username, the list shows emails that
// contain HTML-special characters the address syntax allows, and email
// addresses with markup are refused.
func TestOutputEscaping(t *testing.T) {
	t.Parallel()
	const script = `<script>alert(1)</script>`
	t.Run("login echoes username escaped", func(t *testing.T) {
		ta := newTestApp(t)
		r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm(script, "whatever-1")})
		checkResponse(t, r, 401, []string{`value="&lt;script&gt;alert(1)&lt;/script&gt;"`}, []string{script}, nil)
	})
	t.Run("login next escaped", func(t *testing.T) {
		ta := newTestApp(t)
		r := ta.Do(t, request{Method: "GET", URL: "/login?next=" + url.QueryEscape(`"><script>alert(1)</script>`)})
		checkResponse(t, r, 200, []string{`&#34;&gt;&lt;script&gt;`}, []string{script}, nil)
	})
	t.Run("create refuses markup", func(t *testing.T) {
		for _, email := range []string{script + "@example.com", `"` + script + `"@example.com`, `x@<script>.com`, `<x@example.com>`} {
			ta := newTestApp(t)
			s := ta.Session(t, ta.Admin)
			r := ta.Do(t, request{Method: "POST", URL: "/settings/users", Session: s, CSRFHeader: s.CSRF, HTMX: true,
				Form: url.Values{"username": {"carol"}, "password": {"carol-pass-1"}, "email": {email}}})
			checkResponse(t, r, 422, []string{"valid address"}, []string{script}, nil)
			if _, err := ta.Store.UserByName("carol"); err == nil {
				t.Errorf("email %q: user stored", email)
			}
		}
	})
	t.Run("username with markup refused and echoed escaped", func(t *testing.T) {
		ta := newTestApp(t)
		s := ta.Session(t, ta.Admin)
		r := ta.Do(t, request{Method: "POST", URL: "/settings/users", Session: s, CSRFHeader: s.CSRF, HTMX: true,
			Form: url.Values{"username": {script}, "password": {"carol-pass-1"}, "email": {"c@example.com"}}})
		checkResponse(t, r, 422, []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}, []string{script}, nil)
	})
	t.Run("list escapes emails", func(t *testing.T) {
		ta := newTestApp(t)
		// ' and & are allowed in an address's local part.
		const email = "o'brien&x=1@example.com"
		if err := model.ValidateEmail(email); err != nil {
			t.Fatalf("test email refused: %v", err)
		}
		testkit.CreateUser(t, ta.Store, "obrien", testkit.UserPassword, email)
		s := ta.Session(t, ta.Admin)
		for _, htmx := range []bool{false, true} {
			r := ta.Do(t, request{Method: "GET", URL: "/settings/users", Session: s, HTMX: htmx})
			checkResponse(t, r, 200, []string{"o&#39;brien&amp;x=1@example.com"}, []string{email}, nil)
		}
		r := ta.Do(t, request{Method: "GET", URL: "/settings/users/2/edit?field=email", Session: s, HTMX: true})
		checkResponse(t, r, 200, []string{`value="o&#39;brien&amp;x=1@example.com"`}, []string{email}, nil)
	})
}

// TestAuditLogin checks that login success, failure and logout are
// recorded with the client address (app.Test's peer is 0.0.0.0).
func TestAuditLogin(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	testkit.AddUser(t, ta.Store, "bob")
	r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("bob", "wrong-pass-1")})
	checkResponse(t, r, 401, nil, nil, nil)
	r = ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("nobody", "wrong-pass-1")})
	checkResponse(t, r, 401, nil, nil, nil)
	s := ta.Login(t, "bob", testkit.UserPassword)
	r = ta.Do(t, request{Method: "POST", URL: "/logout", Session: s, CSRFHeader: s.CSRF})
	checkResponse(t, r, 303, nil, nil, nil)

	failed := ta.AuditEvents(t, model.EventLoginFailed)
	if len(failed) != 2 {
		t.Fatalf("login.failed events = %d, want 2: %+v", len(failed), failed)
	}
	for i, name := range []string{"bob", "nobody"} {
		e := failed[i]
		if e.Actor != name || e.IP != "0.0.0.0" || e.Detail != "invalid credentials" || e.ActorID != 0 {
			t.Errorf("failure %d = %+v", i, e)
		}
	}
	ok := ta.AuditEvents(t, model.EventLoginSucceeded)
	if len(ok) != 1 || ok[0].Actor != "bob" || ok[0].ActorID != 2 || ok[0].IP != "0.0.0.0" || ok[0].Detail != "password" {
		t.Errorf("login.succeeded events = %+v", ok)
	}
	out := ta.AuditEvents(t, model.EventLogout)
	if len(out) != 1 || out[0].Actor != "bob" || out[0].ActorID != 2 || out[0].IP != "0.0.0.0" {
		t.Errorf("logout events = %+v", out)
	}
	for _, e := range ta.AuditEvents(t, "") {
		for _, secret := range []string{testkit.UserPassword, "wrong-pass-1"} {
			if strings.Contains(e.Detail+e.Actor+e.Target, secret) {
				t.Errorf("audit event holds a password: %+v", e)
			}
		}
	}
}

// TestAuditUserChanges checks the events of the User tab's actions: actor,
// target and the client address.
func TestAuditUserChanges(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	do := func(method, path string, form url.Values, want int) {
		t.Helper()
		r := ta.Do(t, request{Method: method, URL: path, Form: form, Session: s, CSRFHeader: s.CSRF, HTMX: true})
		if r.Status != want {
			t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, want, trimBody(r.Body))
		}
	}
	do("POST", "/settings/users", url.Values{"username": {"carol"}, "password": {"carol-pass-1"}, "email": {"c@example.com"}}, 201)
	do("PUT", "/settings/users/2", url.Values{"username": {"carla"}}, 200)
	do("PUT", "/settings/users/2", url.Values{"email": {"carla@example.com"}}, 200)
	do("PUT", "/settings/users/2/password", url.Values{"password": {"carla-pass-2"}}, 200)
	// Refused changes record nothing.
	do("PUT", "/settings/users/2", url.Values{"email": {"bad"}}, 422)
	do("PUT", "/settings/users/2/password", url.Values{"password": {"short"}}, 422)
	do("DELETE", "/settings/users/2", nil, 200)

	want := []struct{ action, target, detail string }{
		{model.EventUserCreated, "carol", ""},
		{model.EventUserRenamed, "carla", "carol → carla"},
		{model.EventEmailChanged, "carla", "c@example.com → carla@example.com"},
		{model.EventPasswordChanged, "carla", ""},
		{model.EventUserDeleted, "carla", ""},
	}
	var got []model.AuditEvent
	for _, e := range ta.AuditEvents(t, "") {
		if e.TargetID == 2 && e.Action != model.EventLoginSucceeded {
			got = append(got, e)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("events = %+v, want %d", got, len(want))
	}
	for i, w := range want {
		e := got[i]
		if e.Action != w.action || e.Target != w.target || e.Detail != w.detail || e.Actor != "admin" || e.ActorID != 1 || e.IP != "0.0.0.0" {
			t.Errorf("event %d = %+v, want %+v by admin from 0.0.0.0", i, e, w)
		}
	}
}

// TestVaryOnFragments: every route that answers differently for htmx says so.
func TestVaryOnFragments(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	testkit.AddUser(t, ta.Store, "bob")
	s := ta.Session(t, ta.Admin)
	for _, u := range []string{"/settings/users", "/settings/users/new", "/settings/users/2/password",
		"/settings/users/2/edit?field=email", "/settings/users/2"} {
		for _, htmx := range []bool{false, true} {
			r := ta.Do(t, request{Method: "GET", URL: u, Session: s, HTMX: htmx})
			if !strings.Contains(r.Header.Get("Vary"), "HX-Request") {
				t.Errorf("GET %s htmx=%v: Vary = %q", u, htmx, r.Header.Get("Vary"))
			}
		}
	}
}

// TestCompressedBodiesRefused checks that a gzip body is refused before
// any handler reads it: fasthttp would inflate it without a bound, so a
// small bomb could take gigabytes.
func TestCompressedBodiesRefused(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("username=admin&password=" + strings.Repeat("A", 8<<20)))
	zw.Close()
	for _, path := range []string{"/login", "/login/passkey", "/api/v1/users"} {
		req := httptest.NewRequest("POST", publicURL+path, bytes.NewReader(buf.Bytes()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Content-Encoding", "gzip")
		if r := ta.roundTrip(t, req); r.Status != 415 {
			t.Errorf("POST %s with a gzip body: status %d, want 415", path, r.Status)
		}
	}
	// identity is not compression.
	r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("admin", testkit.AdminPassword), Headers: map[string]string{"Content-Encoding": "identity"}})
	if r.Status != 303 {
		t.Errorf("identity encoding: status %d, want 303", r.Status)
	}
}
