package handlers

// Shared helpers for the handler, throttling and browser tests. Everything
// here is either a method of testApp or a function named th…, so test files
// written by different people do not collide.
//
// A testApp is the real application over a real Storm file in t.TempDir(),
// with cheap argon2 parameters and a clock the test moves by hand. It starts
// with one user, admin (ID 1, password thAdminPassword).

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/handlers/server"
	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
)

const (
	// thPublicURL is the panel's public URL in tests; requests built by
	// testApp.do go to this host, so Origin checks see the panel's own origin.
	thPublicURL = "http://localhost:8080"
	// thAdminPassword is the password of the admin user every testApp has.
	thAdminPassword = "admin-pass-1"
	// thUserPassword is the password thCreateUser gives users by default.
	thUserPassword = "user-pass-1"
)

// thArgon2 are cheap argon2id parameters: hashing under -race stays fast.
var thArgon2 = &model.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// thClock is a clock the test moves by hand; safe for concurrent use.
type thClock struct {
	mu  sync.Mutex
	now time.Time
}

// thNewClock starts at the current minute, not a fixed date: cookies carry
// expiry times from this clock, and a real cookie jar drops cookies that
// expired by the wall clock.
func thNewClock() *thClock {
	return &thClock{now: time.Now().UTC().Truncate(time.Minute)}
}

// Now returns the clock's time.
func (c *thClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *thClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// testApp is the real application over a real database.
type testApp struct {
	Dir   string
	Clock *thClock
	Store *model.Store
	Audit *model.AuditBuffer
	// Uses batches token last uses; nothing runs it unless a test calls
	// thRunTokenUses, so writes happen only when a test asks.
	Uses  *model.TokenUseBuffer
	H     *Handler
	App   *fiber.App
	Admin model.User
}

// newTestApp builds the app. Each option may change the handlers.Config
// before New (trusted proxies, a limiter config, session lifetimes).
func newTestApp(t testing.TB, opts ...func(*Config)) *testApp {
	t.Helper()
	dir := t.TempDir()
	clock := thNewClock()
	store, err := model.Open(dir, model.Options{Create: true, Argon2: thArgon2, Now: clock.Now})
	if err != nil {
		t.Fatalf("model.Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	lc := throttle.DefaultConfig()
	cfg := DefaultConfig()
	cfg.PublicURL, cfg.Limiter, cfg.Version = thPublicURL, &lc, "test"
	for _, o := range opts {
		o(&cfg)
	}
	audit := model.NewAuditBuffer(store, time.Second)
	uses := model.NewTokenUseBuffer(store)
	h, err := New(store, cfg, audit, uses)
	if err != nil {
		t.Fatalf("handlers.New: %v", err)
	}
	ta := &testApp{Dir: dir, Clock: clock, Store: store, Audit: audit, Uses: uses, H: h, App: h.App()}
	ta.Admin = ta.CreateUser(t, "admin", thAdminPassword, "admin@example.com")
	return ta
}

// thRunTokenUses runs the token last-use writer as main does, and returns
// its stop: end Run (which writes what is left) and wait for it. Stop runs
// at the latest when the test ends, before the store closes.
func thRunTokenUses(t testing.TB, ta *testApp) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go ta.Uses.Run(ctx)
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); ta.Uses.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// thTrustProxies is a newTestApp option that trusts the given CIDRs.
func thTrustProxies(cidrs ...string) func(*Config) {
	return func(c *Config) {
		for _, s := range cidrs {
			c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix(s))
		}
	}
}

// CreateUser creates a user directly in the store (audited as "system").
func (ta *testApp) CreateUser(t testing.TB, username, password, email string) model.User {
	t.Helper()
	u, err := ta.Store.CreateUser(context.Background(),
		model.NewUser{Username: username, Password: password, Email: email}, model.Actor{Name: "system"})
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", username, err)
	}
	return u
}

// thCreateUser creates a user with thUserPassword and name@example.com.
func thCreateUser(t testing.TB, ta *testApp, username string) model.User {
	t.Helper()
	return ta.CreateUser(t, username, thUserPassword, username+"@example.com")
}

