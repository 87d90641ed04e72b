package handlers

// Login throttling through the real HTTP stack. app.Test always reports the
// peer as 0.0.0.0, so these tests serve the app on a real listener and
// connect from different loopback source addresses (clientFrom).

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func TestThrottlePerIP(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	base := serveApp(t, ta)
	guesser := clientFrom(t, "127.0.0.2")
	other := clientFrom(t, "127.0.0.3")

	// Five failures are free, the sixth is answered but sets a 1 s wait.
	for i := 0; i < 6; i++ {
		postLogin(t, guesser, base, "admin", "wrong-pass-1", 401, "")
	}
	r := postLogin(t, guesser, base, "admin", "wrong-pass-1", 429, "1")
	if !strings.Contains(r.Body, "Too many failed attempts. Try again in 1 second.") {
		t.Errorf("429 body: %s", trimBody(r.Body))
	}
	// The right password is refused too: throttling comes before hashing.
	postLogin(t, guesser, base, "admin", testkit.AdminPassword, 429, "1")
	// Even for a name that was never tried.
	postLogin(t, guesser, base, "bob", "whatever-1", 429, "1")
	// Another address is not affected.
	postLogin(t, other, base, "admin", testkit.AdminPassword, 303, "")

	// Throttled attempts did no work: no failure was recorded for them.
	failed := ta.AuditEvents(t, model.EventLoginFailed)
	if len(failed) != 6 {
		t.Errorf("login.failed events = %d, want 6 (throttled attempts must not be checked)", len(failed))
	}
	for _, e := range failed {
		if e.IP != "127.0.0.2" {
			t.Errorf("failure recorded from %q, want 127.0.0.2", e.IP)
		}
	}
	if ok := ta.AuditEvents(t, model.EventLoginSucceeded); len(ok) != 1 || ok[0].IP != "127.0.0.3" {
		t.Errorf("login.succeeded = %+v, want one from 127.0.0.3", ok)
	}

	// The wait doubles with each further failure: 1 s, 2 s, 4 s.
	ta.Clock.Advance(time.Second)
	postLogin(t, guesser, base, "admin", "wrong-pass-1", 401, "")
	postLogin(t, guesser, base, "admin", "wrong-pass-1", 429, "2")
	ta.Clock.Advance(2 * time.Second)
	postLogin(t, guesser, base, "admin", "wrong-pass-1", 401, "")
	postLogin(t, guesser, base, "admin", "wrong-pass-1", 429, "4")
	// Retry-After counts down (rounded up to whole seconds).
	ta.Clock.Advance(1500 * time.Millisecond)
	postLogin(t, guesser, base, "admin", testkit.AdminPassword, 429, "3")

	// The penalty ends: the right password works again.
	ta.Clock.Advance(2500 * time.Millisecond)
	postLogin(t, guesser, base, "admin", testkit.AdminPassword, 303, "")

	// After a quiet window the address starts over with five free failures.
	ta.Clock.Advance(15 * time.Minute)
	for i := 0; i < 6; i++ {
		postLogin(t, guesser, base, "admin", "wrong-pass-1", 401, "")
	}
	postLogin(t, guesser, base, "admin", "wrong-pass-1", 429, "1")
}

// TestThrottleEmptyAndOversizedCount: refused-before-hashing attempts
// (oversized input) still count as failures, empty fields do not.
func TestThrottleOversizedCounts(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	base := serveApp(t, ta)
	c := clientFrom(t, "127.0.0.4")
	for i := 0; i < 3; i++ {
		postLogin(t, c, base, "admin", "", 422, "")
	}
	big := strings.Repeat("x1", 600)
	for i := 0; i < 6; i++ {
		postLogin(t, c, base, "admin", big, 401, "")
	}
	postLogin(t, c, base, "admin", testkit.AdminPassword, 429, "1")
}

