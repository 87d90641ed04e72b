package handlers

// Tests of the HTTP edge: what every answer carries and what is refused
// before any handler runs (foreign Host names, wrong methods, oversized
// bodies, case variants of paths).

import (
	"bufio"
	"fmt"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// thAppTest sends req through app.Test without the openapi.json check of
// roundTrip: the answers tested here (421) come before any route, for
// every operation alike, and are not part of the API's document.
func thAppTest(t testing.TB, ta *testApp, req *http.Request) *response {
	t.Helper()
	resp, err := ta.App.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return readResponse(t, resp)
}

// thRawHTTP sends a raw request to the listener at base (http://host:port)
// and reads the answer.
func thRawHTTP(t testing.TB, base, raw string) *response {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer to %q: %v", raw, err)
	}
	return readResponse(t, resp)
}

// TestHostCheck: DNS rebinding. A page that an attacker serves at their
// own name, rebound to the panel's address, reaches the panel with the
// attacker's name in Host (and a matching Origin). Such requests are
// refused with 421 before any handler runs; the panel answers its
// configured names (the public URL's host, every --domain), localhost, and
// address literals (an address cannot be rebound), on any port. /healthz
// answers whatever the Host, for probes by address or container name.
func TestHostCheck(t *testing.T) {
	domains := func(c *Config) {
		c.PublicURL, c.Domains = "https://panel.test:8443", []string{"panel.test", "www.panel.test"}
	}
	proxy := func(c *Config) { c.PublicURL = "https://panel.example.com" }
	login := url.Values{"username": {"admin"}, "password": {"wrong-password"}}
	for _, tc := range []struct {
		name   string
		opts   []func(*Config)
		method string
		url    string
		form   url.Values
		origin string
		status int
		// problem: the refusal is problem+json (the API's route group).
		problem bool
	}{
		{name: "localhost", url: "http://localhost:8080/login", status: 200},
		{name: "localhost in capitals", url: "http://LOCALHOST:8080/login", status: 200},
		{name: "localhost on another port", url: "http://localhost:9000/login", status: 200},
		{name: "the loopback address", url: "http://127.0.0.1:8080/login", status: 200},
		{name: "the IPv6 loopback address", url: "http://[::1]:8080/login", status: 200},
		{name: "another address", url: "http://192.0.2.7/login", status: 200},
		{name: "a rebound name", url: "http://rebind.evil.test:8080/login", status: 421},
		{name: "a rebound name posting its own origin", method: "POST", url: "http://rebind.evil.test:8080/login",
			form: login, origin: "http://rebind.evil.test:8080", status: 421},
		{name: "a rebound name on the API", url: "http://rebind.evil.test:8080/api/v1/me", status: 421, problem: true},
		{name: "a name ending in localhost", url: "http://localhost.evil.test:8080/login", status: 421},
		{name: "a name starting with localhost", url: "http://localhostevil:8080/login", status: 421},
		{name: "health checks by any name", url: "http://rebind.evil.test:8080/healthz", status: 200},
		{name: "domain", opts: []func(*Config){domains}, url: "http://panel.test:8443/login", status: 200},
		{name: "second domain", opts: []func(*Config){domains}, url: "http://www.panel.test:8443/login", status: 200},
		{name: "domain with a trailing name", opts: []func(*Config){domains}, url: "http://panel.test.evil.test/login", status: 421},
		{name: "public URL behind a proxy", opts: []func(*Config){proxy}, url: "http://panel.example.com/login", status: 200},
		{name: "proxy forwarding to the address", opts: []func(*Config){proxy}, url: "http://127.0.0.1:8080/login", status: 200},
		{name: "another name behind a proxy", opts: []func(*Config){proxy}, url: "http://evil.example.com/login", status: 421},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestApp(t, tc.opts...)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req := request{Method: method, URL: tc.url, Form: tc.form}.build(t)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			r := thAppTest(t, ta, req)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d; body:\n%s", r.Status, tc.status, trimBody(r.Body))
			}
			if tc.status != 421 {
				return
			}
			ct := r.Header.Get("Content-Type")
			if tc.problem != (ct == "application/problem+json") {
				t.Errorf("Content-Type %q (problem+json wanted: %v)", ct, tc.problem)
			}
			if strings.Contains(r.Body, "evil") {
				t.Errorf("the refusal repeats the foreign name: %s", trimBody(r.Body))
			}
			if events := ta.AuditEvents(t, ""); len(events) != 1 { // the admin's creation
				t.Errorf("a refused request was audited: %+v", events)
			}
		})
	}
}