// thSession is a logged-in browser: the session cookie's value, the stored
// session id (its hash) and the CSRF token pages carry for it.
type thSession struct {
	Token string
	ID    string
	CSRF  string
	User  model.User
}

// Cookie returns the session cookie.
func (s *thSession) Cookie() *http.Cookie { return &http.Cookie{Name: sessionCookie, Value: s.Token} }

// Session starts a session for u directly in the store (no HTTP round trip).
func (ta *testApp) Session(t testing.TB, u model.User) *thSession {
	t.Helper()
	token, sess, err := ta.Store.CreateSession(u.ID, "192.0.2.1", "test", model.ActorFor(u, "192.0.2.1"), "password")
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return &thSession{Token: token, ID: sess.ID, CSRF: ta.H.csrfToken(sess.ID), User: u}
}

// Login logs in through POST /login and returns the session; the answer
// must be a 303 with a session cookie.
func (ta *testApp) Login(t testing.TB, username, password string) *thSession {
	t.Helper()
	r := ta.Do(t, thReq{Method: "POST", URL: "/login", Form: url.Values{"username": {username}, "password": {password}}})
	c := r.Cookie(sessionCookie)
	if r.Status != fiber.StatusSeeOther || c == nil || c.Value == "" {
		t.Fatalf("login %q: status %d, cookie %v, body %s", username, r.Status, c, r.Body)
	}
	sess, u, err := ta.Store.SessionByToken(c.Value, ta.H.sessionPolicy())
	if err != nil {
		t.Fatalf("login %q: session not stored: %v", username, err)
	}
	return &thSession{Token: c.Value, ID: sess.ID, CSRF: ta.H.csrfToken(sess.ID), User: u}
}

// thReq describes one request to the app.
type thReq struct {
	Method string
	URL    string // a path (sent to thPublicURL's host) or a full URL
	Form   url.Values
	// HTMX sets HX-Request: true.
	HTMX bool
	// Session sends the session cookie.
	Session *thSession
	// CSRFHeader is sent as X-CSRF-Token when not empty.
	CSRFHeader string
	// CSRFField is sent as the _csrf form field when not empty.
	CSRFField string
	Headers   map[string]string
	Cookies   []*http.Cookie
}

// thResponse is an answer with its body read.
type thResponse struct {
	Status  int
	Header  http.Header
	Body    string
	Cookies []*http.Cookie
}

