package handlers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// flNewRealCostApp is a testApp whose passwords are hashed with the
// production argon2id cost (model.DefaultArgon2): a flood only fills the
// hashing queue when each hash costs what it costs in production.
func flNewRealCostApp(t *testing.T) *testApp {
	t.Helper()
	dir := t.TempDir()
	clock := testkit.NewClock()
	store, err := model.Open(dir, model.Options{Create: true, Now: clock.Now})
	if err != nil {
		t.Fatalf("model.Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	lc := throttle.DefaultConfig()
	cfg := DefaultConfig()
	cfg.PublicURL, cfg.Limiter, cfg.Version = publicURL, &lc, "test"
	audit := model.NewAuditBuffer(store, time.Second)
	uses := model.NewTokenUseBuffer(store)
	h, err := New(store, cfg, audit, uses)
	if err != nil {
		t.Fatalf("handlers.New: %v", err)
	}
	ta := &testApp{Dir: dir, Clock: clock, Store: store, Audit: audit, Uses: uses, H: h, App: h.App()}
	ta.Admin = testkit.CreateUser(t, ta.Store, "admin", testkit.AdminPassword, "admin@example.com")
	return ta
}

// TestLoginFloodKnownBrowser: while 100 loopback addresses hammer POST
// /login with wrong passwords for the same account (enough to fill the
// argon2id queue and lock the account for unknown browsers), a browser
// that signed in before (it holds the account's device cookie) still signs
// in with the right password: 303, never "server is busy" (#9, finding 7).
// It reports the known browser's login times during the flood.
func TestLoginFloodKnownBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("a flood of production-cost password hashes; not in -short")
	}
	ta := flNewRealCostApp(t)
	alice := testkit.CreateUser(t, ta.Store, "alice", "alice-pass-1", "alice@example.com")
	base := serveApp(t, ta)

	// Before the flood: alice signs in once from her browser, which keeps
	// the device cookie.
	known := clientFrom(t, "127.0.0.250")
	start := time.Now()
	if r := postForm(t, known, base+"/login", loginForm(alice.Username, "alice-pass-1"), nil); r.Status != http.StatusSeeOther {
		t.Fatalf("first login: status %d", r.Status)
	}
	quiet := time.Since(start)

	const addresses, perAddress = 100, 20
	ctx, stop := context.WithTimeout(context.Background(), 60*time.Second)
	defer stop()
	var sent, busy, throttled atomic.Int64
	var wg sync.WaitGroup
	for i := range addresses {
		c := clientFrom(t, fmt.Sprintf("127.0.1.%d", 1+i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perAddress && ctx.Err() == nil; j++ {
				req, err := http.NewRequestWithContext(ctx, "POST", base+"/login",
					strings.NewReader(loginForm(alice.Username, fmt.Sprintf("guess-%d-%d", i, j)).Encode()))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := c.Do(req)
				if err != nil {
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				sent.Add(1)
				switch {
				case resp.StatusCode != http.StatusTooManyRequests:
				case strings.Contains(string(body), "server is busy"):
					busy.Add(1)
				default:
					throttled.Add(1)
				}
			}
		}()
	}
	// Let the flood fill the queue, then sign in a few times.
	for busy.Load() == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	var times []time.Duration
	var failures []string
	for try := range 5 {
		start := time.Now()
		r := postForm(t, known, base+"/login", loginForm(alice.Username, "alice-pass-1"), nil)
		times = append(times, time.Since(start))
		if r.Status != http.StatusSeeOther {
			failures = append(failures, fmt.Sprintf("try %d: status %d: %s", try+1, r.Status, flMessage(r.Body)))
		}
	}
	inFlood := sent.Load()
	stop()
	wg.Wait()
	slices.Sort(times)
	t.Logf("flood: %d addresses, %d requests until the known browser's last login, %d in all (%d answered busy, %d throttled); "+
		"known browser login without flood %v, during the flood %v, median %v",
		addresses, inFlood, sent.Load(), busy.Load(), throttled.Load(), quiet, times, times[len(times)/2])
	if busy.Load() == 0 {
		t.Error("the flood never filled the hashing queue: the test proves nothing")
	}
	for _, f := range failures {
		t.Errorf("known browser during the flood: %s", f)
	}
}

// flMessage picks the error message out of a login page.
func flMessage(body string) string {
	if i := strings.Index(body, `class="error"`); i >= 0 {
		end := min(len(body), i+120)
		return body[i:end]
	}
	return ""
}