// TestHostCheckListener: over a real listener, a client that names the
// listen address (curl http://127.0.0.1:PORT) is served; a foreign name or
// none is refused with 421.
func TestHostCheckListener(t *testing.T) {
	ta := newTestApp(t)
	base := serveApp(t, ta)
	resp, err := http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	if r := readResponse(t, resp); r.Status != 200 {
		t.Errorf("GET %s/login: %d", base, r.Status)
	}
	for _, raw := range []string{
		"GET /login HTTP/1.1\r\nHost: rebind.evil.test\r\nConnection: close\r\n\r\n",
		"GET /login HTTP/1.0\r\n\r\n",
	} {
		if r := thRawHTTP(t, base, raw); r.Status != 421 {
			t.Errorf("%q: %d, want 421", raw, r.Status)
		}
	}
	if r := thRawHTTP(t, base, "GET /healthz HTTP/1.0\r\n\r\n"); r.Status != 200 {
		t.Errorf("/healthz without Host: %d, want 200", r.Status)
	}
}

// FuzzHostAllowed: a Host header is allowed only when the host name that a
// URL parser reads from it is one of the panel's names or an address.
func FuzzHostAllowed(f *testing.F) {
	for _, s := range []string{"localhost:8080", "[::1]:8080", "127.0.0.1", "panel.test", "evil.test:80", "::1", "[::1]", "a:b:c", "", "localhost:", "[fe80::1%25lo]:1"} {
		f.Add(s)
	}
	hosts := allowedHosts(&url.URL{Scheme: "https", Host: "panel.test:8443"}, []string{"www.panel.test"})
	f.Fuzz(func(t *testing.T, host string) {
		if !hostAllowed(hosts, host) {
			return
		}
		u, err := url.Parse("http://" + host + "/")
		if err != nil || u.Host != host {
			t.Fatalf("%q allowed, but it is not a host[:port]: %v", host, err)
		}
		name := strings.ToLower(u.Hostname())
		if _, err := netip.ParseAddr(name); err != nil && !hosts[name] {
			t.Fatalf("%q allowed: %q is neither an address nor one of %v", host, name, hosts)
		}
	})
}