// Cookie returns the Set-Cookie of name, or nil.
func (r *thResponse) Cookie(name string) *http.Cookie {
	for _, c := range r.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Request builds the *http.Request for r.
func (r thReq) Request() *http.Request {
	target := r.URL
	if strings.HasPrefix(target, "/") {
		target = thPublicURL + target
	}
	form := url.Values{}
	for k, v := range r.Form {
		form[k] = append([]string(nil), v...)
	}
	if r.CSRFField != "" {
		form.Set("_csrf", r.CSRFField)
	}
	var body io.Reader
	if len(form) > 0 || r.CSRFField != "" {
		body = strings.NewReader(form.Encode())
	}
	method := r.Method
	if method == "" {
		method = "GET"
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		panic(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.HTMX {
		req.Header.Set("HX-Request", "true")
	}
	if r.CSRFHeader != "" {
		req.Header.Set(csrfHeader, r.CSRFHeader)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	if r.Session != nil {
		// Under both names, as a browser would hold it over HTTP or HTTPS;
		// the app reads the one of the request's scheme.
		req.AddCookie(r.Session.Cookie())
		req.AddCookie(&http.Cookie{Name: hostSessionCookie, Value: r.Session.Token})
	}
	for _, c := range r.Cookies {
		req.AddCookie(c)
	}
	return req
}

// Do sends r through app.Test (see roundTrip: API answers are checked
// against openapi.json). app.Test always reports the peer as 0.0.0.0; use
// thServe for per-IP tests.
func (ta *testApp) Do(t testing.TB, r thReq) *thResponse {
	t.Helper()
	return ta.roundTrip(t, r.Request())
}

func thRead(t testing.TB, resp *http.Response) *thResponse {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return &thResponse{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Cookies: resp.Cookies()}
}

// Snapshot describes the users (with password hashes and 2FA state), their
// sessions, access tokens (id, white list, expiry) and passkeys (id, name),
// for "nothing changed" checks: a refused request must not have ended a
// session, changed or deleted a token, or removed a passkey either.
func (ta *testApp) Snapshot(t testing.TB) string {
	t.Helper()
	users, err := ta.Store.Users()
	if err != nil {
		t.Fatalf("Users: %v", err)
	}
	var b strings.Builder
	for _, u := range users {
		b.WriteString(fmt.Sprintf("%s|%s|%s|2fa=%v|passkeys=%d", u.Username, u.Email, u.PasswordHash, u.TwoFactor, u.Passkeys))
		sessions, err := ta.Store.SessionsOf(u.ID)
		if err != nil {
			t.Fatalf("SessionsOf: %v", err)
		}
		ids := make([]string, 0, len(sessions))
		for _, s := range sessions {
			ids = append(ids, s.ID)
		}
		sort.Strings(ids)
		b.WriteString(" sessions=" + strings.Join(ids, ",") + "\n")
		tokens, err := ta.Store.Tokens(u.ID)
		if err != nil {
			t.Fatalf("Tokens: %v", err)
		}
		for _, tok := range tokens {
			fmt.Fprintf(&b, "  token %s ips=%v expires=%s\n", tok.ID, tok.IPs, tok.ExpiresAt.Format(time.RFC3339))
		}
		passkeys, err := ta.Store.Passkeys(u.ID)
		if err != nil {
			t.Fatalf("Passkeys: %v", err)
		}
		for _, p := range passkeys {
			fmt.Fprintf(&b, "  passkey %s %q\n", p.ID, p.Name)
		}
	}
	return b.String()
}

// AuditEvents flushes the audit buffer and returns the events with action
// (all events when action is ""), oldest first.
func (ta *testApp) AuditEvents(t testing.TB, action string) []model.AuditEvent {
	t.Helper()
	if err := ta.Audit.Flush(); err != nil {
		t.Fatalf("audit flush: %v", err)
	}
	all, _, err := ta.Store.AuditEvents(model.AuditFilter{Limit: 100000})
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	var out []model.AuditEvent
	for i := len(all) - 1; i >= 0; i-- {
		if action == "" || all[i].Action == action {
			out = append(out, all[i])
		}
	}
	return out
}

// SessionAlive reports whether the session still opens the User tab.
func (ta *testApp) SessionAlive(t testing.TB, s *thSession) bool {
	t.Helper()
	r := ta.Do(t, thReq{Method: "GET", URL: "/settings/users", Session: s})
	switch r.Status {
	case fiber.StatusOK:
		return true
	case fiber.StatusSeeOther:
		return false
	}
	t.Fatalf("GET /settings/users: unexpected status %d", r.Status)
	return false
}

// thScenario is one row of a scenario table (pocketbase tests/api.go
// style): every scenario gets a fresh testApp.
type thScenario struct {
	Name   string
	Method string
	URL    string
	Form   url.Values
	HTMX   bool
	// Session logs in as admin (a store session) before the request.
	Session bool
	// CSRF is where the session's token goes: "" or "header" (X-CSRF-Token),
	// "field" (_csrf), "none", or "other" (another session's token, header).
	// It applies only with Session.
	CSRF    string
	Headers map[string]string
	// Setup runs on the fresh app before the request (create users …).
	Setup func(t *testing.T, ta *testApp)
	// Options change the Config of the fresh app.
	Options []func(*Config)

	WantStatus int
	// WantHeaders are exact header values; "" means the header is absent.
	WantHeaders map[string]string
	Want        []string
	NotWant     []string
	// Unchanged checks that the users and sessions are as before; Changed
	// that they are not.
	Unchanged bool
	Changed   bool
	After     func(t *testing.T, ta *testApp, r *thResponse)
}

// Run runs the scenario as a subtest.
func (s thScenario) Run(t *testing.T) {
	t.Run(s.Name, func(t *testing.T) {
		t.Parallel()
		ta := newTestApp(t, s.Options...)
		if s.Setup != nil {
			s.Setup(t, ta)
		}
		req := thReq{Method: s.Method, URL: s.URL, Form: s.Form, HTMX: s.HTMX, Headers: s.Headers}
		if s.Session {
			req.Session = ta.Session(t, ta.Admin)
			switch s.CSRF {
			case "", "header":
				req.CSRFHeader = req.Session.CSRF
			case "field":
				req.CSRFField = req.Session.CSRF
			case "other":
				req.CSRFHeader = ta.Session(t, ta.Admin).CSRF
			case "none":
			default:
				t.Fatalf("unknown CSRF mode %q", s.CSRF)
			}
		}
		before := ta.Snapshot(t)
		r := ta.Do(t, req)
		thCheck(t, r, s.WantStatus, s.Want, s.NotWant, s.WantHeaders)
		if s.Unchanged || s.Changed {
			after := ta.Snapshot(t)
			if s.Unchanged && after != before {
				t.Errorf("state changed:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			if s.Changed && after == before {
				t.Errorf("state did not change:\n%s", after)
			}
		}
		if s.After != nil {
			s.After(t, ta, r)
		}
	})
}

// thRunScenarios runs every scenario of a table.
func thRunScenarios(t *testing.T, list []thScenario) {
	t.Helper()
	for _, s := range list {
		s.Run(t)
	}
}

// thCheck checks the status, wanted and unwanted substrings and headers of
// an answer.
func thCheck(t testing.TB, r *thResponse, status int, want, notWant []string, headers map[string]string) {
	t.Helper()
	if status != 0 && r.Status != status {
		t.Errorf("status = %d, want %d; body:\n%s", r.Status, status, thTrim(r.Body))
	}
	for _, w := range want {
		if !strings.Contains(r.Body, w) {
			t.Errorf("body lacks %q; body:\n%s", w, thTrim(r.Body))
		}
	}
	for _, w := range notWant {
		if strings.Contains(r.Body, w) {
			t.Errorf("body has %q; body:\n%s", w, thTrim(r.Body))
		}
	}
	for k, v := range headers {
		if got := r.Header.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

func thTrim(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

var thCSRFField = regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`)

// thCSRFFromPage returns the CSRF token a page carries in its hidden
// _csrf fields, or "".
func thCSRFFromPage(body string) string {
	m := thCSRFField.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// thServe serves the app on a real listener at 127.0.0.1, bound as the
// panel binds it (handlers/server, plain HTTP), and returns its base URL
// (http://127.0.0.1:PORT). The server stops when the test ends.
func thServe(t testing.TB, ta *testApp) string {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	srv, err := server.Bind(cfg, ta.App)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	errc, err := srv.Serve(context.Background())
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + srv.Addrs()
}

// thClientFrom returns an HTTP client whose connections come from the
// loopback address src (any 127.x.y.z works on Linux: all of 127.0.0.0/8 is
// on lo), so one test can play many client addresses. It keeps cookies in
// a jar and does not follow redirects.
func thClientFrom(t testing.TB, src string) *http.Client {
	t.Helper()
	ip := net.ParseIP(src)
	if ip == nil {
		t.Fatalf("bad source address %q", src)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// thPost posts a form with optional extra headers through a real client.
func thPost(t testing.TB, c *http.Client, target string, form url.Values, headers map[string]string) *thResponse {
	t.Helper()
	req, err := http.NewRequest("POST", target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", target, err)
	}
	return thRead(t, resp)
}

// thLoginForm is the login form's body.
func thLoginForm(username, password string) url.Values {
	return url.Values{"username": {username}, "password": {password}}
}
