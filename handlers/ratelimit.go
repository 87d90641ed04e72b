package handlers

import (
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// LimiterConfig tunes a LoginLimiter. A zero field takes its value from
// DefaultLimiterConfig, so a partially filled config is still safe: a zero
// Window or table size would otherwise silently disable throttling.
// Negative durations, counts and sizes are treated as zero too, except
// IPFree, where a negative value means no free failures.
type LimiterConfig struct {
	// Window is how long failures are remembered (15m). An IP's failures are
	// forgotten once Window has passed since its last failure and its
	// penalty is over; a username's count runs in a fixed window from its
	// first failure, and a lock lasts Window.
	Window time.Duration

	// IPFree is how many failures an address may make in a window before it
	// has to wait (5), so a user mistyping a password is never slowed down.
	IPFree int

	// IPBaseDelay is the wait after the first failure beyond IPFree (1s); each
	// further failure doubles it, up to IPMaxDelay (15m). Doubling makes
	// guessing from one address hopeless while costing a human almost
	// nothing.
	IPBaseDelay, IPMaxDelay time.Duration

	// UserMaxFailures is how many failures, from all addresses together, lock
	// a username for untrusted devices (50). It stops a botnet that spreads
	// its guesses over many addresses to stay under the per-IP limit.
	UserMaxFailures int

	// MaxIPs and MaxUsers bound the two tables (100,000 each); the least
	// recently used entries are dropped, so an attacker cycling through
	// addresses or invented usernames cannot exhaust memory.
	MaxIPs, MaxUsers int
}

// DefaultLimiterConfig returns the limits from the product issue: 5 free
// failures per address, then 1s doubling up to 15m; 50 failures per username
// in 15m; 100,000 entries per table (a few tens of MB at most).
func DefaultLimiterConfig() LimiterConfig {
	return LimiterConfig{
		Window:          15 * time.Minute,
		IPFree:          5,
		IPBaseDelay:     time.Second,
		IPMaxDelay:      15 * time.Minute,
		UserMaxFailures: 50,
		MaxIPs:          100_000,
		MaxUsers:        100_000,
	}
}

// LoginLimiter throttles login guessing. Callers ask Allow before doing any
// password hashing (so a flood of guesses cannot burn CPU either), answer
// 429 with Retry-After when it refuses, and report the outcome with Failure
// or Success. It is safe for concurrent use.
//
// Per client address: the first IPFree failures are free; the next one
// makes the address wait IPBaseDelay before its next attempt, and each
// further failure doubles the wait, up to IPMaxDelay. The count is kept
// until Window has passed since the address's last failure (and its
// penalty is over), then starts again from zero. That is a sliding window
// keyed on the last failure: simpler than keeping timestamps, and stricter,
// since a steady trickle of failures never lets the count fall back.
// IPv4 addresses are keyed by the full address; IPv6 addresses by their /64
// prefix, because one host or subscriber usually owns a whole /64 and
// could otherwise rotate addresses for free; IPv4-mapped IPv6 addresses are
// unmapped first so both spellings of one client share a counter.
//
// Per username (lower-cased; known and unknown names alike, so a 429 does
// not reveal which accounts exist): once UserMaxFailures failures from all
// addresses fall within Window of the first, the name is locked for
// Window from the failure that reached the limit (this covers the rest of
// the window, and also stops a burst straddling two windows from getting
// twice the guesses). The lock applies only to requests without the
// account's trusted device cookie: the real user, on a known device, is
// not locked out by someone else's guessing and is subject only to the
// per-IP limit.
//
// Success is deliberately a no-op: resetting an address's count on success
// would let an attacker who owns one account interleave good logins with
// guesses at others, and resetting a username's lock would let a guesser
// keep going the moment the real user logs in from a trusted device.
//
// Both tables are bounded LRUs (Allow and Failure both count as use). The
// bound trades memory safety for a known gap: an attacker failing from more
// addresses (or /64s) than MaxIPs, or at more usernames than MaxUsers,
// within one window can push entries out and have them forgotten early. The
// default sizes make that take a very large address pool.
type LoginLimiter struct {
	cfg LimiterConfig
	now func() time.Time

	mu    sync.Mutex
	ips   *simplelru.LRU[netip.Addr, *rlIPEntry]
	users *simplelru.LRU[string, *rlUserEntry]
}

// rlIPEntry is the state for one address (or IPv6 /64). It is a pointer in
// the LRU so Failure updates it in place without re-adding.
type rlIPEntry struct {
	failures int
	last     time.Time // time of the most recent failure
	until    time.Time // no attempts before this
}

// rlUserEntry is the state for one lower-cased username.
type rlUserEntry struct {
	failures int
	start    time.Time // first failure of the current window
	locked   time.Time // untrusted attempts refused before this
}

// NewLoginLimiter returns a limiter with the given limits (see
// LimiterConfig for how zero fields are filled in). now is the clock,
// injected so tests can move time without sleeping; nil means time.Now.
func NewLoginLimiter(cfg LimiterConfig, now func() time.Time) *LoginLimiter {
	cfg = rlNormalize(cfg)
	if now == nil {
		now = time.Now
	}
	// NewLRU fails only for a non-positive size, which rlNormalize rules out.
	ips, err := simplelru.NewLRU[netip.Addr, *rlIPEntry](cfg.MaxIPs, nil)
	if err != nil {
		panic("handlers: " + err.Error())
	}
	users, err := simplelru.NewLRU[string, *rlUserEntry](cfg.MaxUsers, nil)
	if err != nil {
		panic("handlers: " + err.Error())
	}
	return &LoginLimiter{cfg: cfg, now: now, ips: ips, users: users}
}

// rlNormalize fills unset fields from the defaults, so that a zero value
// never means "no limit".
func rlNormalize(cfg LimiterConfig) LimiterConfig {
	def := DefaultLimiterConfig()
	if cfg.Window <= 0 {
		cfg.Window = def.Window
	}
	switch {
	case cfg.IPFree == 0:
		cfg.IPFree = def.IPFree
	case cfg.IPFree < 0:
		cfg.IPFree = 0
	}
	if cfg.IPBaseDelay <= 0 {
		cfg.IPBaseDelay = def.IPBaseDelay
	}
	if cfg.IPMaxDelay <= 0 {
		cfg.IPMaxDelay = def.IPMaxDelay
	}
	if cfg.IPMaxDelay < cfg.IPBaseDelay {
		cfg.IPMaxDelay = cfg.IPBaseDelay
	}
	if cfg.UserMaxFailures <= 0 {
		cfg.UserMaxFailures = def.UserMaxFailures
	}
	if cfg.MaxIPs <= 0 {
		cfg.MaxIPs = def.MaxIPs
	}
	if cfg.MaxUsers <= 0 {
		cfg.MaxUsers = def.MaxUsers
	}
	return cfg
}

// Allow reports whether a login attempt from ip for username may go ahead
// now. When it may not, retryAfter is how long to wait, rounded up to whole
// seconds and at least 1s, ready for a Retry-After header; if both the
// address and the username are held back, it is the longer wait. An empty
// username checks only the address. trustedDevice (the request carries a
// valid device cookie for this account) skips the username lock but never
// the per-address limit. Allow records nothing: only Failure adds entries,
// so probing cannot fill the tables.
func (l *LoginLimiter) Allow(ip netip.Addr, username string, trustedDevice bool) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.allowLocked(l.now(), rlIPKey(ip), username, trustedDevice)
}

