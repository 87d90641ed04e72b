package handlers

import (
	"fmt"
	"net/url"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// staleSession is a browser session of admin that signed in more than the
// step-up window ago and never re-authenticated since: what someone who
// copied the session cookie holds.
func staleSession(t testing.TB, ta *testApp) *userSession {
	t.Helper()
	s := ta.Session(t, ta.Admin)
	ta.Clock.Advance(DefaultConfig().StepUp + time.Second)
	return s
}

// wantReauthProblem checks that r is the API's step-up refusal: 403
// problem+json whose type ends in /reauth-required.
func wantReauthProblem(t testing.TB, r *response) {
	t.Helper()
	typ, _ := r.JSON["type"].(string)
	if r.Status != 403 || !strings.HasSuffix(typ, "/reauth-required") {
		t.Errorf("want 403 with a type ending in /reauth-required, got %d %q: %s", r.Status, typ, trimBody(r.Body))
	}
}

// wantReauthPrompt checks that r is the panel's step-up refusal of an htmx
// request: the inline re-authentication form, sent to the flash area
// (which app.js moves into the open dialog).
func wantReauthPrompt(t testing.TB, r *response) {
	t.Helper()
	checkResponse(t, r, 403, []string{`id="reauth"`, `hx-post="/settings/reauth"`, `name="password"`}, nil,
		map[string]string{"HX-Retarget": "#flash", "Gatehouse-Reauth": "required"})
}

// TestStolenSession is the attack of finding 1: a session that never
// re-entered a credential (signed in more than --step-up ago) tries every
// way to keep or widen its access. Each is refused until the session
// re-authenticates, after which the same requests pass.
func TestStolenSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ta := f.ta
	testkit.EnableTwoFactor(t, ta.Store, f.bob)
	s := staleSession(t, ta)
	before := ta.Snapshot(t)
	expires := ta.Clock.Now().Add(time.Hour).Format(time.RFC3339)

	// (a) An access token, which would then turn 2FA off with no prompt.
	r := ta.Do(t, request{Method: "POST", URL: "/api/v1/users/1/tokens", Session: s, CSRF: true,
		Body: map[string]any{"ips": []string{}, "expires_at": expires}})
	wantReauthProblem(t, r)
	if tok, _ := r.JSON["token"].(string); tok != "" {
		r = ta.Do(t, request{Method: "DELETE", URL: fmt.Sprintf("/api/v1/users/%d/2fa", f.bob.ID), Token: tok})
		t.Errorf("the stolen session's token turned bob's 2FA off: %d", r.Status)
	}
	wantReauthPrompt(t, ta.Do(t, request{Method: "POST", URL: "/settings/users/1/tokens", Session: s, CSRF: true, HTMX: true,
		Form: url.Values{"ips": {""}, "expires_at": {"2099-01-01T00:00"}, "tz_offset": {"0"}}}))
	// (b) New recovery codes.
	wantReauthPrompt(t, ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/recovery-codes", f.admin.ID),
		Session: s, CSRF: true, HTMX: true}))
	// (c) Its own password, without the current one.
	wantReauthPrompt(t, ta.Do(t, request{Method: "PUT", URL: "/settings/users/1/password", Session: s, CSRF: true, HTMX: true,
		Form: url.Values{"password": {"stolen-pass-1"}}}))
	wantReauthProblem(t, ta.Do(t, request{Method: "PUT", URL: "/api/v1/users/1/password", Session: s, CSRF: true,
		Body: map[string]string{"password": "stolen-pass-1"}}))
	// (d) A passkey of its own.
	wantReauthProblem(t, ta.Do(t, request{Method: "POST", URL: "/settings/users/1/passkeys/options", Session: s, CSRF: true,
		Form: url.Values{"name": {"attacker"}}}))
	// And 2FA off through the API.
	wantReauthProblem(t, ta.Do(t, request{Method: "DELETE", URL: fmt.Sprintf("/api/v1/users/%d/2fa", f.bob.ID), Session: s, CSRF: true}))
	if after := ta.Snapshot(t); after != before {
		t.Fatalf("a stale session changed something:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Re-authenticating opens the window again: the same requests pass.
	r = ta.Do(t, request{Method: "POST", URL: "/api/v1/reauth", Session: s, CSRF: true,
		Body: map[string]string{"password": testkit.AdminPassword}})
	wantAnswer(t, r, 204)
	r = ta.Do(t, request{Method: "POST", URL: "/api/v1/users/1/tokens", Session: s, CSRF: true,
		Body: map[string]any{"ips": []string{}, "expires_at": expires}})
	wantAnswer(t, r, 201)
	wantAnswer(t, ta.Do(t, request{Method: "DELETE", URL: fmt.Sprintf("/api/v1/users/%d/2fa", f.bob.ID), Session: s, CSRF: true}), 204)
	// Until the window closes.
	ta.Clock.Advance(DefaultConfig().StepUp)
	wantReauthProblem(t, ta.Do(t, request{Method: "PUT", URL: "/api/v1/users/1/password", Session: s, CSRF: true,
		Body: map[string]string{"password": "stolen-pass-1"}}))
}

// TestStepUpRoutes is the step-up matrix: every route that changes
// something, and whether it asks a browser session for a recent
// re-authentication (stepUp in routes.go). A new route that changes
// something fails here until it is declared one way or the other.
func TestStepUpRoutes(t *testing.T) {
	t.Parallel()
	asks := map[string]bool{
		// The JSON API.
		"POST /api/v1/reauth":                         false,
		"POST /api/v1/users":                          true,
		"PATCH /api/v1/users/:id<int>":                true, // role and disabled change what can act as them
		"PUT /api/v1/users/:id<int>/password":         true,
		"DELETE /api/v1/users/:id<int>":               true,
		"DELETE /api/v1/users/:id<int>/2fa":           true,
		"POST /api/v1/users/:id<int>/tokens":          true,
		"PATCH /api/v1/users/:id<int>/tokens/:tid":    true,
		"DELETE /api/v1/users/:id<int>/tokens/:tid":   true,
		"DELETE /api/v1/users/:id<int>/passkeys/:pid": true,
		// Ending sessions only takes access away: a stolen session may
		// end others (the owner signs in again) but gains nothing.
		"DELETE /api/v1/users/:id<int>/sessions":      false,
		"DELETE /api/v1/users/:id<int>/sessions/:sid": false,
		// The panel.
		"POST /login":                                              false,
		"POST /login/passkey/options":                              false,
		"POST /login/passkey":                                      false,
		"POST /logout":                                             false,
		"POST /settings/reauth":                                    false,
		"POST /settings/reauth/passkey/options":                    false,
		"POST /settings/reauth/passkey":                            false,
		"POST /settings/users":                                     true,
		"PUT /settings/users/:id<int>":                             false,
		"POST /settings/users/:id<int>":                            false,
		"POST /settings/users/:id<int>/role":                       true,
		"POST /settings/users/:id<int>/disabled":                   true,
		"PUT /settings/users/:id<int>/password":                    true,
		"POST /settings/users/:id<int>/password":                   true,
		"POST /settings/users/:id<int>/passkeys-and-tokens/delete": true,
		"DELETE /settings/users/:id<int>":                          true,
		"POST /settings/users/:id<int>/delete":                     true,
		"POST /settings/users/:id<int>/2fa":                        true,
		"POST /settings/users/:id<int>/2fa/cancel":                 false,
		"DELETE /settings/users/:id<int>/2fa":                      true,
		"POST /settings/users/:id<int>/2fa/off":                    true,
		"POST /settings/users/:id<int>/recovery-codes":             true,
		"POST /settings/users/:id<int>/tokens":                     true,
		"PUT /settings/users/:id<int>/tokens/:tid":                 true,
		"POST /settings/users/:id<int>/tokens/:tid":                true,
		"DELETE /settings/users/:id<int>/tokens/:tid":              true,
		"POST /settings/users/:id<int>/tokens/:tid/delete":         true,
		"POST /settings/users/:id<int>/passkeys/options":           true,
		"POST /settings/users/:id<int>/passkeys":                   true,
		"DELETE /settings/users/:id<int>/passkeys/:pid":            true,
		"POST /settings/users/:id<int>/passkeys/:pid/delete":       true,
		"POST /settings/users/:id<int>/sessions/delete":            false,
		"POST /settings/users/:id<int>/sessions/:sid/delete":       false,
	}
	ta := newTestApp(t)
	seen := map[string]bool{}
	for _, r := range ta.App.GetRoutes(true) { // true: without the middleware of app.Use and groups
		if safeMethod(r.Method) || r.Method == "CONNECT" || r.Method == "TRACE" || strings.Contains(r.Path, "*") {
			continue
		}
		key := r.Method + " " + r.Path
		stepUp, handler := false, false
		for _, h := range r.Handlers {
			name := runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
			stepUp = stepUp || strings.HasSuffix(name, ".stepUp-fm")
			handler = handler || !strings.HasSuffix(name, ".problemAnswers")
		}
		if !handler {
			continue // a mark of the route group (problemAnswers), not the route
		}
		want, ok := asks[key]
		switch {
		case !ok:
			t.Errorf("%s changes something and is not in the step-up matrix: declare whether it asks", key)
		case seen[key]:
		case want != stepUp:
			t.Errorf("%s: stepUp declared %v, the matrix says %v", key, stepUp, want)
		}
		seen[key] = true
	}
	for key := range asks {
		if !seen[key] {
			t.Errorf("the matrix names %s, which is no route", key)
		}
	}
}

// TestStepUpEveryRoute sends every route that asks, from a stale session,
// and wants the refusal in the form of its route group, with nothing
// changed; the same request with a bearer token is never asked.
func TestStepUpEveryRoute(t *testing.T) {
	t.Parallel()
	routes := []struct {
		method, path string
		api          bool // problem+json (the API and the passkey ceremonies)
	}{
		{"POST", "/api/v1/users", true},
		{"PUT", "/api/v1/users/{bob}/password", true},
		{"DELETE", "/api/v1/users/{bob}", true},
		{"PATCH", "/api/v1/users/{bob}", true},
		{"DELETE", "/api/v1/users/{bob}/2fa", true},
		{"POST", "/api/v1/users/{bob}/tokens", true},
		{"PATCH", "/api/v1/users/{bob}/tokens/{bobtoken}", true},
		{"DELETE", "/api/v1/users/{bob}/tokens/{bobtoken}", true},
		{"DELETE", "/api/v1/users/{bob}/passkeys/{bobpasskey}", true},
		{"POST", "/settings/users/{bob}/passkeys/options", true},
		{"POST", "/settings/users/{bob}/passkeys", true},
		{"POST", "/settings/users", false},
		{"PUT", "/settings/users/{bob}/password", false},
		{"POST", "/settings/users/{bob}/password", false},
		{"POST", "/settings/users/{bob}/passkeys-and-tokens/delete", false},
		{"DELETE", "/settings/users/{bob}", false},
		{"POST", "/settings/users/{bob}/delete", false},
		{"POST", "/settings/users/1/2fa", false}, // only the user enrols: admin's own
		{"DELETE", "/settings/users/{bob}/2fa", false},
		{"POST", "/settings/users/{bob}/2fa/off", false},
		{"POST", "/settings/users/1/recovery-codes", false},
		{"POST", "/settings/users/{bob}/tokens", false},
		{"PUT", "/settings/users/{bob}/tokens/{bobtoken}", false},
		{"POST", "/settings/users/{bob}/tokens/{bobtoken}", false},
		{"DELETE", "/settings/users/{bob}/tokens/{bobtoken}", false},
		{"POST", "/settings/users/{bob}/tokens/{bobtoken}/delete", false},
		{"DELETE", "/settings/users/{bob}/passkeys/{bobpasskey}", false},
		{"POST", "/settings/users/{bob}/passkeys/{bobpasskey}/delete", false},
	}
	bodies := map[string]any{
		"POST /api/v1/users":                          map[string]string{"username": "carol", "password": "carol-pass-1", "email": "carol@example.com"},
		"PUT /api/v1/users/{bob}/password":            map[string]string{"password": "new-pass-12"},
		"PATCH /api/v1/users/{bob}":                   map[string]any{"disabled": true},
		"POST /api/v1/users/{bob}/tokens":             map[string]any{"ips": []string{}, "expires_at": "2099-01-01T00:00:00Z"},
		"PATCH /api/v1/users/{bob}/tokens/{bobtoken}": map[string]any{"ips": []string{"10.0.0.0/8"}},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			addPasskey(t, f)
			testkit.EnableTwoFactor(t, f.ta.Store, f.bob)
			f.ta.Clock.Advance(DefaultConfig().StepUp)
			req := request{Method: rt.method, URL: f.expand(rt.path), Body: bodies[rt.method+" "+rt.path], Session: f.session, CSRF: true}
			if !rt.api {
				req.HTMX = true
				if rt.method != "DELETE" {
					req.Form = url.Values{"password": {"new-pass-12"}, "username": {"carol"}, "email": {"c@example.com"}}
				}
			}
			before := f.ta.Snapshot(t)
			r := f.ta.Do(t, req)
			if rt.api {
				wantReauthProblem(t, r)
			} else {
				wantReauthPrompt(t, r)
			}
			if after := f.ta.Snapshot(t); after != before {
				t.Errorf("a refused request changed the state:\nbefore %s\nafter  %s", before, after)
			}
			if strings.HasPrefix(rt.path, "/api/") {
				req.Session, req.CSRF, req.Token = nil, false, f.adminValue
				if r := f.ta.Do(t, req); r.Status == 403 {
					t.Errorf("a bearer token was refused: %s", trimBody(r.Body))
				}
			}
		})
	}
}

