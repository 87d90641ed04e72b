package handlers

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// suReauthGuess sends a password to the step-up re-authentication prompt
// (as the dialog does, with htmx) from the client address ip, through the
// trusted proxy app.Test's peer is.
func suReauthGuess(t *testing.T, ta *testApp, s *userSession, ip, password string) *response {
	t.Helper()
	return ta.Do(t, request{Method: "POST", URL: "/settings/reauth", Session: s, HTMX: true,
		CSRFHeader: s.CSRF, Form: url.Values{"password": {password}}, Headers: map[string]string{"X-Forwarded-For": ip}})
}

// TestStepUpGuessesShareAccountLimit: wrong passwords at the
// re-authentication prompt count against the account like failed logins
// and get no trusted-device exemption: guesses spread over 12 addresses
// (each under the per-address limit, each session under the five-in-a-row
// rule) are refused with 429 once the account limit is reached, and the
// account's /login is held back by them too (#9, finding 2).
func TestStepUpGuessesShareAccountLimit(t *testing.T) {
	ta := newTestApp(t, trustTestPeer)
	bob := testkit.AddUser(t, ta.Store, "bob")
	limit := throttle.DefaultConfig().UserMaxFailures
	sent, throttledAt := 0, 0
	for i := 0; i < 12*5 && throttledAt == 0; i++ {
		// A fresh session every 4 guesses, a new address every 4 guesses:
		// neither the address limit (5 free) nor the run of five applies.
		s := ta.Session(t, bob)
		ip := fmt.Sprintf("198.51.100.%d", 1+i)
		for range 4 {
			r := suReauthGuess(t, ta, s, ip, fmt.Sprintf("guess-%d", sent))
			sent++
			if r.Status == 429 {
				throttledAt = sent
				if r.Header.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
				break
			}
			if r.Status != 422 {
				t.Fatalf("guess %d: status %d, want 422 or 429: %s", sent, r.Status, trimBody(r.Body))
			}
		}
	}
	if throttledAt != limit+1 {
		t.Fatalf("%d re-authentication guesses over %d addresses: first 429 at guess %d, want %d (the account limit + 1)", sent, (sent+3)/4, throttledAt, limit+1)
	}
	// The correct password waits too: the prompt is no way around the lock.
	s := ta.Session(t, bob)
	if r := suReauthGuess(t, ta, s, "198.51.100.200", testkit.UserPassword); r.Status != 429 {
		t.Errorf("correct password at the prompt of a locked account: status %d, want 429", r.Status)
	}
	// And the login of the account from a browser without its device
	// cookie is held back by the same count.
	r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("bob", testkit.UserPassword),
		Headers: map[string]string{"X-Forwarded-For": "198.51.100.201"}})
	if r.Status != 429 {
		t.Errorf("login after %d re-authentication guesses: status %d, want 429", limit, r.Status)
	}
}

// TestStepUpFiveWrongEndSession: five wrong passwords in a row at the
// re-authentication prompt end the session: the fifth answer sends the
// browser to the login page, and the cookie opens nothing afterwards. A
// right password in between starts the run again (#9, finding 2).
func TestStepUpFiveWrongEndSession(t *testing.T) {
	ta := newTestApp(t, trustTestPeer)
	bob := testkit.AddUser(t, ta.Store, "bob")

	t.Run("a right password resets the run", func(t *testing.T) {
		s := ta.Session(t, bob)
		for range 4 {
			checkResponse(t, suReauthGuess(t, ta, s, "203.0.113.1", "wrong"), 422, nil, nil, nil)
		}
		checkResponse(t, suReauthGuess(t, ta, s, "203.0.113.2", testkit.UserPassword), 200, nil, nil, nil)
		for range 4 {
			checkResponse(t, suReauthGuess(t, ta, s, "203.0.113.3", "wrong"), 422, nil, nil, nil)
		}
		if !ta.SessionAlive(t, s) {
			t.Fatal("a session with four wrong passwords since its last right one was ended")
		}
	})

	t.Run("five in a row", func(t *testing.T) {
		s := ta.Session(t, bob)
		for i := range 4 {
			checkResponse(t, suReauthGuess(t, ta, s, fmt.Sprintf("203.0.113.%d", 10+i), "wrong"), 422, nil, nil, nil)
		}
		r := suReauthGuess(t, ta, s, "203.0.113.20", "wrong")
		checkResponse(t, r, 401, nil, nil, map[string]string{"HX-Redirect": "/login"})
		if ta.SessionAlive(t, s) {
			t.Fatal("five wrong passwords in a row left the session alive")
		}
		page := ta.Do(t, request{Method: "GET", URL: "/settings/users", Session: s})
		checkResponse(t, page, 303, nil, nil, nil)
		api := ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Session: s})
		wantAnswer(t, api, 401)
	})
}
