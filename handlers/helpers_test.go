package handlers

// Helpers of the handler, API, throttling and passkey tests. The clock,
// store, users and 2FA come from the shared kit, model/testkit.
//
// A testApp is the real application over a real Storm file in t.TempDir(),
// with the kit's cheap argon2 parameters and a clock the test moves by
// hand. It starts with one user, admin (ID 1, password
// testkit.AdminPassword). Every request goes through app.Test, and every
// exchange on an API path is checked against openapi.json (roundTrip).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/handlers/apitest"
	"github.com/gatehouse-panel/gatehouse/handlers/server"
	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// publicURL is the panel's public URL in tests; requests go to this host,
// so Origin checks see the panel's own origin.
const publicURL = "http://localhost:8080"

// testApp is the real application over a real database.
type testApp struct {
	Dir   string
	Clock *testkit.Clock
	Store *model.Store
	Audit *model.AuditBuffer
	// Uses batches token last uses; nothing runs it unless a test calls
	// runTokenUses, so writes happen only when a test asks.
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
	clock := testkit.NewClock()
	store := testkit.OpenStore(t, dir, testkit.WithClock(clock))
	lc := throttle.DefaultConfig()
	cfg := DefaultConfig()
	cfg.PublicURL, cfg.Limiter, cfg.Version = publicURL, &lc, "test"
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
	ta.Admin = testkit.CreateUser(t, store, "admin", testkit.AdminPassword, "admin@example.com")
	return ta
}

// newAPIApp is newTestApp that also writes the token last uses the test
// left pending when it ends, before the store closes (cleanups run
// last-registered first), and fails the test if that fails.
func newAPIApp(t testing.TB, opts ...func(*Config)) *testApp {
	t.Helper()
	ta := newTestApp(t, opts...)
	t.Cleanup(func() {
		if err := ta.Uses.Flush(); err != nil {
			t.Errorf("writing token last uses: %v", err)
		}
	})
	return ta
}

// runTokenUses runs the token last-use writer as main does, and returns
// its stop: end Run (which writes what is left) and wait for it. Stop runs
// at the latest when the test ends, before the store closes.
func runTokenUses(t testing.TB, ta *testApp) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go ta.Uses.Run(ctx)
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); ta.Uses.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// trustProxies is a newTestApp option that trusts the given CIDRs.
func trustProxies(cidrs ...string) func(*Config) {
	return func(c *Config) {
		for _, s := range cidrs {
			c.TrustedProxies = append(c.TrustedProxies, netip.MustParsePrefix(s))
		}
	}
}

// trustTestPeer is a newTestApp option that trusts app.Test's peer
// address, so that requests can name their client address (ClientIP).
var trustTestPeer = trustProxies("0.0.0.0/32")

// userSession is a logged-in browser: the session cookie's value, the
// stored session id (its hash) and the CSRF token pages carry for it.
type userSession struct {
	Token string
	ID    string
	CSRF  string
	User  model.User
}

// Cookie returns the session cookie.
func (s *userSession) Cookie() *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: s.Token}
}

// Session starts a session for u directly in the store (no HTTP round trip).
func (ta *testApp) Session(t testing.TB, u model.User) *userSession {
	t.Helper()
	token, sess, err := ta.Store.CreateSession(u.ID, "192.0.2.1", "test", model.ActorFor(u, "192.0.2.1"), "password")
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return &userSession{Token: token, ID: sess.ID, CSRF: ta.H.csrfToken(sess.ID), User: u}
}

// Login logs in through POST /login and returns the session; the answer
// must be a 303 with a session cookie.
func (ta *testApp) Login(t testing.TB, username, password string) *userSession {
	t.Helper()
	r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm(username, password)})
	c := r.Cookie(sessionCookie)
	if r.Status != fiber.StatusSeeOther || c == nil || c.Value == "" {
		t.Fatalf("login %q: status %d, cookie %v, body %s", username, r.Status, c, r.Body)
	}
	sess, u, err := ta.Store.SessionByToken(c.Value, ta.H.sessionPolicy())
	if err != nil {
		t.Fatalf("login %q: session not stored: %v", username, err)
	}
	return &userSession{Token: c.Value, ID: sess.ID, CSRF: ta.H.csrfToken(sess.ID), User: u}
}