func TestThrottlePerUsername(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	testkit.AddUser(t, ta.Store, "bob")
	base := serveApp(t, ta)

	// The real admin logged in from this browser before: it holds the
	// account's device cookie.
	device := clientFrom(t, "127.0.0.9")
	r := postLogin(t, device, base, "admin", testkit.AdminPassword, 303, "")
	if r.Cookie(deviceCookie) == nil {
		t.Fatalf("no device cookie at login")
	}

	// A botnet spreads 50 guesses at admin over ten addresses, each within
	// its five free failures; and 50 at a name that does not exist.
	guess := func(name string, third int) {
		for a := 1; a <= 10; a++ {
			c := clientFrom(t, fmt.Sprintf("127.0.%d.%d", third, a))
			for i := 0; i < 5; i++ {
				postLogin(t, c, base, name, "wrong-pass-1", 401, "")
			}
		}
	}
	guess("admin", 1)
	guess("ghost", 3)

	// Now the names are locked for browsers without the device cookie, for
	// the window (15 minutes), whatever the password; known and unknown
	// names get the same answer.
	fresh := clientFrom(t, "127.0.2.1")
	locked := postLogin(t, fresh, base, "admin", testkit.AdminPassword, 429, "900")
	if !strings.Contains(locked.Body, "Too many failed attempts. Try again in 15 minutes.") {
		t.Errorf("429 body: %s", trimBody(locked.Body))
	}
	ghost := postLogin(t, clientFrom(t, "127.0.2.2"), base, "ghost", "wrong-pass-1", 429, "900")
	if strings.ReplaceAll(ghost.Body, `value="ghost"`, "") != strings.ReplaceAll(locked.Body, `value="admin"`, "") {
		t.Errorf("locked known and unknown names answer differently")
	}
	postLogin(t, clientFrom(t, "127.0.2.3"), base, "ADMIN", testkit.AdminPassword, 429, "900")

	// Other accounts are not affected; bob's device cookie does not open
	// admin.
	bobBrowser := clientFrom(t, "127.0.2.4")
	postLogin(t, bobBrowser, base, "bob", testkit.UserPassword, 303, "")
	postLogin(t, bobBrowser, base, "admin", testkit.AdminPassword, 429, "900")
	// A forged device cookie does not either.
	forged := clientFrom(t, "127.0.2.5")
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(loginForm("admin", testkit.AdminPassword).Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: deviceCookie, Value: "AAAAAAAAAAAAAAAA.0123456789abcdef"})
	resp, err := forged.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if fr := readResponse(t, resp); fr.Status != 429 {
		t.Errorf("forged device cookie: status %d, want 429", fr.Status)
	}

	// The real admin's browser is not locked out.
	postLogin(t, device, base, "admin", testkit.AdminPassword, 303, "")

	// Throttled attempts were not checked: still exactly 100 failures.
	if n := auditCount(ta.AuditEvents(t, model.EventLoginFailed)); n != 100 {
		t.Errorf("login.failed events = %d, want 100", n)
	}

	// The lock ends with the window.
	ta.Clock.Advance(15 * time.Minute)
	postLogin(t, clientFrom(t, "127.0.2.6"), base, "admin", testkit.AdminPassword, 303, "")
	postLogin(t, clientFrom(t, "127.0.2.7"), base, "ghost", "wrong-pass-1", 401, "")
}

