package handlers

import (
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// sessWithUA starts a session for u with a User-Agent, directly in the
// store.
func sessWithUA(t *testing.T, ta *testApp, u model.User, ip, ua string) *userSession {
	t.Helper()
	token, sess, err := ta.Store.CreateSession(u.ID, ip, ua, model.ActorFor(u, ip), "password")
	if err != nil {
		t.Fatal(err)
	}
	return &userSession{Token: token, ID: sess.ID, CSRF: ta.H.csrfToken(sess.ID), User: u}
}

const (
	uaFirefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaSafariIOS    = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

// The Sessions dialog: reachable from the user's row, lists browser and
// OS, address and times, marks this session, ends one session or all
// others with htmx and the CSRF token.
func TestSessionsDialog(t *testing.T) {
	ta := newTestApp(t)
	bob := testkit.AddUser(t, ta.Store, "bob")
	me := sessWithUA(t, ta, ta.Admin, "192.0.2.1", uaFirefoxLinux)
	phone := sessWithUA(t, ta, ta.Admin, "198.51.100.4", uaSafariIOS)
	laptop := sessWithUA(t, ta, ta.Admin, "198.51.100.5", "evil\u202eagent<script>")
	bobs := sessWithUA(t, ta, bob, "203.0.113.8", uaFirefoxLinux)
	pid := func(s *userSession) string { return ta.Store.SessionPublicID(s.ID) }
	base := "/settings/users/1/sessions"

	r := ta.Do(t, request{Method: "GET", URL: "/settings/users", Session: me})
	checkResponse(t, r, 200, []string{`hx-get="/settings/users/1/sessions"`, `data-testid="sessions"`}, nil, nil)

	r = ta.Do(t, request{Method: "GET", URL: base, Session: me, HTMX: true})
	checkResponse(t, r, 200, []string{
		`id="sessions"`, "Firefox on Linux", "Safari on iOS", "198.51.100.4", "this session", "Log Out Everywhere Else",
		`id="session-` + pid(phone) + `"`, `action="` + base + "/" + pid(phone) + `/delete"`, `name="_csrf" value="` + me.CSRF + `"`,
	}, []string{me.Token, me.ID, phone.Token, phone.ID, "<script>", "\u202e", "<html"}, map[string]string{"Cache-Control": "no-store"})
	if strings.Contains(r.Body, `action="`+base+"/"+pid(me)+`/delete"`) {
		t.Error("this session has an End button")
	}
	full := ta.Do(t, request{Method: "GET", URL: base, Session: me})
	checkResponse(t, full, 200, []string{"<html", `id="sessions"`}, nil, nil)

	// Refused without the CSRF token: nothing ends.
	r = ta.Do(t, request{Method: "POST", URL: base + "/" + pid(phone) + "/delete", Session: me, HTMX: true})
	checkResponse(t, r, 403, nil, nil, nil)
	if !ta.SessionAlive(t, phone) {
		t.Fatal("a request without CSRF token ended a session")
	}

	r = ta.Do(t, request{Method: "POST", URL: base + "/" + pid(phone) + "/delete", Session: me, HTMX: true, CSRFHeader: me.CSRF})
	checkResponse(t, r, 200, []string{"Session ended.", `id="sessions"`}, []string{`id="session-` + pid(phone) + `"`}, nil)
	if ta.SessionAlive(t, phone) || !ta.SessionAlive(t, me) {
		t.Fatal("End Session did not end exactly that session")
	}
	r = ta.Do(t, request{Method: "POST", URL: base + "/" + pid(phone) + "/delete", Session: me, HTMX: true, CSRFHeader: me.CSRF})
	checkResponse(t, r, 404, []string{"This session has already ended."}, nil, nil)

	// Log out everywhere else, as a plain form: 303 back to the dialog.
	r = ta.Do(t, request{Method: "POST", URL: base + "/delete", Session: me, Form: url.Values{"_csrf": {me.CSRF}}})
	checkResponse(t, r, 303, nil, nil, map[string]string{"Location": base})
	if ta.SessionAlive(t, laptop) || !ta.SessionAlive(t, me) || !ta.SessionAlive(t, bobs) {
		t.Fatal("Log out everywhere else ended the wrong sessions")
	}
	r = ta.Do(t, request{Method: "GET", URL: base, Session: me, HTMX: true})
	checkResponse(t, r, 200, []string{"this session"}, []string{"Log Out Everywhere Else", "End Session"}, nil)

	// Another user's dialog: End all sessions.
	r = ta.Do(t, request{Method: "GET", URL: "/settings/users/2/sessions", Session: me, HTMX: true})
	checkResponse(t, r, 200, []string{"Sessions of bob", "End All Sessions", "203.0.113.8"}, []string{`data-testid="session-current"`}, nil)
	r = ta.Do(t, request{Method: "POST", URL: "/settings/users/2/sessions/delete", Session: me, HTMX: true, CSRFHeader: me.CSRF})
	checkResponse(t, r, 200, []string{"1 session ended.", "No sessions."}, nil, nil)
	if ta.SessionAlive(t, bobs) {
		t.Fatal("bob's session survived End all sessions")
	}

	// Ending this very session is a logout.
	r = ta.Do(t, request{Method: "POST", URL: base + "/" + pid(me) + "/delete", Session: me, HTMX: true, CSRFHeader: me.CSRF})
	checkResponse(t, r, 204, nil, nil, map[string]string{"HX-Redirect": "/login"})
	if ta.SessionAlive(t, me) {
		t.Fatal("the ended own session still works")
	}
	if ev := ta.AuditEvents(t, model.EventSessionEnded); len(ev) != 2 {
		t.Errorf("%d %s events, want 2", len(ev), model.EventSessionEnded)
	}
}