func (l *LoginLimiter) allowLocked(now time.Time, key netip.Addr, username string, trustedDevice bool) (bool, time.Duration) {
	var wait time.Duration
	if e, found := l.ips.Get(key); found {
		if l.ipExpired(e, now) {
			l.ips.Remove(key)
		} else if d := e.until.Sub(now); d > 0 {
			wait = d
		}
	}
	if username != "" && !trustedDevice {
		name := rlUserKey(username)
		if e, found := l.users.Get(name); found {
			if l.userExpired(e, now) {
				l.users.Remove(name)
			} else if d := e.locked.Sub(now); d > wait {
				wait = d
			}
		}
	}
	if wait > 0 {
		return false, rlRoundUp(wait)
	}
	return true, 0
}

// Failure records a failed attempt (wrong password, unknown user, wrong 2FA
// code). username may be "" (e.g. a wrong API token): then only the address
// counts. It counts even when the attempt came from a trusted device, since
// Failure cannot tell, and the real user mistyping is rare next to the
// limit.
func (l *LoginLimiter) Failure(ip netip.Addr, username string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failLocked(l.now(), rlIPKey(ip), username)
}

// Ticket is what Reserve charged, so that Refund can take it back.
type Ticket struct {
	key       netip.Addr
	name      string
	until     time.Time // the address's penalty before the charge
	setUntil  time.Time // the penalty the charge set
	userStart time.Time
	locked    bool // the charge locked the username
}

// Reserve is Allow and Failure in one step: when the attempt may go ahead,
// it is counted as failed at once, and the caller hands the ticket to
// Refund if the attempt succeeds. Checking and counting under one lock
// means a burst of parallel guesses cannot all pass the check before the
// first failure is counted.
func (l *LoginLimiter) Reserve(ip netip.Addr, username string, trustedDevice bool) (t Ticket, ok bool, retryAfter time.Duration) {
	key := rlIPKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if ok, wait := l.allowLocked(now, key, username, trustedDevice); !ok {
		return Ticket{}, false, wait
	}
	t = Ticket{key: key}
	if e, found := l.ips.Peek(key); found && !l.ipExpired(e, now) {
		t.until = e.until
	}
	l.failLocked(now, key, username)
	if e, found := l.ips.Peek(key); found {
		t.setUntil = e.until
	}
	if username != "" {
		t.name = rlUserKey(username)
		if u, found := l.users.Peek(t.name); found {
			t.userStart = u.start
			t.locked = u.failures == l.cfg.UserMaxFailures
		}
	}
	return t, true, 0
}

