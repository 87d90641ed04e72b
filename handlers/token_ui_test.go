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
	sess  *userSession
}

func newTokenUIApp(t testing.TB, opts ...func(*Config)) *tokenUIApp {
	t.Helper()
	ta := newAPIApp(t, append([]func(*Config){trustTestPeer}, opts...)...)
	a := &tokenUIApp{testApp: ta, bob: testkit.AddUser(t, ta.Store, "bob"), sess: ta.Session(t, ta.Admin)}
	var err error
	a.value, a.tok, err = ta.Store.CreateToken(a.bob.ID, model.NewToken{IPs: []string{"192.0.2.0/24"},
		ExpiresAt: ta.Clock.Now().AddDate(0, 0, 30).Add(17 * time.Second)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// expand fills in bob's id ({bob}) and his token's ({tid}).
func (a *tokenUIApp) expand(url string) string {
	return strings.NewReplacer("{bob}", fmt.Sprint(a.bob.ID), "{tid}", a.tok.ID).Replace(url)
}

func (a *tokenUIApp) app() *testApp                        { return a.testApp }
func (a *tokenUIApp) adminSession(testing.TB) *userSession { return a.sess }

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
	t.Parallel()
	runScenarios(t, newTokenUIApp, []scenario[*tokenUIApp]{
		{Name: "user row has the button", Method: "GET", URL: "/settings/users", Session: true, Unchanged: true, WantStatus: 200,
			Want: []string{`hx-get="/settings/users/2/tokens"`, ">Access Tokens</a>"}},
		{Name: "dialog page without JavaScript", Method: "GET", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, WantStatus: 200,
			Want: []string{"<!doctype html>", "Access Tokens of bob", "<th>ID</th>", "<th>Creation Time</th>", "<th>Expiration Time</th>",
				"IP White List", "Never", "{tid}", "<code>192.0.2.0/24</code>", ">Modify</a>", `name="ips"`, `name="expires_at"`,
				`type="datetime-local"`, `name="tz_offset"`, "30 days", "90 days", "1 year", `hx-history="false"`,
				`action="/settings/users/{bob}/tokens"`, `name="_csrf"`, `hx-confirm="Delete token {tid}?`},
			After: func(t *testing.T, a *tokenUIApp, r *response) {
				if r.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
				}
			}},
		{Name: "dialog fragment", Method: "GET", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true, WantStatus: 200,
			Want: []string{`<div id="tokens"`, `hx-post="/settings/users/{bob}/tokens"`, `data-tz-local`}, NotWant: []string{"<!doctype html>"}},
		{Name: "unknown user", Method: "GET", URL: "/settings/users/999/tokens", Session: true, Unchanged: true, WantStatus: 404},
		{Name: "no session", Method: "GET", URL: "/settings/users/{bob}/tokens", Unchanged: true, WantStatus: 303},
		{Name: "last use shown", Method: "GET", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true, WantStatus: 200,
			Setup: func(t *testing.T, a *tokenUIApp) {
				wantAnswer(t, a.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: a.value, ClientIP: "192.0.2.77"}), 200)
			},
			Want: []string{"from <code>192.0.2.77</code>"}, NotWant: []string{">Never<"}},
		{Name: "expired token marked", Method: "GET", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true, WantStatus: 200,
			Setup: func(t *testing.T, a *tokenUIApp) {
				if _, _, err := a.Store.CreateToken(a.bob.ID, model.NewToken{ExpiresAt: a.Clock.Now().Add(time.Minute)}, model.CLIActor); err != nil {
					t.Fatal(err)
				}
				a.Clock.Advance(2 * time.Minute)
			},
			Want: []string{`class="expired"`, ">expired</span>"}},

		{Name: "create", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, HTMX: true,
			Form:       url.Values{"ips": {"203.0.113.0/24\r\n2001:db8::/32\r\n"}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"-60"}},
			WantStatus: 201, Changed: true,
			Want: []string{"shown only this once", `data-testid="token-value"`, `hx-history="false"`, `data-copy="#token-value"`, "created."},
			After: func(t *testing.T, a *tokenUIApp, r *response) {
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
				list := a.Do(t, request{Method: "GET", URL: a.expand("/settings/users/{bob}/tokens"), Session: a.sess, HTMX: true})
				if strings.Contains(list.Body, m[1]) {
					t.Error("the value is shown again")
				}
				if ev := a.AuditEvents(t, model.EventTokenCreated); ev[len(ev)-1].Actor != "admin" {
					t.Errorf("created by %q", ev[len(ev)-1].Actor)
				}
			}},
		{Name: "create without JavaScript", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true,
			Form: url.Values{"ips": {""}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"0"}}, WantStatus: 201, Changed: true,
			Want: []string{"<!doctype html>", "shown only this once"},
			After: func(t *testing.T, a *tokenUIApp, r *response) {
				for _, tok := range a.tokens(t) {
					if tok.ID != a.tok.ID && (!tok.ExpiresAt.Equal(time.Date(2031, 2, 3, 4, 5, 0, 0, time.UTC)) || len(tok.IPs) != 0) {
						t.Errorf("stored %v %v (the form's Time zone is UTC without JavaScript)", tok.ExpiresAt, tok.IPs)
					}
				}
			}},
		{Name: "create: malformed IP", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true,
			Form:       url.Values{"ips": {"203.0.113.0/24\nnot-an-ip"}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"0"}},
			WantStatus: 422, Want: []string{`data-field="ips">&#34;not-an-ip&#34; is not an IPv4 or IPv6 address or CIDR range`, `aria-invalid="true"`, "203.0.113.0/24\nnot-an-ip</textarea>", `value="2031-02-03T04:05"`},
			NotWant: []string{"token-value"}},
		{Name: "create: /33", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true,
			Form: url.Values{"ips": {"10.0.0.0/33"}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"0"}}, WantStatus: 422, Want: []string{`data-field="ips"`, "prefix length is 0 to 32"}},
		{Name: "create: host bits", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true,
			Form: url.Values{"ips": {"10.0.0.1/8"}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"0"}}, WantStatus: 422, Want: []string{"did you mean 10.0.0.0/8?"}},
		{Name: "create: past date", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true,
			Form: url.Values{"expires_at": {"2001-02-03T04:05"}, "tz_offset": {"0"}}, WantStatus: 422, Want: []string{`data-field="expires_at">expiration time must be in the future`}},
		{Name: "create: 10 years and a day", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true,
			MakeForm: func(a *tokenUIApp) url.Values {
				return url.Values{"expires_at": {a.Clock.Now().UTC().AddDate(10, 0, 1).Format(localLayout)}, "tz_offset": {"0"}}
			},
			WantStatus: 422, Want: []string{"at most 10 years"}},
		{Name: "create: 10 years", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, HTMX: true, Changed: true,
			MakeForm: func(a *tokenUIApp) url.Values {
				return url.Values{"expires_at": {a.Clock.Now().UTC().AddDate(10, 0, 0).Format(localLayout)}, "tz_offset": {"0"}}
			},
			WantStatus: 201, Want: []string{"shown only this once"}},
		{Name: "create: now", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true,
			MakeForm: func(a *tokenUIApp) url.Values {
				return url.Values{"expires_at": {a.Clock.Now().UTC().Format(localLayout)}, "tz_offset": {"0"}}
			},
			WantStatus: 422, Want: []string{"in the future"}},
		{Name: "create: no date", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true,
			Form: url.Values{"ips": {"nope"}, "expires_at": {""}}, WantStatus: 422, Want: []string{`data-field="expires_at"`, `data-field="ips"`}},
		{Name: "create: bad time zone", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true,
			Form: url.Values{"expires_at": {"2031-02-03T04:05"}, "tz_offset": {"1e9"}}, WantStatus: 422, Want: []string{"time zone"}},
		{Name: "create without CSRF", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, Unchanged: true, HTMX: true, CSRF: "none",
			Form: url.Values{"expires_at": {"2031-02-03T04:05"}}, WantStatus: 403},
		{Name: "create without session", Method: "POST", URL: "/settings/users/{bob}/tokens", Unchanged: true, HTMX: true,
			Form: url.Values{"expires_at": {"2031-02-03T04:05"}}, WantStatus: 401},

		{Name: "modify form", Method: "GET", URL: "/settings/users/{bob}/tokens/{tid}/edit", Session: true, Unchanged: true, HTMX: true, WantStatus: 200,
			Want: []string{"Modify token <code>{tid}</code>", `hx-put="/settings/users/{bob}/tokens/{tid}"`, ">192.0.2.0/24</textarea>", `data-utc="`, `<option value="0" selected>UTC</option>`, ">Cancel</a>"}},
		{Name: "modify form: unknown token", Method: "GET", URL: "/settings/users/{bob}/tokens/nonexistent1/edit", Session: true, Unchanged: true, HTMX: true, WantStatus: 404},
		{Name: "modify white list keeps expiry", Method: "PUT", URL: "/settings/users/{bob}/tokens/{tid}", Session: true, HTMX: true, Changed: true,
			MakeForm: func(a *tokenUIApp) url.Values {
				// What the form shows: whole minutes, in the browser's zone.
				shown := a.tok.ExpiresAt.In(time.FixedZone("CEST", 2*3600)).Format(localLayout)
				return url.Values{"ips": {"198.51.100.0/24"}, "expires_at": {shown}, "tz_offset": {"-120"}}
			},
			WantStatus: 200, Want: []string{"modified."},
			After: func(t *testing.T, a *tokenUIApp, r *response) {
				got := a.tokens(t)[0]
				if strings.Join(got.IPs, ",") != "198.51.100.0/24" || !got.ExpiresAt.Equal(a.tok.ExpiresAt) {
					t.Errorf("stored %v %v, want the old expiry %v", got.IPs, got.ExpiresAt, a.tok.ExpiresAt)
				}
				// The token is now refused from its old range.
				wantAnswer(t, a.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: a.value, ClientIP: "192.0.2.1"}), 403)
				if ev := a.AuditEvents(t, model.EventTokenModified); len(ev) != 1 || !strings.Contains(ev[0].Detail, "192.0.2.0/24 → 198.51.100.0/24") || strings.Contains(ev[0].Detail, "expires") {
					t.Errorf("modified events %+v", ev)
				}
			}},
		{Name: "modify expiry", Method: "POST", URL: "/settings/users/{bob}/tokens/{tid}", Session: true, Changed: true,
			Form: url.Values{"ips": {"192.0.2.0/24"}, "expires_at": {"2030-06-01T12:00"}, "tz_offset": {"-120"}}, WantStatus: 200,
			After: func(t *testing.T, a *tokenUIApp, r *response) {
				if got := a.tokens(t)[0]; !got.ExpiresAt.Equal(time.Date(2030, 6, 1, 10, 0, 0, 0, time.UTC)) {
					t.Errorf("stored expiry %v", got.ExpiresAt)
				}
			}},
		{Name: "modify: invalid saves nothing", Method: "PUT", URL: "/settings/users/{bob}/tokens/{tid}", Session: true, Unchanged: true, HTMX: true,
			Form: url.Values{"ips": {"fe80::1%eth0"}, "expires_at": {"2001-01-01T00:00"}, "tz_offset": {"0"}}, WantStatus: 422,
			Want: []string{`data-field="ips"`, "zones", `data-field="expires_at"`, `hx-put="/settings/users/{bob}/tokens/{tid}"`}},
		{Name: "modify: unreadable date saves nothing", Method: "PUT", URL: "/settings/users/{bob}/tokens/{tid}", Session: true, Unchanged: true, HTMX: true,
			Form: url.Values{"ips": {""}, "expires_at": {"tomorrow"}, "tz_offset": {"0"}}, WantStatus: 422, Want: []string{`data-field="expires_at"`}},
		{Name: "modify without CSRF", Method: "PUT", URL: "/settings/users/{bob}/tokens/{tid}", Session: true, Unchanged: true, HTMX: true, CSRF: "none",
			Form: url.Values{"ips": {""}}, WantStatus: 403},

		{Name: "delete", Method: "DELETE", URL: "/settings/users/{bob}/tokens/{tid}", Session: true, HTMX: true, Changed: true, WantStatus: 200,
			Want: []string{"Token {tid} deleted.", "No access tokens yet — create one below to call the API as bob."},
			After: func(t *testing.T, a *tokenUIApp, r *response) {
				wantAnswer(t, a.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: a.value, ClientIP: "192.0.2.1"}), 401)
			}},
		{Name: "delete without JavaScript", Method: "POST", URL: "/settings/users/{bob}/tokens/{tid}/delete", Session: true, Changed: true, WantStatus: 200,
			Want: []string{"<!doctype html>", "deleted."}},
		{Name: "delete: unknown", Method: "DELETE", URL: "/settings/users/{bob}/tokens/nonexistent1", Session: true, Unchanged: true, HTMX: true, WantStatus: 404},
		{Name: "delete: through another user", Method: "DELETE", URL: "/settings/users/1/tokens/{tid}", Session: true, Unchanged: true, HTMX: true, WantStatus: 404},
		{Name: "delete without CSRF", Method: "DELETE", URL: "/settings/users/{bob}/tokens/{tid}", Session: true, Unchanged: true, HTMX: true, CSRF: "none", WantStatus: 403},
	})
}