// TestAPIReauth: POST /api/v1/reauth takes the password or a code of the
// session's user; wrong or missing ones are 422 (counted like failed
// logins); a bearer token gets 403.
func TestAPIReauth(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ta := f.ta
	s := staleSession(t, ta)
	reauth := func(body any) *response {
		return ta.Do(t, request{Method: "POST", URL: "/api/v1/reauth", Session: s, CSRF: true, Body: body})
	}
	r := reauth(map[string]string{})
	wantAnswer(t, r, 422, "Enter your password")
	if r.Field("password") == "" {
		t.Errorf("no message for password: %s", r.Body)
	}
	r = reauth(map[string]string{"password": "wrong-pass-1"})
	wantAnswer(t, r, 422, "That password is not right.")
	r = reauth(map[string]string{"code": "123456"})
	wantAnswer(t, r, 422, "That code is not right.")
	if r.Field("code") == "" {
		t.Errorf("no message for code: %s", r.Body)
	}
	wantAnswer(t, reauth(map[string]string{"passwd": testkit.AdminPassword}), 400)
	wantReauthProblem(t, ta.Do(t, request{Method: "DELETE", URL: fmt.Sprintf("/api/v1/users/%d", f.bob.ID), Session: s, CSRF: true}))
	wantAnswer(t, ta.Do(t, request{Method: "POST", URL: "/api/v1/reauth", Token: f.adminValue,
		Body: map[string]string{"password": testkit.AdminPassword}}), 403, "Access tokens do not re-authenticate")
	wantAnswer(t, reauth(map[string]string{"password": testkit.AdminPassword}), 204)
	wantAnswer(t, ta.Do(t, request{Method: "DELETE", URL: fmt.Sprintf("/api/v1/users/%d", f.bob.ID), Session: s, CSRF: true}), 204)
	wantAuditLines(t, ta, []string{
		"login.failed admin→admin wrong password at re-authentication", "login.failed admin→admin wrong code at re-authentication",
	}, "login.failed")

	// Throttled like a login.
	for i := 0; i < 20; i++ {
		if r = reauth(map[string]string{"password": "wrong-pass-1"}); r.Status == 429 {
			break
		}
	}
	wantAnswer(t, r, 429, "Too many failed attempts")
}

