package handlers

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// thStateChangingRoutes are every state-changing route of a cookie
// session, with a form that would change something, for a testApp that has
// bob (ID 2). Without JavaScript each answers 303 on success.
var thStateChangingRoutes = []struct {
	Method, Path string
	Form         url.Values
}{
	{"POST", "/logout", nil},
	{"POST", "/settings/users", url.Values{"username": {"carol"}, "password": {"carol-pass-1"}, "email": {"carol@example.com"}}},
	{"PUT", "/settings/users/2", url.Values{"username": {"bobby"}}},
	{"POST", "/settings/users/2", url.Values{"email": {"robert@example.org"}}},
	{"PUT", "/settings/users/2/password", url.Values{"password": {"new-pass-12"}}},
	{"POST", "/settings/users/2/password", url.Values{"password": {"new-pass-12"}}},
	{"DELETE", "/settings/users/2", nil},
	{"POST", "/settings/users/2/delete", nil},
}

// TestCSRF sends every state-changing route with and without a valid
// token, and from other sites with a valid token.
func TestCSRF(t *testing.T) {
	refused := []struct {
		name    string
		csrf    string
		headers map[string]string
	}{
		{"no token", "none", nil},
		{"token of another session", "other", nil},
		{"forged token", "none", map[string]string{csrfHeader: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
		{"empty header", "none", map[string]string{csrfHeader: ""}},
		{"foreign Origin with token", "header", map[string]string{"Origin": "https://evil.example"}},
		{"Origin with other scheme", "header", map[string]string{"Origin": "https://localhost:8080"}},
		{"Origin with other port", "header", map[string]string{"Origin": "http://localhost:8081"}},
		{"Origin null", "header", map[string]string{"Origin": "null"}},
		{"Sec-Fetch-Site cross-site with token", "header", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"Sec-Fetch-Site same-site with token", "field", map[string]string{"Sec-Fetch-Site": "same-site"}},
	}
	allowed := []struct {
		name    string
		csrf    string
		headers map[string]string
	}{
		{"token in header", "header", nil},
		{"token in form field", "field", nil},
		{"own Origin", "header", map[string]string{"Origin": thPublicURL}},
		{"same-origin fetch", "field", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": thPublicURL}},
	}
	var list []thScenario
	for _, r := range thStateChangingRoutes {
		for _, v := range refused {
			list = append(list, thScenario{
				Name: r.Method + " " + r.Path + "/" + v.name, Method: r.Method, URL: r.Path, Form: r.Form,
				Session: true, CSRF: v.csrf, Headers: v.headers, Setup: thWithBob,
				WantStatus: 403, Unchanged: true,
			})
		}
		for _, v := range allowed {
			list = append(list, thScenario{
				Name: r.Method + " " + r.Path + "/" + v.name, Method: r.Method, URL: r.Path, Form: r.Form,
				Session: true, CSRF: v.csrf, Headers: v.headers, Setup: thWithBob,
				WantStatus: 303, Changed: true,
			})
		}
	}
	// htmx with the token in the header (from hx-headers) works too, and a
	// refusal is shown in the flash area.
	list = append(list,
		thScenario{Name: "htmx with header token", Method: "PUT", URL: "/settings/users/2", Form: url.Values{"username": {"bobby"}},
			HTMX: true, Session: true, Setup: thWithBob, WantStatus: 200, Want: []string{"bobby"}},
		thScenario{Name: "htmx without token", Method: "PUT", URL: "/settings/users/2", Form: url.Values{"username": {"bobby"}},
			HTMX: true, Session: true, CSRF: "none", Setup: thWithBob, WantStatus: 403, Unchanged: true,
			Want: []string{"The form has expired or came from another site"}, WantHeaders: map[string]string{"HX-Retarget": "#flash"}},
		thScenario{Name: "plain refusal page", Method: "POST", URL: "/settings/users/2/delete",
			Session: true, CSRF: "none", Setup: thWithBob, WantStatus: 403, Unchanged: true,
			Want: []string{"<!doctype html>", "The form has expired or came from another site. Reload the page and try again."}},
		// Safe methods need no token.
		thScenario{Name: "GET needs no token", Method: "GET", URL: "/settings/users", Session: true, CSRF: "none",
			Headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, WantStatus: 200},
	)
	thRunScenarios(t, list)
}

// TestCSRFTokenPerSession: the token is tied to the session: another
// session's differs, and a session's token dies with it.
func TestCSRFTokenPerSession(t *testing.T) {
	ta := newTestApp(t)
	a, b := ta.Session(t, ta.Admin), ta.Session(t, ta.Admin)
	if a.CSRF == b.CSRF || len(a.CSRF) != 64 {
		t.Fatalf("tokens: %q %q", a.CSRF, b.CSRF)
	}
	r := ta.Do(t, thReq{Method: "POST", URL: "/logout", Session: a, CSRFHeader: a.CSRF})
	thCheck(t, r, 303, nil, nil, nil)
	// a's token with a fresh login of the same user is refused.
	c := ta.Login(t, "admin", thAdminPassword)
	r = ta.Do(t, thReq{Method: "POST", URL: "/logout", Session: c, CSRFHeader: a.CSRF})
	thCheck(t, r, 403, nil, nil, nil)
	if !ta.SessionAlive(t, c) {
		t.Errorf("session ended by a stale token")
	}
}

// TestCSRFEveryRoute walks the route table, so that routes added later are
// covered too: every state-changing route refuses a cookie session without
// the CSRF token (403) and a request without a session (401), and changes
// nothing. The login routes come before any session and are left out.
func TestCSRFEveryRoute(t *testing.T) {
	ta := newTestApp(t)
	var list []thScenario
	for _, r := range ta.App.GetRoutes(true) {
		if safeMethod(r.Method) || r.Method == "TRACE" || r.Method == "CONNECT" || strings.HasPrefix(r.Path, "/login") {
			continue
		}
		path := strings.ReplaceAll(r.Path, ":id<int>", "2")
		path = regexp.MustCompile(`:[a-z]+<int>`).ReplaceAllString(path, "1")
		path = regexp.MustCompile(`:[a-z]+`).ReplaceAllString(path, "x")
		want := 403
		if strings.HasPrefix(path, "/api/") {
			want = 0 // the API may answer 401 to a cookie without token
		}
		list = append(list,
			thScenario{Name: r.Method + " " + r.Path + "/no token", Method: r.Method, URL: path,
				Form:    url.Values{"username": {"x1x"}, "email": {"x@example.com"}, "password": {"new-pass-12"}, "code": {"123456"}},
				Session: true, CSRF: "none", Setup: thWithBob, WantStatus: want, Unchanged: true,
				After: func(t *testing.T, ta *testApp, resp *thResponse) {
					if resp.Status != 401 && resp.Status != 403 {
						t.Errorf("status %d, want 401 or 403", resp.Status)
					}
				}},
			thScenario{Name: r.Method + " " + r.Path + "/no session", Method: r.Method, URL: path,
				Setup: thWithBob, WantStatus: 401, Unchanged: true},
		)
	}
	if len(list) < 2*len(thStateChangingRoutes) {
		t.Fatalf("route table has only %d state-changing routes", len(list)/2)
	}
	thRunScenarios(t, list)
}
