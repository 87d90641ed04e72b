package handlers

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// auditCount is how many events ev stands for: an aggregate of outside
// failures counts Count times.
func auditCount(ev []model.AuditEvent) int {
	n := 0
	for _, e := range ev {
		n += max(e.Count, 1)
	}
	return n
}

// TestAuditFloodKeepsSecurityEvents (#3): unknown bearer tokens from
// thousands of loopback addresses, over a real listener, used to write one
// event each into a log that kept the newest 10,000, erasing all history
// without a login. Now every earlier security event is still there, and
// the flood is a few aggregates per address.
func TestAuditFloodKeepsSecurityEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 14,000 requests")
	}
	ta := newTestApp(t)
	base := serveApp(t, ta)

	// Security events before the flood: a user and a token created, a
	// login, a failed login of a known account, a logout.
	testkit.AddUser(t, ta.Store, "bob")
	ta.Token(t, ta.Admin)
	admin := clientFrom(t, "127.0.3.1")
	postLogin(t, admin, base, "admin", testkit.AdminPassword, 303, "")
	postLogin(t, clientFrom(t, "127.0.3.2"), base, "bob", "wrong-pass-1", 401, "")
	before := ta.AuditEvents(t, "")
	if len(before) < 5 {
		t.Fatalf("only %d events before the flood: %+v", len(before), before)
	}

	// The flood: per address, six unknown tokens (401: five free failures
	// and the first one past them) and one more (429, throttled). 12,000
	// refusals: more than the 10,000 events the log used to keep.
	const addresses, perAddress, free = 2000, 7, 6
	var sent, refused, throttled atomic.Int64
	start := time.Now()
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				c := clientFrom(t, fmt.Sprintf("127.1.%d.%d", i/250, i%250+1))
				for j := range perAddress {
					req, _ := http.NewRequest("GET", base+"/api/v1/me", nil)
					req.Header.Set("Authorization", fmt.Sprintf("Bearer gh_flood%d_%d_%032d", i, j, 0))
					resp, err := c.Do(req)
					if err != nil {
						t.Errorf("flood request: %v", err)
						return
					}
					sent.Add(1)
					switch readResponse(t, resp).Status {
					case 401:
						refused.Add(1)
					case 429:
						throttled.Add(1)
					}
				}
			}
		}()
	}
	for i := range addresses {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	took := time.Since(start)
	if refused.Load() != addresses*free || throttled.Load() != addresses {
		t.Errorf("%d refused (want %d), %d throttled (want %d)", refused.Load(), addresses*free, throttled.Load(), addresses)
	}

	after := ta.AuditEvents(t, "")
	byID := map[uint64]model.AuditEvent{}
	for _, e := range after {
		byID[e.ID] = e
	}
	kept := 0
	for _, e := range before {
		if got, ok := byID[e.ID]; ok && got.Action == e.Action {
			kept++
		} else {
			t.Errorf("security event lost in the flood: %+v", e)
		}
	}
	var rows int
	counted := map[string]int{}
	for _, e := range after {
		if e.Outside() {
			rows++
			counted[e.Action] += e.Count
		}
	}
	if counted[model.EventTokenRefused] != addresses*free || counted[model.EventRequestThrottled] != addresses {
		t.Errorf("aggregates count %v, want %d token.refused and %d request.throttled", counted, addresses*free, addresses)
	}
	t.Logf("flood: %d requests from %d addresses in %v (%d refused, %d throttled); security events kept %d of %d; %d aggregate rows %v; %d events in all",
		sent.Load(), addresses, took.Round(time.Millisecond), refused.Load(), throttled.Load(), kept, len(before), rows, counted, len(after))
}