// Token creates an access token for u directly in the store, valid for a
// day, and returns its value.
func (ta *testApp) Token(t testing.TB, u model.User, ips ...string) (string, model.Token) {
	t.Helper()
	value, tok, err := ta.Store.CreateToken(u.ID, model.NewToken{IPs: ips, ExpiresAt: ta.Clock.Now().Add(24 * time.Hour)}, model.CLIActor)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return value, tok
}

// request is one request to the app: a page, an htmx fragment, a form or
// a call of the JSON API.
type request struct {
	Method string // GET when empty
	URL    string // a path (sent to publicURL's host) or a full URL
	// Form is sent as an urlencoded body. Body is sent as JSON; a string
	// or []byte is sent as it is. ContentType overrides the body's type.
	Form        url.Values
	Body        any
	ContentType string
	// HTMX sets HX-Request: true.
	HTMX bool
	// Session sends the session cookie; CSRF adds the session's token as
	// X-CSRF-Token. CSRFHeader and CSRFField send the given token (another
	// session's, a wrong one) as X-CSRF-Token and as the _csrf field.
	Session    *userSession
	CSRF       bool
	CSRFHeader string
	CSRFField  string
	// Token is sent as Authorization: Bearer.
	Token string
	// ClientIP is the client address, told through X-Forwarded-For by the
	// trusted proxy 0.0.0.0 (the peer app.Test reports); the app must be
	// built with trustTestPeer.
	ClientIP string
	Headers  map[string]string
	Cookies  []*http.Cookie
}