// Refund takes back the failure that Reserve counted, for an attempt that
// succeeded. A penalty that other failures set since is kept.
func (l *LoginLimiter) Refund(t Ticket) {
	if !t.key.IsValid() && t.name == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, found := l.ips.Peek(t.key); found && e.failures > 0 {
		e.failures--
		if e.until.Equal(t.setUntil) {
			e.until = t.until
		}
	}
	if t.name == "" {
		return
	}
	if u, found := l.users.Peek(t.name); found && u.start.Equal(t.userStart) && u.failures > 0 {
		if t.locked && u.failures == l.cfg.UserMaxFailures {
			u.locked = time.Time{}
		}
		u.failures--
	}
}

// failLocked counts one failure; l.mu is held.
func (l *LoginLimiter) failLocked(now time.Time, key netip.Addr, username string) {
	var name string
	if username != "" {
		name = rlUserKey(username)
	}
	e, found := l.ips.Get(key)
	if !found {
		e = &rlIPEntry{}
		l.ips.Add(key, e)
	} else if l.ipExpired(e, now) {
		*e = rlIPEntry{}
	}
	e.failures++
	e.last = now
	if over := e.failures - l.cfg.IPFree; over > 0 {
		// max, not assignment: with racing requests a failure may be
		// reported late, and must never shorten a penalty already set.
		e.until = rlLater(e.until, now.Add(l.ipDelay(over)))
	}

	if name == "" {
		return
	}
	u, found := l.users.Get(name)
	if !found {
		u = &rlUserEntry{start: now}
		l.users.Add(name, u)
	} else if l.userExpired(u, now) {
		*u = rlUserEntry{start: now}
	}
	u.failures++
	// == rather than >=: failures that still arrive while locked (from
	// trusted devices, or racing requests) must not extend the lock forever.
	if u.failures == l.cfg.UserMaxFailures {
		u.locked = now.Add(l.cfg.Window)
	}
}

// Success records a successful login. It is deliberately a no-op (see
// LoginLimiter): neither the address's count nor the username's lock is
// reset, so owning one account buys no extra guesses at others, and the
// real user logging in does not reopen the account to guessing from
// untrusted devices. It exists so callers report both outcomes and the
// policy can change here alone.
func (l *LoginLimiter) Success(ip netip.Addr, username string) {}

// Len returns the number of address and username entries currently held,
// including expired ones not yet looked at; tests use it to check the
// bounds.
func (l *LoginLimiter) Len() (ips, users int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ips.Len(), l.users.Len()
}

// ipExpired reports whether an address's failures have all aged out:
// Window since the last one, and any penalty served.
func (l *LoginLimiter) ipExpired(e *rlIPEntry, now time.Time) bool {
	return !now.Before(e.last.Add(l.cfg.Window)) && !now.Before(e.until)
}

// userExpired reports whether a username's window is over and any lock
// served.
func (l *LoginLimiter) userExpired(e *rlUserEntry, now time.Time) bool {
	return !now.Before(e.start.Add(l.cfg.Window)) && !now.Before(e.locked)
}

// ipDelay is the wait after the over-th failure beyond the free ones:
// IPBaseDelay doubled over-1 times, capped at IPMaxDelay. The loop stops at
// the cap, so it neither overflows nor runs long for a huge count.
func (l *LoginLimiter) ipDelay(over int) time.Duration {
	d := l.cfg.IPBaseDelay
	for i := 1; i < over && d < l.cfg.IPMaxDelay; i++ {
		d *= 2
	}
	return min(d, l.cfg.IPMaxDelay)
}

// rlIPKey maps an address to its table key: IPv4 (including IPv4-mapped
// IPv6) as is, IPv6 masked to its /64 with any zone dropped. The invalid
// zero Addr stays the zero Addr, so callers that fail to parse a client
// address share one (strict) bucket rather than escaping the limit.
func rlIPKey(ip netip.Addr) netip.Addr {
	ip = ip.Unmap()
	if ip.Is6() {
		// Prefix cannot fail for 64 bits of an IPv6 address, and it strips
		// the zone.
		p, _ := ip.Prefix(64)
		return p.Addr()
	}
	return ip
}

// rlUserKey lower-cases a username so "Admin" and "admin" share a count.
// strings.ToLower returns its argument unchanged (no allocation) for
// already lower-case ASCII, the common case. Names longer than any valid
// username share one key: the table is bounded by entries, so a key must
// not be able to hold a megabyte of attacker text.
func rlUserKey(username string) string {
	if len(username) > rlMaxUserKey {
		return "\x00oversized"
	}
	return strings.ToLower(username)
}

// rlMaxUserKey is well above the longest valid username (32 bytes).
const rlMaxUserKey = 128

// rlRoundUp rounds a positive wait up to whole seconds, at least one, as
// Retry-After takes whole seconds and "0" would invite an immediate retry.
func rlRoundUp(d time.Duration) time.Duration {
	if d <= time.Second {
		return time.Second
	}
	return (d + time.Second - 1) / time.Second * time.Second
}

// rlLater returns the later of two times.
func rlLater(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
