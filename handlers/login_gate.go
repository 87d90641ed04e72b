package handlers

import (
	"runtime"
	"sync/atomic"
	"time"
)

// loginGate lets at most GOMAXPROCS-1 password logins (at least one) run at
// once, for browsers without the account's device cookie; the others wait
// their turn, parked, up to 2 seconds and 64 per slot, past which they are
// answered "busy" with a bare 429 (no page drawn). A flood of logins then
// uses about one core, whatever its number of connections: the rest of
// the panel and the API keep their speed (scripts/bench.sh measures the
// p99 of GET /api/v1/me while 64 clients log in), where before every
// flooding connection drew the login page and took its share of every
// core. The wait is bounded in time too, because a client that gave up
// is not noticed: its login would still be worked through. Browsers with
// the device cookie pass by, as they use the hasher's reserved lane (see
// model.Hasher).
type loginGate struct {
	slots   chan struct{}
	waiting atomic.Int64
	maxWait int64
}

// loginGateWait is the longest a login waits for its turn.
const loginGateWait = 2 * time.Second

func newLoginGate() *loginGate {
	n := max(1, runtime.GOMAXPROCS(0)-1)
	return &loginGate{slots: make(chan struct{}, n), maxWait: int64(64 * n)}
}

// enter waits for a slot and returns its release; ok is false when the
// queue is full or the wait too long.
func (g *loginGate) enter() (leave func(), ok bool) {
	if g.waiting.Add(1) > g.maxWait {
		g.waiting.Add(-1)
		return nil, false
	}
	defer g.waiting.Add(-1)
	timer := time.NewTimer(loginGateWait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots }, true
	case <-timer.C:
		return nil, false
	}
}