// TestLargeBodies: over a real listener, a client that sends a large API
// body without waiting for 100 Continue (Go's http.Client does not) reads
// a 413 problem+json instead of a reset connection, whether the body is
// just over the limit or far over it; the panel keeps serving.
func TestLargeBodies(t *testing.T) {
	ta := newTestApp(t)
	token, _ := ta.Token(t, ta.Admin)
	base := serveApp(t, ta)
	for _, size := range []int{2 << 20, 20 << 20} {
		t.Run(fmt.Sprintf("%d MiB", size>>20), func(t *testing.T) {
			body := `{"username":"big","password":"big-pass-123","email":"` + strings.Repeat("a", size) + `@example.com"}`
			req, err := http.NewRequest("POST", base+"/api/v1/users", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("POST %d bytes: %v", len(body), err)
			}
			r := readResponse(t, resp)
			if r.Status != 413 || r.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(r.Body, "larger than 1 MiB") {
				t.Fatalf("POST %d bytes: %d %s %s", len(body), r.Status, r.Header.Get("Content-Type"), trimBody(r.Body))
			}
		})
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	if r := readResponse(t, resp); r.Status != 200 {
		t.Errorf("after the large bodies, /healthz: %d", r.Status)
	}
}

// TestAPIMethodNotAllowed: a known API path called with a method it does
// not take answers 405 problem+json with Allow naming the methods it does
// take; unknown paths stay 404, and strangers get 401 first either way.
func TestAPIMethodNotAllowed(t *testing.T) {
	ta := newTestApp(t)
	token, _ := ta.Token(t, ta.Admin)
	for _, tc := range []struct {
		method, path string
		token        string
		status       int
		allow        string
	}{
		{"PUT", "/api/v1/me", token, 405, "GET, HEAD"},
		{"PUT", "/api/v1/users", token, 405, "GET, HEAD, POST"},
		{"POST", "/api/v1/users/1", token, 405, "GET, HEAD, PATCH, DELETE"},
		{"GET", "/api/v1/users/1/password", token, 405, "PUT"},
		{"GET", "/api/v1/users/1/2fa", token, 405, "DELETE"},
		{"PUT", "/api/v1/users/1/tokens/abc", token, 405, "PATCH, DELETE"},
		{"POST", "/api/v1/users/1/passkeys", token, 405, "GET, HEAD"},
		{"OPTIONS", "/api/v1/audit", token, 405, "GET, HEAD"},
		{"POST", "/api/openapi.json", token, 405, "GET, HEAD"},
		{"PUT", "/api/v1/me", "", 401, ""},
		{"GET", "/api/v1/nothing", token, 404, ""},
		{"POST", "/api/v1/users/x", token, 404, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := ta.Do(t, request{Method: tc.method, URL: tc.path, Token: tc.token})
			wantAnswer(t, r, tc.status)
			if got := r.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

// TestAPIRouteMethods: the table of API paths and methods that 405
// answers use agrees with the routes: every API route's path, with its
// parameters filled in, lists the route's method.
func TestAPIRouteMethods(t *testing.T) {
	ta := newTestApp(t)
	n := 0
	for _, r := range ta.App.GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/") || strings.Contains(r.Path, "*") {
			continue
		}
		var segs []string
		for _, s := range strings.Split(r.Path, "/") {
			switch {
			case strings.HasSuffix(s, "<int>"):
				s = "12"
			case strings.HasPrefix(s, ":"):
				s = "x1"
			}
			segs = append(segs, s)
		}
		path := strings.Join(segs, "/")
		if allow := ta.H.apiMethods.allow(path); !strings.Contains(", "+allow+", ", ", "+r.Method+", ") {
			t.Errorf("%s %s: Allow for %s is %q", r.Method, r.Path, path, allow)
		}
		n++
	}
	if n < 20 {
		t.Errorf("only %d API routes", n)
	}
	for path, want := range map[string]string{
		"/api/v1/users/1/tokens":     "GET, HEAD, POST",
		"/api/v1/users/1/":           "GET, HEAD, PATCH, DELETE", // Fiber's routes ignore a trailing slash
		"/api/v1/users/x":            "",
		"/api/v1/users/1/tokens/a/b": "",
		"/api/v2/me":                 "",
	} {
		if allow := ta.H.apiMethods.allow(path); allow != want {
			t.Errorf("%s: Allow %q, want %q", path, allow, want)
		}
	}
}

// TestRoutesCaseSensitive: paths match exactly as the route table writes
// them; /API/v1/me is not the API (it used to be, with errors as pages).
func TestRoutesCaseSensitive(t *testing.T) {
	ta := newTestApp(t)
	token, _ := ta.Token(t, ta.Admin)
	s := ta.Session(t, ta.Admin)
	for _, path := range []string{"/API/v1/me", "/api/V1/me", "/api/v1/ME", "/Settings/users", "/LOGIN", "/Healthz"} {
		r := ta.Do(t, request{URL: path, Session: s})
		if r.Status != 404 {
			t.Errorf("GET %s with a session: %d, want 404", path, r.Status)
		}
		// Under /api/ the API's own 404; elsewhere no JSON at all.
		r = ta.Do(t, request{URL: path, Headers: map[string]string{"Authorization": "Bearer " + token}})
		if strings.HasPrefix(path, "/api/") {
			if r.Status != 404 {
				t.Errorf("GET %s with a token: %d, want 404", path, r.Status)
			}
		} else if r.Status == 200 || strings.Contains(r.Header.Get("Content-Type"), "json") {
			t.Errorf("GET %s with a token: %d %s, want no API answer", path, r.Status, r.Header.Get("Content-Type"))
		}
	}
	if r := ta.Do(t, request{URL: "/api/v1/me", Headers: map[string]string{"Authorization": "Bearer " + token}}); r.Status != 200 {
		t.Errorf("GET /api/v1/me: %d", r.Status)
	}
}

// thPermissionsPolicy checks the Permissions-Policy of an answer: powerful
// features denied, passkeys allowed for the panel itself.
func thPermissionsPolicy(t testing.TB, what string, h http.Header) {
	t.Helper()
	pp := h.Get("Permissions-Policy")
	for _, want := range []string{"camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()",
		"publickey-credentials-get=(self)", "publickey-credentials-create=(self)"} {
		if !strings.Contains(pp, want) {
			t.Errorf("%s: Permissions-Policy %q lacks %s", what, pp, want)
		}
	}
}

// TestNoStoreOnEveryPage walks every GET route of the route table with a
// session, as a page and as an htmx fragment: each answer that can carry
// personal data (all but the content-hashed assets) says Cache-Control:
// no-store, so no browser or proxy cache keeps a user's emails or CSRF
// token; and every answer has the Permissions-Policy.
func TestNoStoreOnEveryPage(t *testing.T) {
	ta := newTestApp(t)
	bob := testkit.AddUser(t, ta.Store, "bob")
	_, tok := ta.Token(t, bob)
	pk, err := ta.Store.AddPasskey(bob.ID, model.NewPasskeyHandle(),
		model.Passkey{Name: "laptop", RPID: "localhost", CredentialID: []byte("credential-1"), PublicKey: []byte("public-key")}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	s := ta.Session(t, ta.Admin)
	bobs := ta.Session(t, bob)
	query := map[string]string{"/settings/users/:id<int>/edit": "?field=email"}
	n := 0
	for _, r := range ta.App.GetRoutes(true) {
		if r.Method != "GET" || r.Path == "/api/*" { // the catch-all of unknown API paths
			continue
		}
		id := bob.ID
		if r.Path == "/settings/users/:id<int>/2fa" {
			id = ta.Admin.ID // only the user opens their own enrolment
		}
		path := strings.NewReplacer(":id<int>", fmt.Sprint(id), ":tid", tok.ID, ":pid", pk.ID, ":sid", ta.Store.SessionPublicID(bobs.ID)).Replace(r.Path) + query[r.Path]
		asset := strings.HasPrefix(r.Path, "/assets/")
		if asset {
			path = ta.H.assetPath("app.js")
		}
		for _, htmx := range []bool{false, true} {
			a := ta.Do(t, request{URL: path, Session: s, HTMX: htmx})
			what := fmt.Sprintf("GET %s (htmx %v): %d", path, htmx, a.Status)
			if a.Status >= 400 {
				t.Errorf("%s, want a success for the walk to mean something; body:\n%s", what, trimBody(a.Body))
			}
			cc := a.Header.Get("Cache-Control")
			switch {
			case asset:
				if !strings.Contains(cc, "immutable") {
					t.Errorf("%s: Cache-Control %q, want the asset cached", what, cc)
				}
			case r.Path == "/api/openapi.json":
				// Public and the same for everyone: revalidated, not kept from caches.
				if cc != "no-cache" {
					t.Errorf("%s: Cache-Control %q, want no-cache", what, cc)
				}
			case cc != "no-store":
				t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
			}
			thPermissionsPolicy(t, what, a.Header)
			n++
		}
	}
	if n < 40 {
		t.Errorf("only %d answers checked", n)
	}
	// The login pages, without a session, and other answers.
	for _, req := range []request{
		{URL: "/login"},
		{URL: "/login?next=%2Fsettings%2Fusers"},
		{Method: "POST", URL: "/login", Form: loginForm("admin", "wrong-password")},
		{URL: "/"},
		{URL: "/settings/users"},
		{URL: "/nothing", Session: s},
		{URL: "/api/v1/nothing", Session: s},
	} {
		a := ta.Do(t, req)
		what := fmt.Sprintf("%s %s: %d", req.Method, req.URL, a.Status)
		if cc := a.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", what, cc)
		}
		thPermissionsPolicy(t, what, a.Header)
	}
}

// TestPermissionsPolicyOnEveryAnswer: answers that no route gives carry
// the Permissions-Policy too: a foreign Host (421) and a body refused
// before any route (413).
func TestPermissionsPolicyOnEveryAnswer(t *testing.T) {
	ta := newTestApp(t)
	r := thAppTest(t, ta, request{URL: "http://rebind.evil.test/login"}.build(t))
	thPermissionsPolicy(t, "421", r.Header)
	base := serveApp(t, ta)
	resp, err := http.Post(base+"/login", "application/x-www-form-urlencoded", strings.NewReader(strings.Repeat("a", 2<<20)))
	if err != nil {
		t.Fatal(err)
	}
	r = readResponse(t, resp)
	if r.Status != 413 {
		t.Fatalf("2 MiB form: %d", r.Status)
	}
	thPermissionsPolicy(t, "413", r.Header)
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("413: Cache-Control %q", cc)
	}
}