// TestPasswordChangeListsWaysIn is finding 14: after a password change,
// the confirmation lists the passkeys and live access tokens that still
// sign in without the new password, with one click to remove them too
// (itself a step-up action).
func TestPasswordChangeListsWaysIn(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ta := f.ta
	addPasskey(t, f)
	ta.Clock.Advance(25 * time.Hour) // the fixture's tokens are now expired
	live, liveTok := ta.Token(t, f.bob)
	adminToken, _ := ta.Token(t, ta.Admin)
	s := ta.Session(t, ta.Admin)
	r := ta.Do(t, request{Method: "PUT", URL: fmt.Sprintf("/settings/users/%d/password", f.bob.ID), Session: s, CSRF: true, HTMX: true,
		Form: url.Values{"password": {"new-pass-12"}}})
	checkResponse(t, r, 200, []string{"Password of <strong>bob</strong> changed.", "laptop", liveTok.ID, "Remove them too",
		fmt.Sprintf(`hx-post="/settings/users/%d/passkeys-and-tokens/delete"`, f.bob.ID)},
		[]string{f.bobToken.ID}, map[string]string{"HX-Trigger": "gh-users-changed"})
	if !passwordWorks(t, ta, "bob", "new-pass-12") {
		t.Fatal("the password did not change")
	}
	// Without JavaScript, the same list on a page.
	r = ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/password", f.bob.ID), Session: s, CSRFField: s.CSRF,
		Form: url.Values{"password": {"new-pass-13"}}})
	checkResponse(t, r, 200, []string{"<html", "laptop", liveTok.ID, "Remove them too"}, nil, nil)

	// Removing them is a step-up action.
	remove := request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/passkeys-and-tokens/delete", f.bob.ID), Session: s, CSRF: true, HTMX: true}
	ta.Clock.Advance(DefaultConfig().StepUp)
	wantReauthPrompt(t, ta.Do(t, remove))
	if err := ta.Store.MarkReauth(s.ID); err != nil {
		t.Fatal(err)
	}
	r = ta.Do(t, remove)
	checkResponse(t, r, 200, []string{"Removed 1 passkey and 2 access tokens of bob."}, nil,
		map[string]string{"HX-Trigger": "gh-dialog-close, gh-users-changed", "HX-Retarget": "#flash"})
	if pks, _ := ta.Store.Passkeys(f.bob.ID); len(pks) != 0 {
		t.Errorf("bob keeps %d passkeys", len(pks))
	}
	wantAnswer(t, ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: live}), 401)
	// Admin's own token is not bob's: it stays.
	wantAnswer(t, ta.Do(t, request{Method: "GET", URL: fmt.Sprintf("/api/v1/users/%d", f.bob.ID), Token: adminToken}), 200)

	// Nothing left: the dialog closes with the usual message.
	r = ta.Do(t, request{Method: "PUT", URL: fmt.Sprintf("/settings/users/%d/password", f.bob.ID), Session: s, CSRF: true, HTMX: true,
		Form: url.Values{"password": {"new-pass-14"}}})
	checkResponse(t, r, 200, []string{"Password of bob changed."}, []string{"Remove them too"},
		map[string]string{"HX-Trigger": "gh-dialog-close, gh-users-changed"})
	// Without JavaScript, removing goes back to the list.
	r = ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/passkeys-and-tokens/delete", f.bob.ID), Session: s, CSRFField: s.CSRF})
	checkResponse(t, r, 303, nil, nil, map[string]string{"Location": "/settings/users"})
}

