package handlers

import (
	"net/url"
	"testing"

	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestTokenFailuresLeavePasswordLogin: unknown bearer tokens from one
// address (a misconfigured script behind an office NAT) throttle token
// attempts from it, but neither the password login nor a genuine token
// from that address (#9, finding 4).
func TestTokenFailuresLeavePasswordLogin(t *testing.T) {
	ta := newAPIApp(t, trustTestPeer)
	const office = "198.51.100.40"
	value, _ := ta.Token(t, ta.Admin)
	free := throttle.DefaultConfig().IPFree
	bad := request{Method: "GET", URL: "/api/v1/me", Token: model.NewTokenValue(), ClientIP: office}
	for i := 0; i <= free; i++ {
		wantAnswer(t, ta.Do(t, bad), 401)
	}
	// The unknown tokens themselves are held back after the free ones.
	r := ta.Do(t, bad)
	wantAnswer(t, r, 429)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// A genuine, allowed, unexpired token from the same address is never
	// refused for throttling: its 256 bits cannot be guessed.
	for range 3 {
		wantAnswer(t, ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: value, ClientIP: office}), 200, `"username":"admin"`)
	}
	// The password login from that address is not throttled by token
	// failures.
	login := ta.Do(t, request{Method: "POST", URL: "/login", Form: url.Values{"username": {"admin"}, "password": {testkit.AdminPassword}},
		Headers: map[string]string{"X-Forwarded-For": office}})
	if login.Status != 303 || login.Cookie(sessionCookie) == nil {
		t.Fatalf("correct login after token failures: status %d, want 303: %s", login.Status, trimBody(login.Body))
	}
	// And the unknown tokens are still held back.
	wantAnswer(t, ta.Do(t, bad), 429)
}
