package handlers

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// tokenUIApp is an app with bob and one token of his, white-listed to
// 192.0.2.0/24, expiring in 30 days.
type tokenUIApp struct {
	*testApp
	bob   model.User
	tok   model.Token
	value string
	sess  *thSession
}

func newTokenUIApp(t *testing.T) *tokenUIApp {
	t.Helper()
	ta := apiNewApp(t, apiTrustTestPeer)
	a := &tokenUIApp{testApp: ta, bob: testkit.AddUser(t, ta.Store, "bob"), sess: ta.Session(t, ta.Admin)}
	var err error
	a.value, a.tok, err = ta.Store.CreateToken(a.bob.ID, model.NewToken{IPs: []string{"192.0.2.0/24"},
		ExpiresAt: ta.Clock.Now().AddDate(0, 0, 30).Add(17 * time.Second)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *tokenUIApp) path(format string) string {
	s := strings.ReplaceAll(format, "{bob}", fmt.Sprint(a.bob.ID))
	return strings.ReplaceAll(s, "{tid}", a.tok.ID)
}

func (a *tokenUIApp) tokens(t *testing.T) []model.Token {
	t.Helper()
	list, err := a.Store.Tokens(a.bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

var tokenValueInPage = regexp.MustCompile(`id="token-value" value="(gth_[0-9A-Za-z]+)"`)

// TestTokenDialog drives the Access Tokens dialog through the routes the
// browser uses: the list, create (with the value shown once), Modify and
// delete, with messages next to the fields for bad input.
func TestTokenDialog(t *testing.T) {
	type tc struct {
		name   string
		method string
		path   string
		form   url.Values
		// formFn, when set, makes the form from the app (times from its clock).
		formFn  func(a *tokenUIApp) url.Values
		htmx    bool
		noCSRF  bool
		noLogin bool
		setup   func(t *testing.T, a *tokenUIApp)
		status  int
		want    []string
		notWant []string
		// saved says whether the state (tokens) must change.
		saved bool
		check func(t *testing.T, a *tokenUIApp, r *thResponse)
	}
	cases := []tc{
		{name: "user row has the button", method: "GET", path: "/settings/users", status: 200,
			want: []string{`hx-get="/settings/users/2/tokens"`, ">Access Tokens</a>"}},
		{name: "dialog page without JavaScript", method: "GET", path: "/settings/users/{bob}/tokens", status: 200,
			want: []string{"<!doctype html>", "Access Tokens of bob", "<th>ID</th>", "<th>Creation Time</th>", "<th>Expiration Time</th>",
				"IP White List", "Never", "{tid}", "<code>192.0.2.0/24</code>", ">Modify</a>", `name="ips"`, `name="expires_at"`,
				`type="datetime-local"`, `name="tz_offset"`, "30 days", "90 days", "1 year", `hx-history="false"`,
				`action="/settings/users/{bob}/tokens"`, `name="_csrf"`, `hx-confirm="Delete token {tid}?`},
			check: func(t *testing.T, a *tokenUIApp, r *thResponse) {
				if r.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
				}
			}},
		{name: "dialog fragment", method: "GET", path: "/settings/users/{bob}/tokens", htmx: true, status: 200,
			want: []string{`<div id="tokens"`, `hx-post="/settings/users/{bob}/tokens"`, `data-tz-local`}, notWant: []string{"<!doctype html>"}},
		{name: "unknown user", method: "GET", path: "/settings/users/999/tokens", status: 404},
		{name: "no session", method: "GET", path: "/settings/users/{bob}/tokens", noLogin: true, status: 303},
		{name: "last use shown", method: "GET", path: "/settings/users/{bob}/tokens", htmx: true, status: 200,
			setup: func(t *testing.T, a *tokenUIApp) {
				apiWant(t, a.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: a.value, ClientIP: "192.0.2.77"}), 200)
			},
			want: []string{"from <code>192.0.2.77</code>"}, notWant: []string{">Never<"}},
		{name: "expired token marked", method: "GET", path: "/settings/users/{bob}/tokens", htmx: true, status: 200,
			setup: func(t *testing.T, a *tokenUIApp) {
				if _, _, err := a.Store.CreateToken(a.bob.ID, model.NewToken{ExpiresAt: a.Clock.Now().Add(time.Minute)}, model.CLIActor); err != nil {
					t.Fatal(err)
				}
				a.Clock.Advance(2 * time.Minute)
			},
			want: []string{`class="expired"`, ">expired</span>"}},

		{name: "create", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true,
			form:   url.Values{"ips": {"203.0.113.0/24\r\n2001:db8::/32\r\n"}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"-60"}},
			status: 201, saved: true,
			want: []string{"shown only this once", `data-testid="token-value"`, `hx-history="false"`, `data-copy="#token-value"`, "created."},
			check: func(t *testing.T, a *tokenUIApp, r *thResponse) {
				m := tokenValueInPage.FindStringSubmatch(r.Body)
				if m == nil {
					t.Fatal("no token value in the page")
				}
				tok, u, err := a.Store.TokenByValue(m[1])
				if err != nil || u.ID != a.bob.ID {
					t.Fatalf("the shown value does not work: %v", err)
				}
				if !tok.ExpiresAt.Equal(time.Date(2031, 2, 3, 3, 5, 0, 0, time.UTC)) || strings.Join(tok.IPs, " ") != "203.0.113.0/24 2001:db8::/32" {
					t.Errorf("stored %v %v", tok.ExpiresAt, tok.IPs)
				}
				if r.Header.Get("Cache-Control") != "no-store" {
					t.Error("the page with the value may be cached")
				}
				// Shown once: the list afterwards does not carry it.
				list := a.Do(t, thReq{Method: "GET", URL: a.path("/settings/users/{bob}/tokens"), Session: a.sess, HTMX: true})
				if strings.Contains(list.Body, m[1]) {
					t.Error("the value is shown again")
				}
				if ev := a.AuditEvents(t, model.EventTokenCreated); ev[len(ev)-1].Actor != "admin" {
					t.Errorf("created by %q", ev[len(ev)-1].Actor)
				}
			}},
		{name: "create without JavaScript", method: "POST", path: "/settings/users/{bob}/tokens",
			form: url.Values{"ips": {""}, "expires_at": {"2031-02-03T04:05"}}, status: 201, saved: true,
			want: []string{"<!doctype html>", "shown only this once"},
			check: func(t *testing.T, a *tokenUIApp, r *thResponse) {
				for _, tok := range a.tokens(t) {
					if tok.ID != a.tok.ID && (!tok.ExpiresAt.Equal(time.Date(2031, 2, 3, 4, 5, 0, 0, time.UTC)) || len(tok.IPs) != 0) {
						t.Errorf("stored %v %v (the form is UTC without a time zone)", tok.ExpiresAt, tok.IPs)
					}
				}
			}},
		{name: "create: malformed IP", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true,
			form:   url.Values{"ips": {"203.0.113.0/24\nnot-an-ip"}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"0"}},
			status: 422, want: []string{`data-field="ips">&#34;not-an-ip&#34; is not an IPv4 or IPv6 address or CIDR range`, `aria-invalid="true"`, "203.0.113.0/24\nnot-an-ip</textarea>", `value="2031-02-03T04:05"`},
			notWant: []string{"token-value"}},
		{name: "create: /33", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true,
			form: url.Values{"ips": {"10.0.0.0/33"}, "expires_at": {"2031-02-03T04:05"}}, status: 422, want: []string{`data-field="ips"`, "prefix length is 0 to 32"}},
		{name: "create: host bits", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true,
			form: url.Values{"ips": {"10.0.0.1/8"}, "expires_at": {"2031-02-03T04:05"}}, status: 422, want: []string{"did you mean 10.0.0.0/8?"}},
		{name: "create: past date", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true,
			form: url.Values{"expires_at": {"2001-02-03T04:05"}, "tz_offset": {"0"}}, status: 422, want: []string{`data-field="expires_at">expiration time must be in the future`}},
		{name: "create: 10 years and a day", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true,
			formFn: func(a *tokenUIApp) url.Values {
				return url.Values{"expires_at": {a.Clock.Now().UTC().AddDate(10, 0, 1).Format(localLayout)}, "tz_offset": {"0"}}
			},
			status: 422, want: []string{"at most 10 years"}},
		{name: "create: 10 years", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true, saved: true,
			formFn: func(a *tokenUIApp) url.Values {
				return url.Values{"expires_at": {a.Clock.Now().UTC().AddDate(10, 0, 0).Format(localLayout)}, "tz_offset": {"0"}}
			},
			status: 201, want: []string{"shown only this once"}},
		{name: "create: now", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true,
			formFn: func(a *tokenUIApp) url.Values {
				return url.Values{"expires_at": {a.Clock.Now().UTC().Format(localLayout)}, "tz_offset": {"0"}}
			},
			status: 422, want: []string{"in the future"}},
		{name: "create: no date", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true,
			form: url.Values{"ips": {"nope"}, "expires_at": {""}}, status: 422, want: []string{`data-field="expires_at"`, `data-field="ips"`}},
		{name: "create: bad time zone", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true,
			form: url.Values{"expires_at": {"2031-02-03T04:05"}, "tz_offset": {"1e9"}}, status: 422, want: []string{"time zone"}},
		{name: "create without CSRF", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true, noCSRF: true,
			form: url.Values{"expires_at": {"2031-02-03T04:05"}}, status: 403},
		{name: "create without session", method: "POST", path: "/settings/users/{bob}/tokens", htmx: true, noLogin: true,
			form: url.Values{"expires_at": {"2031-02-03T04:05"}}, status: 401},

		{name: "modify form", method: "GET", path: "/settings/users/{bob}/tokens/{tid}/edit", htmx: true, status: 200,
			want: []string{"Modify token <code>{tid}</code>", `hx-put="/settings/users/{bob}/tokens/{tid}"`, ">192.0.2.0/24</textarea>", `data-utc="`, `name="tz_offset" value="0"`, ">Cancel</a>"}},
		{name: "modify form: unknown token", method: "GET", path: "/settings/users/{bob}/tokens/nonexistent1/edit", htmx: true, status: 404},
		{name: "modify white list keeps expiry", method: "PUT", path: "/settings/users/{bob}/tokens/{tid}", htmx: true, saved: true,
			formFn: func(a *tokenUIApp) url.Values {
				// What the form shows: whole minutes, in the browser's zone.
				shown := a.tok.ExpiresAt.In(time.FixedZone("CEST", 2*3600)).Format(localLayout)
				return url.Values{"ips": {"198.51.100.0/24"}, "expires_at": {shown}, "tz_offset": {"-120"}}
			},
			status: 200, want: []string{"modified."},
			check: func(t *testing.T, a *tokenUIApp, r *thResponse) {
				got := a.tokens(t)[0]
				if strings.Join(got.IPs, ",") != "198.51.100.0/24" || !got.ExpiresAt.Equal(a.tok.ExpiresAt) {
					t.Errorf("stored %v %v, want the old expiry %v", got.IPs, got.ExpiresAt, a.tok.ExpiresAt)
				}
				// The token is now refused from its old range.
				apiWant(t, a.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: a.value, ClientIP: "192.0.2.1"}), 403)
				if ev := a.AuditEvents(t, model.EventTokenModified); len(ev) != 1 || !strings.Contains(ev[0].Detail, "192.0.2.0/24 → 198.51.100.0/24") || strings.Contains(ev[0].Detail, "expires") {
					t.Errorf("modified events %+v", ev)
				}
			}},
		{name: "modify expiry", method: "POST", path: "/settings/users/{bob}/tokens/{tid}", saved: true,
			form: url.Values{"ips": {"192.0.2.0/24"}, "expires_at": {"2030-06-01T12:00"}, "tz_offset": {"-120"}}, status: 200,
			check: func(t *testing.T, a *tokenUIApp, r *thResponse) {
				if got := a.tokens(t)[0]; !got.ExpiresAt.Equal(time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC)) {
					t.Errorf("stored expiry %v", got.ExpiresAt)
				}
			}},
		{name: "modify: invalid saves nothing", method: "PUT", path: "/settings/users/{bob}/tokens/{tid}", htmx: true,
			form: url.Values{"ips": {"fe80::1%eth0"}, "expires_at": {"2001-01-01T00:00"}}, status: 422,
			want: []string{`data-field="ips"`, "zones", `data-field="expires_at"`, `hx-put="/settings/users/{bob}/tokens/{tid}"`}},
		{name: "modify: unreadable date saves nothing", method: "PUT", path: "/settings/users/{bob}/tokens/{tid}", htmx: true,
			form: url.Values{"ips": {""}, "expires_at": {"tomorrow"}}, status: 422, want: []string{`data-field="expires_at"`}},
		{name: "modify without CSRF", method: "PUT", path: "/settings/users/{bob}/tokens/{tid}", htmx: true, noCSRF: true,
			form: url.Values{"ips": {""}}, status: 403},

		{name: "delete", method: "DELETE", path: "/settings/users/{bob}/tokens/{tid}", htmx: true, saved: true, status: 200,
			want: []string{"Token {tid} deleted.", "No access tokens yet."},
			check: func(t *testing.T, a *tokenUIApp, r *thResponse) {
				apiWant(t, a.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: a.value, ClientIP: "192.0.2.1"}), 401)
			}},
		{name: "delete without JavaScript", method: "POST", path: "/settings/users/{bob}/tokens/{tid}/delete", saved: true, status: 200,
			want: []string{"<!doctype html>", "deleted."}},
		{name: "delete: unknown", method: "DELETE", path: "/settings/users/{bob}/tokens/nonexistent1", htmx: true, status: 404},
		{name: "delete: through another user", method: "DELETE", path: "/settings/users/1/tokens/{tid}", htmx: true, status: 404},
		{name: "delete without CSRF", method: "DELETE", path: "/settings/users/{bob}/tokens/{tid}", htmx: true, noCSRF: true, status: 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newTokenUIApp(t)
			if c.setup != nil {
				c.setup(t, a)
			}
			form := c.form
			if c.formFn != nil {
				form = c.formFn(a)
			}
			req := thReq{Method: c.method, URL: a.path(c.path), Form: form, HTMX: c.htmx}
			if !c.noLogin {
				req.Session = a.sess
				if !c.noCSRF {
					req.CSRFHeader = a.sess.CSRF
				}
			}
			before := apiState(t, a.testApp)
			r := a.Do(t, req)
			want := make([]string, len(c.want))
			for i, w := range c.want {
				want[i] = a.path(w)
			}
			thCheck(t, r, c.status, want, c.notWant, nil)
			if changed := apiState(t, a.testApp) != before; changed != c.saved {
				t.Errorf("state changed = %v, want %v", changed, c.saved)
			}
			if c.check != nil {
				c.check(t, a, r)
			}
		})
	}
}
