package throttle

import (
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// RateConfig tunes a Rate. A zero or negative field takes its value from
// DefaultRateConfig, so that a partially filled config never means "no
// limit" or "refuse everything".
type RateConfig struct {
	// Limit is how many requests one address (or IPv6 /64) may make within
	// any Window (30).
	Limit int
	// Window is the span the Limit applies to (1m).
	Window time.Duration
	// MaxKeys bounds the table of addresses (10,000); the least recently
	// used one is dropped, so an attacker cycling through addresses cannot
	// exhaust memory. Each entry keeps Limit times of 8 bytes.
	MaxKeys int
}

// DefaultRateConfig returns the limits for starting passkey logins. A start
// needs no account and holds a challenge server-side for 5 minutes: 30
// starts a minute per address are plenty for people and browser autofill,
// and keep one address from pushing real users' challenges out of the
// bounded ceremony store. 10,000 addresses take at most a few MB.
func DefaultRateConfig() RateConfig {
	return RateConfig{Limit: 30, Window: time.Minute, MaxKeys: 10_000}
}

// Rate limits how often one client address may make a request that is not
// a guess but costs the server something: at most Limit accepted requests
// in any span of Window, per address (IPv6 per /64, see addrKey). It is a
// sliding log: each address keeps the times of its last Limit accepted
// requests, and a request is accepted once the oldest of them is Window
// old. Unlike a fixed window, a burst straddling two windows cannot get
// twice the limit. Refused requests are not recorded, so a client that
// keeps knocking is let in again as soon as its old requests age out. It is
// safe for concurrent use.
type Rate struct {
	cfg   RateConfig
	now   func() time.Time
	epoch time.Time // times are kept as offsets from here, 8 bytes each

	mu   sync.Mutex
	keys *simplelru.LRU[netip.Addr, *rateEntry]
}

// rateEntry holds one address's last accepted requests as a ring: until it
// is full, times grows; then times[next] is the oldest, and is overwritten.
type rateEntry struct {
	times []time.Duration
	next  int
}

// NewRate returns a request-rate limiter with the given limits (see
// RateConfig for how zero fields are filled in). now is the clock, injected
// so tests can move time without sleeping; nil means time.Now.
func NewRate(cfg RateConfig, now func() time.Time) *Rate {
	def := DefaultRateConfig()
	if cfg.Limit <= 0 {
		cfg.Limit = def.Limit
	}
	if cfg.Window <= 0 {
		cfg.Window = def.Window
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = def.MaxKeys
	}
	if now == nil {
		now = time.Now
	}
	// NewLRU fails only for a non-positive size, ruled out above.
	keys, err := simplelru.NewLRU[netip.Addr, *rateEntry](cfg.MaxKeys, nil)
	if err != nil {
		panic("throttle: " + err.Error())
	}
	return &Rate{cfg: cfg, now: now, epoch: now(), keys: keys}
}

// Allow reports whether a request from ip may go ahead now, and if so
// records it. When it may not, retryAfter is how long until the address's
// oldest recorded request leaves the window, rounded up to whole seconds
// and at least 1s, ready for a Retry-After header.
func (r *Rate) Allow(ip netip.Addr) (ok bool, retryAfter time.Duration) {
	key := addrKey(ip)
	r.mu.Lock()
	defer r.mu.Unlock()
	at := r.now().Sub(r.epoch)
	e, found := r.keys.Get(key)
	if !found {
		e = &rateEntry{times: make([]time.Duration, 0, min(r.cfg.Limit, 8))}
		r.keys.Add(key, e)
	}
	if len(e.times) < r.cfg.Limit {
		e.times = append(e.times, at)
		return true, 0
	}
	// The window is half-open: a request exactly Window after the oldest
	// one is accepted, so "30 a minute" lets the 31st in after one minute.
	if wait := e.times[e.next] + r.cfg.Window - at; wait > 0 {
		return false, roundUp(wait)
	}
	e.times[e.next] = at
	e.next = (e.next + 1) % r.cfg.Limit
	return true, 0
}

// Len returns the number of addresses currently held, including ones whose
// requests have all aged out; tests use it to check the bound.
func (r *Rate) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys.Len()
}