// TestClientIPForwarded: X-Forwarded-For counts only when the peer is a
// trusted proxy, and then its rightmost address that is not a trusted
// proxy. The address is read back from the audit log.
func TestClientIPForwarded(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, trustProxies("127.0.0.1/32", "10.0.0.0/8"))
	base := serveApp(t, ta)
	proxy := clientFrom(t, "127.0.0.1")
	stranger := clientFrom(t, "127.0.0.2")
	cases := []struct {
		client *http.Client
		xff    []string // one header line each
		want   string
	}{
		{stranger, []string{"203.0.113.7"}, "127.0.0.2"},
		{stranger, nil, "127.0.0.2"},
		{proxy, nil, "127.0.0.1"},
		{proxy, []string{"203.0.113.7"}, "203.0.113.7"},
		{proxy, []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{proxy, []string{"203.0.113.7, 10.0.0.5"}, "203.0.113.7"},
		{proxy, []string{"203.0.113.7,10.0.0.5, 10.9.9.9"}, "203.0.113.7"},
		{proxy, []string{"198.51.100.1", "203.0.113.8"}, "203.0.113.8"},
		{proxy, []string{"10.0.0.5, 127.0.0.1"}, "127.0.0.1"},
		{proxy, []string{"junk, 203.0.113.7"}, "203.0.113.7"},
		{proxy, []string{"203.0.113.7, junk"}, "127.0.0.1"},
		{proxy, []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{proxy, []string{"2001:db8::1"}, "2001:db8::1"},
	}
	for i, tc := range cases {
		name := fmt.Sprintf("ipcase%d", i)
		// A window apart: failures of unknown names from one address in
		// one window are one aggregate, named after the first.
		ta.Clock.Advance(model.AuditWindow)
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(loginForm(name, "wrong-pass-1").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, v := range tc.xff {
			req.Header.Add("X-Forwarded-For", v)
		}
		resp, err := tc.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if r := readResponse(t, resp); r.Status != 401 {
			t.Fatalf("case %d: status %d", i, r.Status)
		}
		var got []string
		for _, e := range ta.AuditEvents(t, model.EventLoginFailed) {
			if e.Actor == name {
				got = append(got, e.IP)
			}
		}
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("case %d (XFF %q): audit IP %v, want %s", i, tc.xff, got, tc.want)
		}
	}
}

// TestThrottleBehindProxy: behind a trusted proxy the per-IP limit applies
// to the forwarded client, which cannot escape it by prepending addresses;
// a stranger's X-Forwarded-For is ignored.
func TestThrottleBehindProxy(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, trustProxies("127.0.0.1/32"))
	base := serveApp(t, ta)
	proxy := clientFrom(t, "127.0.0.1")
	stranger := clientFrom(t, "127.0.0.2")
	login := func(c *http.Client, xff, password string, want int, retry string) {
		t.Helper()
		r := postForm(t, c, base+"/login", loginForm("admin", password), map[string]string{"X-Forwarded-For": xff})
		if r.Status != want || r.Header.Get("Retry-After") != retry {
			t.Fatalf("XFF %q: %d Retry-After %q, want %d %q", xff, r.Status, r.Header.Get("Retry-After"), want, retry)
		}
	}
	for i := 0; i < 6; i++ {
		login(proxy, fmt.Sprintf("192.0.2.%d, 203.0.113.50", i), "wrong-pass-1", 401, "")
	}
	login(proxy, "192.0.2.99, 203.0.113.50", testkit.AdminPassword, 429, "1")
	login(proxy, "203.0.113.51", testkit.AdminPassword, 303, "")

	// The stranger varies X-Forwarded-For; it is its own address that counts.
	for i := 0; i < 6; i++ {
		login(stranger, fmt.Sprintf("198.51.100.%d", i), "wrong-pass-1", 401, "")
	}
	login(stranger, "198.51.100.200", testkit.AdminPassword, 429, "1")
	// The proxy's other clients are not affected.
	login(proxy, "203.0.113.52", testkit.AdminPassword, 303, "")
}

// TestForwardedIgnoredWithoutProxies: with no trusted proxy configured,
// X-Forwarded-For never decides the client address.
func TestForwardedIgnoredWithoutProxies(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("admin", "wrong-pass-1"),
		Headers: map[string]string{"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.8"}})
	checkResponse(t, r, 401, nil, nil, nil)
	ev := ta.AuditEvents(t, model.EventLoginFailed)
	if len(ev) != 1 || ev[0].IP != "0.0.0.0" {
		t.Errorf("audit = %+v, want IP 0.0.0.0 (app.Test's peer)", ev)
	}
}

// TestThrottleParallelBurst sends 40 wrong passwords at once from one
// address. Checking and counting happen in one step, so no more guesses
// get a password check than sequential ones would (5 free + the 6th that
// sets the first wait); the rest are refused before any hashing.
func TestThrottleParallelBurst(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	base := serveApp(t, ta)
	guesser := clientFrom(t, "127.0.0.7")
	const n = 40
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := postForm(t, guesser, base+"/login", loginForm("admin", "wrong-pass-1"), nil)
			statuses <- r.Status
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[401] != 6 || count[429] != n-6 {
		t.Errorf("statuses %v, want 6×401 and %d×429", count, n-6)
	}
	if failed := ta.AuditEvents(t, model.EventLoginFailed); len(failed) != 6 {
		t.Errorf("%d password checks failed, want 6", len(failed))
	}
	// A success refunds its charge: the right password from a fresh address
	// leaves that address with all its free attempts.
	fresh := clientFrom(t, "127.0.0.8")
	postLogin(t, fresh, base, "admin", testkit.AdminPassword, 303, "")
	for i := 0; i < 6; i++ {
		postLogin(t, fresh, base, "admin", "wrong-pass-1", 401, "")
	}
	postLogin(t, fresh, base, "admin", "wrong-pass-1", 429, "1")
}
