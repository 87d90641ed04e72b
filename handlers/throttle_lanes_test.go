package handlers

import (
	"net/url"
	"testing"

	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
)

// TestTokenFailuresLeavePasswordLogin: unknown bearer tokens from one
// address (a misconfigured script behind an office NAT) throttle token
// attempts from it, but neither the password login nor a genuine token
// from that address (#9, finding 4).
func TestTokenFailuresLeavePasswordLogin(t *testing.T) {
	ta := apiNewApp(t, apiTrustTestPeer)
	const office = "198.51.100.40"
	value, _ := ta.apiToken(t, ta.Admin)
	free := throttle.DefaultConfig().IPFree
	bad := apiCall{Method: "GET", Path: "/api/v1/me", Token: model.NewTokenValue(), ClientIP: office}
	for i := 0; i <= free; i++ {
		apiWant(t, ta.API(t, bad), 401)
	}
	// The unknown tokens themselves are held back after the free ones.
	r := ta.API(t, bad)
	apiWant(t, r, 429)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// A genuine, allowed, unexpired token from the same address is never
	// refused for throttling: its 256 bits cannot be guessed.
	for range 3 {
		apiWant(t, ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: value, ClientIP: office}), 200, `"username":"admin"`)
	}
	// The password login from that address is not throttled by token
	// failures.
	login := ta.Do(t, thReq{Method: "POST", URL: "/login", Form: url.Values{"username": {"admin"}, "password": {thAdminPassword}},
		Headers: map[string]string{"X-Forwarded-For": office}})
	if login.Status != 303 || login.Cookie(sessionCookie) == nil {
		t.Fatalf("correct login after token failures: status %d, want 303: %s", login.Status, thTrim(login.Body))
	}
	// And the unknown tokens are still held back.
	apiWant(t, ta.API(t, bad), 429)
}
