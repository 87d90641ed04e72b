package handlers

import (
	"github.com/gatehouse-panel/gatehouse/model/testkit"
	"net/http"
	"testing"
)

// Over HTTPS the session cookie is __Host-gh_session (Secure, Path=/, no
// Domain) and only that name signs in; plain-HTTP localhost keeps
// gh_session.
func TestSessionCookieName(t *testing.T) {
	for _, tc := range []struct {
		name, want, other string
		https             bool
	}{
		{"plain HTTP on localhost", sessionCookie, hostSessionCookie, false},
		{"HTTPS through a trusted proxy", hostSessionCookie, sessionCookie, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := newTestApp(t, trustProxies("0.0.0.0/32"))
			headers := map[string]string{"X-Forwarded-Proto": "http"}
			if tc.https {
				headers["X-Forwarded-Proto"] = "https"
			}
			r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("admin", testkit.AdminPassword), Headers: headers})
			c := r.Cookie(tc.want)
			if r.Status != 303 || c == nil || c.Value == "" {
				t.Fatalf("login: %d, cookies %v; want %s", r.Status, r.Cookies, tc.want)
			}
			if other := r.Cookie(tc.other); other != nil {
				t.Errorf("also set %s", tc.other)
			}
			if c.Path != "/" || c.Domain != "" || c.Secure != tc.https || !c.HttpOnly {
				t.Errorf("cookie %+v: want Path=/, no Domain, HttpOnly, Secure=%v", c, tc.https)
			}
			page := func(name string) int {
				return ta.Do(t, request{Method: "GET", URL: "/settings/users", Headers: headers,
					Cookies: []*http.Cookie{{Name: name, Value: c.Value}}}).Status
			}
			if got := page(tc.want); got != 200 {
				t.Errorf("GET with %s: %d, want 200", tc.want, got)
			}
			if got := page(tc.other); got != 303 {
				t.Errorf("GET with %s: %d, want 303 to the login", tc.other, got)
			}
			// Logging out clears the cookie under the same name.
			s := &userSession{Token: c.Value}
			sess, _, err := ta.Store.SessionByToken(c.Value, ta.H.sessionPolicy())
			if err != nil {
				t.Fatal(err)
			}
			s.ID, s.CSRF = sess.ID, ta.H.csrfToken(sess.ID)
			out := ta.Do(t, request{Method: "POST", URL: "/logout", Headers: headers, CSRFHeader: s.CSRF,
				Cookies: []*http.Cookie{{Name: tc.want, Value: c.Value}}})
			if cl := out.Cookie(tc.want); out.Status != 303 || cl == nil || cl.Value != "" {
				t.Errorf("logout: %d, cookie %+v", out.Status, cl)
			}
		})
	}
}