// TestReauthWithPasskey: one of the user's own passkeys re-authenticates
// the session that asked for it, once per challenge; a user without
// passkeys is told to use the password.
func TestReauthWithPasskey(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	d.register(t, ta, s, "laptop")
	ta.Clock.Advance(DefaultConfig().StepUp)
	createToken := request{Method: "POST", URL: "/settings/users/1/tokens", Session: s, CSRF: true, HTMX: true,
		Form: url.Values{"ips": {""}, "expires_at": {ta.Clock.Now().AddDate(0, 1, 0).UTC().Format("2006-01-02T15:04")}, "tz_offset": {"0"}}}
	wantReauthPrompt(t, ta.Do(t, createToken))
	r := ta.Do(t, request{Method: "GET", URL: "/settings/reauth", Session: s, HTMX: true})
	checkResponse(t, r, 200, []string{`id="reauth-passkey"`, "or one of your passkeys"}, nil, nil)

	start := func(s *userSession) *virtualwebauthn.AssertionOptions {
		t.Helper()
		r := postCeremony(t, ta, "/settings/reauth/passkey/options", "application/x-www-form-urlencoded", "", s, nil)
		if r.Status != 200 {
			t.Fatalf("options: %d %s", r.Status, r.Body)
		}
		opts, err := virtualwebauthn.ParseAssertionOptions(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		return opts
	}
	finish := func(s *userSession, answer string) *response {
		return postCeremony(t, ta, "/settings/reauth/passkey", "application/json", answer, s, nil)
	}
	// Another session of the same user cannot finish it.
	other := ta.Session(t, ta.Admin)
	answer := d.assert(start(s))
	checkResponse(t, finish(other, answer), 401, []string{"This passkey was not accepted."}, nil, nil)
	// Its own session can, once.
	answer = d.assert(start(s))
	checkResponse(t, finish(s, answer), 204, nil, nil, nil)
	checkResponse(t, finish(s, answer), 401, nil, nil, nil)
	checkResponse(t, ta.Do(t, createToken), 201, nil, nil, nil)
	wantAuditLines(t, ta, []string{
		"login.failed admin→admin passkey at re-authentication: unknown, used or expired challenge",
		"login.failed admin→admin passkey at re-authentication: unknown, used or expired challenge",
	}, model.EventLoginFailed)

	// bob has no passkey: 409, use the password.
	bob := testkit.AddUser(t, ta.Store, "bob")
	b := ta.Session(t, bob)
	r = postCeremony(t, ta, "/settings/reauth/passkey/options", "application/x-www-form-urlencoded", "", b, nil)
	checkResponse(t, r, 409, []string{"You have no passkey for this panel"}, nil, nil)
	r = ta.Do(t, request{Method: "GET", URL: "/settings/reauth", Session: b, HTMX: true})
	checkResponse(t, r, 200, nil, []string{`id="reauth-passkey"`}, nil)
}

// TestStepUpWindow: signing in through the login form counts as an
// authentication; the window is --step-up (Config.StepUp), and New
// refuses one that is not positive.
func TestStepUpWindow(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t, func(c *Config) { c.StepUp = time.Minute })
	s := ta.Login(t, "admin", testkit.AdminPassword)
	create := request{Method: "POST", URL: "/api/v1/users/1/tokens", Session: s, CSRF: true,
		Body: map[string]any{"ips": []string{}, "expires_at": ta.Clock.Now().Add(time.Hour).Format(time.RFC3339)}}
	ta.Clock.Advance(time.Minute - time.Second)
	wantAnswer(t, ta.Do(t, create), 201)
	ta.Clock.Advance(time.Second)
	wantReauthProblem(t, ta.Do(t, create))
	// The form says how long a confirmation holds.
	r := ta.Do(t, request{Method: "GET", URL: "/settings/reauth", Session: s, HTMX: true})
	checkResponse(t, r, 200, []string{"need nothing more for 1m."}, nil, nil)

	cfg := DefaultConfig()
	cfg.StepUp = 0
	if _, err := New(ta.Store, cfg, ta.Audit, ta.Uses); err == nil || !strings.Contains(err.Error(), "step-up window") {
		t.Errorf("New with a zero step-up window: %v", err)
	}
}