// build builds the *http.Request of r.
func (r request) build(t testing.TB) *http.Request {
	t.Helper()
	target := r.URL
	if strings.HasPrefix(target, "/") {
		target = publicURL + target
	}
	var body []byte
	contentType := r.ContentType
	form := url.Values{}
	for k, v := range r.Form {
		form[k] = append([]string(nil), v...)
	}
	if r.CSRFField != "" {
		form.Set("_csrf", r.CSRFField)
	}
	switch b := r.Body; {
	case b != nil && len(form) > 0:
		t.Fatalf("%s %s: a request has a form or a JSON body, not both", r.Method, r.URL)
	case len(form) > 0:
		body = []byte(form.Encode())
		if contentType == "" {
			contentType = "application/x-www-form-urlencoded"
		}
	case b != nil:
		switch b := b.(type) {
		case string:
			body = []byte(b)
		case []byte:
			body = b
		default:
			var err error
			if body, err = json.Marshal(b); err != nil {
				t.Fatal(err)
			}
		}
		if contentType == "" {
			contentType = "application/json"
		}
	}
	method := r.Method
	if method == "" {
		method = "GET"
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if r.HTMX {
		req.Header.Set("HX-Request", "true")
	}
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	if r.Session != nil {
		// Under both names, as a browser would hold it over HTTP or HTTPS;
		// the app reads the one of the request's scheme.
		req.AddCookie(r.Session.Cookie())
		req.AddCookie(&http.Cookie{Name: hostSessionCookie, Value: r.Session.Token})
		if r.CSRF {
			req.Header.Set(csrfHeader, r.Session.CSRF)
		}
	}
	if r.CSRFHeader != "" {
		req.Header.Set(csrfHeader, r.CSRFHeader)
	}
	if r.ClientIP != "" {
		req.Header.Set("X-Forwarded-For", r.ClientIP)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	for _, c := range r.Cookies {
		req.AddCookie(c)
	}
	return req
}

// response is an answer with its body read, and decoded when it is JSON.
type response struct {
	Status  int
	Header  http.Header
	Body    string
	Cookies []*http.Cookie
	JSON    map[string]any
}

// Cookie returns the Set-Cookie of name, or nil.
func (r *response) Cookie(name string) *http.Cookie {
	for _, c := range r.Cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Items returns the items of a list answer.
func (r *response) Items() []map[string]any {
	var out []map[string]any
	items, _ := r.JSON["items"].([]any)
	for _, it := range items {
		m, _ := it.(map[string]any)
		out = append(out, m)
	}
	return out
}

// Field returns the message of field in a problem answer's errors.
func (r *response) Field(field string) string {
	errs, _ := r.JSON["errors"].(map[string]any)
	s, _ := errs[field].(string)
	return s
}

// readResponse reads an answer's body and decodes it when it is JSON.
func readResponse(t testing.TB, resp *http.Response) *response {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Cookies: resp.Cookies()}
	// JSON lines (an export) are many objects, read line by line.
	if ct := r.Header.Get("Content-Type"); strings.Contains(ct, "json") && !strings.Contains(ct, "jsonl") && len(b) > 0 {
		if err := json.Unmarshal(b, &r.JSON); err != nil {
			t.Fatalf("the answer is not a JSON object: %v\n%s", err, b)
		}
	}
	return r
}

// Do sends r through app.Test (see roundTrip). app.Test always reports
// the peer as 0.0.0.0; use serveApp for per-IP tests.
func (ta *testApp) Do(t testing.TB, r request) *response {
	t.Helper()
	return ta.roundTrip(t, r.build(t))
}

// contract is the checker of every API exchange in this package's tests,
// shared so that TestMain can list the documented answers no test saw.
var contract struct {
	once    sync.Once
	checker *apitest.Checker
	err     error
}

// contractChecker loads and validates the embedded openapi.json once.
func contractChecker(t testing.TB) *apitest.Checker {
	t.Helper()
	contract.once.Do(func() { contract.checker, contract.err = apitest.New(openAPIDoc) })
	if contract.err != nil {
		t.Fatal(contract.err)
	}
	return contract.checker
}

// loadSpec returns the loaded openapi.json and its router.
func loadSpec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	c := contractChecker(t)
	return c.Doc(), c.Router()
}

// roundTrip is the one way the tests send a request to the app: through
// app.Test (without its timeout: argon2 is slow under -race). Every
// exchange on an API path (see apitest.Checker.Applies) is checked against
// openapi.json, request and answer, whichever helper sent it.
func (ta *testApp) roundTrip(t testing.TB, req *http.Request) *response {
	t.Helper()
	var sent []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if sent, err = io.ReadAll(req.Body); err != nil {
			t.Fatalf("%s %s: read the request body: %v", req.Method, req.URL.Path, err)
		}
		req.Body = io.NopCloser(bytes.NewReader(sent))
	}
	resp, err := ta.App.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	r := readResponse(t, resp)
	if c := contractChecker(t); c.Applies(req.URL.Path) {
		x := apitest.Exchange{Request: req, RequestBody: sent, Status: r.Status, Header: r.Header, Body: []byte(r.Body)}
		if err := c.Check(x); err != nil {
			t.Error(err)
		}
	}
	return r
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
			fmt.Fprintf(&b, "  token %s ips=%v expires=%s scope=%s\n", tok.ID, tok.IPs, tok.ExpiresAt.Format(time.RFC3339), tok.Scope)
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
func (ta *testApp) SessionAlive(t testing.TB, s *userSession) bool {
	t.Helper()
	r := ta.Do(t, request{Method: "GET", URL: "/settings/users", Session: s})
	switch r.Status {
	case fiber.StatusOK:
		return true
	case fiber.StatusSeeOther:
		return false
	}
	t.Fatalf("GET /settings/users: unexpected status %d", r.Status)
	return false
}

// storedUser returns the stored user name.
func storedUser(t testing.TB, ta *testApp, name string) model.User {
	t.Helper()
	u, err := ta.Store.UserByName(name)
	if err != nil {
		t.Fatalf("UserByName(%q): %v", name, err)
	}
	return u
}

// reloadUser reloads a user from the store.
func reloadUser(t testing.TB, ta *testApp, id int) model.User {
	t.Helper()
	u, err := ta.Store.User(id)
	if err != nil {
		t.Fatalf("User(%d): %v", id, err)
	}
	return u
}

// addBob is a Setup that creates the user bob.
func addBob(t *testing.T, ta *testApp) { testkit.AddUser(t, ta.Store, "bob") }

// wantNoUser fails the test if the user name exists.
func wantNoUser(t *testing.T, ta *testApp, name string) {
	t.Helper()
	if _, err := ta.Store.UserByName(name); err == nil {
		t.Errorf("user %q exists", name)
	}
}

// passwordWorks reports whether name signs in with pw.
func passwordWorks(t *testing.T, ta *testApp, name, pw string) bool {
	t.Helper()
	_, err := ta.Store.Authenticate(context.Background(), name, pw)
	return err == nil
}

// scenarioApp is what a scenario runs on: a fresh *testApp, or a fixture
// built on one (users, tokens, a session prepared in advance).
type scenarioApp interface {
	app() *testApp
	// expand fills in the fixture's names in a scenario's URL ({bob}, …).
	expand(url string) string
	// adminSession is a browser session of admin; adminToken a bearer
	// token of admin's.
	adminSession(t testing.TB) *userSession
	adminToken(t testing.TB) string
}

func (ta *testApp) app() *testApp            { return ta }
func (ta *testApp) expand(url string) string { return url }
func (ta *testApp) adminSession(t testing.TB) *userSession {
	t.Helper()
	return ta.Session(t, ta.Admin)
}
func (ta *testApp) adminToken(t testing.TB) string {
	t.Helper()
	value, _ := ta.Token(t, ta.Admin)
	return value
}

// fixture is a fresh app with admin (ID 1) and bob, an access token for
// each (bob's only for 192.0.2.0/24), and a browser session of admin. In a
// URL, {bob}, {bobtoken} and {bobpasskey} name bob's id, his token's id
// and his passkey's (see addPasskey); so do openapi.json's {id}, {tid} and
// {pid}.
type fixture struct {
	ta         *testApp
	admin, bob model.User
	adminValue string
	bobToken   model.Token
	bobValue   string
	session    *userSession
	bobPasskey string // set by addPasskey
	bobSession string // public id, set by addSession
}

// newFixture builds a fixture on newAPIApp(t, trustTestPeer, opts...).
func newFixture(t testing.TB, opts ...func(*Config)) *fixture {
	t.Helper()
	ta := newAPIApp(t, append([]func(*Config){trustTestPeer}, opts...)...)
	f := &fixture{ta: ta, admin: ta.Admin, bob: testkit.AddUser(t, ta.Store, "bob")}
	f.adminValue, _ = ta.Token(t, ta.Admin)
	f.bobValue, f.bobToken = ta.Token(t, f.bob, "192.0.2.0/24")
	f.session = ta.Session(t, ta.Admin)
	return f
}

func (f *fixture) app() *testApp                        { return f.ta }
func (f *fixture) adminSession(testing.TB) *userSession { return f.session }
func (f *fixture) adminToken(testing.TB) string         { return f.adminValue }
func (f *fixture) expand(url string) string {
	id := fmt.Sprint(f.bob.ID)
	// A session id of the right shape when none was made: refusals come
	// before the session is looked up.
	sid := f.bobSession
	if sid == "" {
		sid = "0123456789abcdef0123"
	}
	return strings.NewReplacer("{bob}", id, "{bobtoken}", f.bobToken.ID, "{bobpasskey}", f.bobPasskey, "{bobsession}", sid,
		"{id}", id, "{tid}", f.bobToken.ID, "{pid}", f.bobPasskey, "{sid}", sid).Replace(url)
}

// addPasskey gives bob a passkey named laptop, as a registration
// would store it.
func addPasskey(t *testing.T, f *fixture) {
	t.Helper()
	p, err := f.ta.Store.AddPasskey(f.bob.ID, model.NewPasskeyHandle(),
		model.Passkey{Name: "laptop", RPID: "localhost", CredentialID: []byte("credential-1"), PublicKey: []byte("public-key")},
		model.ActorFor(f.bob, "192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	f.bobPasskey = p.ID
}

// scenario is one row of a request table (pocketbase tests/api.go style):
// a request on a fresh A, what the answer must be, and whether the state
// may change. A is *testApp for pages and forms, *fixture for the API.
type scenario[A scenarioApp] struct {
	Name   string
	Method string
	URL    string // may name the fixture's objects, see scenarioApp.expand
	Form   url.Values
	// MakeForm makes the form from the fresh app (times from its clock).
	MakeForm func(a A) url.Values
	// Body is a JSON body (see request.Body), ContentType its type.
	Body        any
	ContentType string
	HTMX        bool
	// Session sends admin's session. CSRF is where the session's token
	// goes: "" or "header" (X-CSRF-Token), "field" (_csrf), "none", or
	// "other" (another session's token, header).
	Session bool
	CSRF    string
	// Token sends a bearer token of admin's.
	Token   bool
	Headers map[string]string
	// Options change the Config of the fresh app.
	Options []func(*Config)
	// Setup runs on the fresh app before the request (create users …).
	Setup func(t *testing.T, a A)

	WantStatus int
	// WantHeaders are exact header values; "" means the header is absent.
	WantHeaders map[string]string
	// Want and NotWant are substrings of the body; like URL, they may
	// name the fixture's objects.
	Want    []string
	NotWant []string
	// WantFields are the members a problem answer's errors must have.
	WantFields []string
	// Unchanged checks that users, sessions, tokens and passkeys are as
	// before (testApp.Snapshot); Changed that they are not.
	Unchanged bool
	Changed   bool
	After     func(t *testing.T, a A, r *response)
}

// run runs the scenario as a parallel subtest on an app from build.
func (s scenario[A]) run(t *testing.T, build func(testing.TB, ...func(*Config)) A) {
	t.Run(s.Name, func(t *testing.T) {
		t.Parallel()
		a := build(t, s.Options...)
		ta := a.app()
		if s.Setup != nil {
			s.Setup(t, a)
		}
		req := request{Method: s.Method, URL: a.expand(s.URL), Form: s.Form, Body: s.Body, ContentType: s.ContentType,
			HTMX: s.HTMX, Headers: s.Headers}
		if s.MakeForm != nil {
			req.Form = s.MakeForm(a)
		}
		if s.Token {
			req.Token = a.adminToken(t)
		}
		if s.Session {
			req.Session = a.adminSession(t)
			switch s.CSRF {
			case "", "header":
				req.CSRF = true
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
		expand := func(list []string) []string {
			out := make([]string, len(list))
			for i, w := range list {
				out[i] = a.expand(w)
			}
			return out
		}
		checkResponse(t, r, s.WantStatus, expand(s.Want), expand(s.NotWant), s.WantHeaders)
		for _, field := range s.WantFields {
			if r.Field(field) == "" {
				t.Errorf("the problem has no message for %q: %s", field, r.Body)
			}
		}
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
			s.After(t, a, r)
		}
	})
}

// runScenarios runs every scenario of a table, each on a fresh app from
// build (newTestApp, newFixture).
func runScenarios[A scenarioApp](t *testing.T, build func(testing.TB, ...func(*Config)) A, list []scenario[A]) {
	t.Helper()
	for _, s := range list {
		s.run(t, build)
	}
}

// checkResponse checks the status, wanted and unwanted substrings and
// headers of an answer.
func checkResponse(t testing.TB, r *response, status int, want, notWant []string, headers map[string]string) {
	t.Helper()
	if status != 0 && r.Status != status {
		t.Errorf("status = %d, want %d; body:\n%s", r.Status, status, trimBody(r.Body))
	}
	for _, w := range want {
		if !strings.Contains(r.Body, w) {
			t.Errorf("body lacks %q; body:\n%s", w, trimBody(r.Body))
		}
	}
	for _, w := range notWant {
		if strings.Contains(r.Body, w) {
			t.Errorf("body has %q; body:\n%s", w, trimBody(r.Body))
		}
	}
	for k, v := range headers {
		got := r.Header.Get(k)
		if k == "HX-Trigger" {
			// Compare the events, in either form htmx reads; the toast
			// after a save or a delete is TestToasts' to check.
			got, v = hxTriggerEvents(t, got), hxTriggerEvents(t, v)
		}
		if got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
}

// hxTriggerEvents returns the events of an HX-Trigger value, a list
// ("a, b") or JSON ({"a": …}), sorted and comma-separated, without the
// toast.
func hxTriggerEvents(t testing.TB, v string) string {
	t.Helper()
	var names []string
	if strings.HasPrefix(v, "{") {
		var m map[string]any
		if err := json.Unmarshal([]byte(v), &m); err != nil {
			t.Fatalf("HX-Trigger %q is not JSON: %v", v, err)
		}
		for k := range m {
			names = append(names, k)
		}
	} else {
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	names = slices.DeleteFunc(names, func(n string) bool { return n == toastEvent })
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// wantAnswer checks a status and that the body contains each of want.
func wantAnswer(t testing.TB, r *response, status int, want ...string) {
	t.Helper()
	checkResponse(t, r, status, want, nil, nil)
}

// trimBody shortens a body for a failure message.
func trimBody(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "…"
	}
	return s
}

var csrfFieldRe = regexp.MustCompile(`name="_csrf" value="([0-9a-f]+)"`)

// csrfFromPage returns the CSRF token a page carries in its hidden _csrf
// fields, or "".
func csrfFromPage(body string) string {
	m := csrfFieldRe.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

// serveApp serves the app on a real listener at 127.0.0.1, bound as the
// panel binds it (handlers/server, plain HTTP), and returns its base URL
// (http://127.0.0.1:PORT). The server stops when the test ends.
func serveApp(t testing.TB, ta *testApp) string {
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

// clientFrom returns an HTTP client whose connections come from the
// loopback address src (any 127.x.y.z works on Linux: all of 127.0.0.0/8
// is on lo), so one test can play many client addresses. It keeps cookies
// in a jar and does not follow redirects.
func clientFrom(t testing.TB, src string) *http.Client {
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

// postForm posts a form with optional extra headers through a real client.
func postForm(t testing.TB, c *http.Client, target string, form url.Values, headers map[string]string) *response {
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
	return readResponse(t, resp)
}

// postLogin posts the login form and checks the status (and, for 429,
// Retry-After).
func postLogin(t *testing.T, c *http.Client, base, username, password string, wantStatus int, wantRetry string) *response {
	t.Helper()
	r := postForm(t, c, base+"/login", loginForm(username, password), nil)
	if r.Status != wantStatus {
		t.Fatalf("login %q/%q: status %d, want %d; body %s", username, password, r.Status, wantStatus, trimBody(r.Body))
	}
	if got := r.Header.Get("Retry-After"); got != wantRetry {
		t.Fatalf("login %q: Retry-After %q, want %q", username, got, wantRetry)
	}
	if c := r.Cookie(sessionCookie); (c != nil && c.Value != "") != (wantStatus == http.StatusSeeOther) {
		t.Fatalf("login %q: status %d with session cookie %v", username, r.Status, c)
	}
	return r
}

// loginForm is the login form's body.
func loginForm(username, password string) url.Values {
	return url.Values{"username": {username}, "password": {password}}
}
