package throttle

import (
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Config tunes a Limiter. A zero field takes its value from DefaultConfig,
// so a partially filled config is still safe: a zero Window or table size
// would otherwise silently disable throttling. Negative durations, counts
// and sizes are treated as zero too, except IPFree, where a negative value
// means no free failures.
type Config struct {
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

// DefaultConfig returns the limits from the product issue: 5 free failures
// per address, then 1s doubling up to 15m; 50 failures per username in 15m;
// 100,000 entries per table (a few tens of MB at most).
func DefaultConfig() Config {
	return Config{
		Window:          15 * time.Minute,
		IPFree:          5,
		IPBaseDelay:     time.Second,
		IPMaxDelay:      15 * time.Minute,
		UserMaxFailures: 50,
		MaxIPs:          100_000,
		MaxUsers:        100_000,
	}
}

// Limiter throttles guessing. Callers Reserve before checking anything
// (before any password hashing, so a flood of guesses cannot burn CPU
// either), answer 429 with Retry-After when it refuses, and otherwise treat
// the attempt as failed from then on: they hand the ticket to Refund only
// when the attempt turns out not to be a guess (it succeeded, it checked
// nothing, the server failed). Checking and counting in one step under one
// lock means a burst of parallel guesses cannot all pass the check before
// the first failure is counted. It is safe for concurrent use.
//
// Per client address: the first IPFree failures are free; the next one
// makes the address wait IPBaseDelay before its next attempt, and each
// further failure doubles the wait, up to IPMaxDelay. The count is kept
// until Window has passed since the address's last failure (and its
// penalty is over), then starts again from zero. That is a sliding window
// keyed on the last failure: simpler than keeping timestamps, and stricter,
// since a steady trickle of failures never lets the count fall back.
// IPv4 addresses are keyed by the full address; IPv6 addresses by their /64
// prefix (see addrKey).
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
// A success takes back only its own charge, deliberately: resetting an
// address's count on success would let an attacker who owns one account
// interleave good logins with guesses at others, and resetting a username's
// lock would let a guesser keep going the moment the real user logs in from
// a trusted device.
//
// Both tables are bounded LRUs (every Reserve counts as use). The bound
// trades memory safety for a known gap: an attacker failing from more
// addresses (or /64s) than MaxIPs, or at more usernames than MaxUsers,
// within one window can push entries out and have them forgotten early. The
// default sizes make that take a very large address pool. Refunded
// attempts leave no entry behind, so successes do not fill the tables
// (though, like any charge, one from a new address pushes out the least
// recently used entry of a full table).
type Limiter struct {
	cfg Config
	now func() time.Time

	mu    sync.Mutex
	seq   uint64 // numbers every charge, so Refund knows its own
	ips   *simplelru.LRU[netip.Addr, *ipEntry]
	users *simplelru.LRU[string, *userEntry]
}

// ipEntry is the state for one address (or IPv6 /64). It is a pointer in
// the LRU so a charge updates it in place without re-adding.
type ipEntry struct {
	failures int
	last     time.Time // time of the most recent failure
	until    time.Time // no attempts before this
	gen      uint64    // the charge that started this count
	latest   uint64    // the charge that set last and until
}

// userEntry is the state for one lower-cased username.
type userEntry struct {
	failures int
	start    time.Time // first failure of the current window
	locked   time.Time // untrusted attempts refused before this
	gen      uint64    // the charge that started this window
}

// New returns a limiter with the given limits (see Config for how zero
// fields are filled in). now is the clock, injected so tests can move time
// without sleeping; nil means time.Now.
func New(cfg Config, now func() time.Time) *Limiter {
	cfg = normalize(cfg)
	if now == nil {
		now = time.Now
	}
	// NewLRU fails only for a non-positive size, which normalize rules out.
	ips, err := simplelru.NewLRU[netip.Addr, *ipEntry](cfg.MaxIPs, nil)
	if err != nil {
		panic("throttle: " + err.Error())
	}
	users, err := simplelru.NewLRU[string, *userEntry](cfg.MaxUsers, nil)
	if err != nil {
		panic("throttle: " + err.Error())
	}
	return &Limiter{cfg: cfg, now: now, ips: ips, users: users}
}

// normalize fills unset fields from the defaults, so that a zero value
// never means "no limit".
func normalize(cfg Config) Config {
	def := DefaultConfig()
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

// Ticket is what Reserve charged, so that Refund can take exactly that
// back. The zero Ticket (from a refused Reserve) charged nothing.
type Ticket struct {
	seq  uint64 // this charge; 0 for none
	key  netip.Addr
	name string
	// ipGen and userGen identify the counts that were charged, so a refund
	// never takes a failure from a count started after the window ended.
	ipGen, userGen uint64
	// The address's last failure, penalty and latest charge before this
	// one, restored if no other charge came since.
	prevLast, prevUntil time.Time
	prevLatest          uint64
	locked              bool // the charge locked the username
}

// Reserve asks whether an attempt from ip at username may go ahead now,
// and if so counts it as failed at once; the caller hands the ticket to
// Refund if the attempt was not a guess after all. When it may not go
// ahead, nothing is counted and retryAfter is how long to wait, rounded up
// to whole seconds and at least 1s, ready for a Retry-After header; if both
// the address and the username are held back, it is the longer wait.
//
// An empty username charges only the address (e.g. a wrong API token).
// trustedDevice (the request carries a valid device cookie for this
// account) skips the username lock but never the per-address limit, and
// the attempt still counts towards the username: the real user mistyping
// is rare next to the limit.
func (l *Limiter) Reserve(ip netip.Addr, username string, trustedDevice bool) (t Ticket, ok bool, retryAfter time.Duration) {
	key := addrKey(ip)
	var name string
	if username != "" {
		name = nameKey(username)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if wait := l.waitLocked(now, key, name, trustedDevice); wait > 0 {
		return Ticket{}, false, roundUp(wait)
	}
	return l.chargeLocked(now, key, name), true, 0
}

// waitLocked is how long an attempt must still wait; l.mu is held.
// Entries found expired are removed on the way.
func (l *Limiter) waitLocked(now time.Time, key netip.Addr, name string, trustedDevice bool) time.Duration {
	var wait time.Duration
	if e, found := l.ips.Get(key); found {
		if l.ipExpired(e, now) {
			l.ips.Remove(key)
		} else if d := e.until.Sub(now); d > 0 {
			wait = d
		}
	}
	if name != "" && !trustedDevice {
		if e, found := l.users.Get(name); found {
			if l.userExpired(e, now) {
				l.users.Remove(name)
			} else if d := e.locked.Sub(now); d > wait {
				wait = d
			}
		}
	}
	return wait
}

// chargeLocked counts one failure and returns the ticket that takes it
// back; l.mu is held.
func (l *Limiter) chargeLocked(now time.Time, key netip.Addr, name string) Ticket {
	l.seq++
	t := Ticket{seq: l.seq, key: key, name: name}
	e, found := l.ips.Get(key)
	switch {
	case !found:
		e = &ipEntry{gen: t.seq}
		l.ips.Add(key, e)
	case l.ipExpired(e, now):
		*e = ipEntry{gen: t.seq}
	default:
		t.prevLast, t.prevUntil, t.prevLatest = e.last, e.until, e.latest
	}
	t.ipGen = e.gen
	e.failures++
	e.last = now
	e.latest = t.seq
	if over := e.failures - l.cfg.IPFree; over > 0 {
		// later, not assignment: a penalty already set must never be
		// shortened, even if the clock steps back.
		e.until = later(e.until, now.Add(l.ipDelay(over)))
	}

	if name == "" {
		return t
	}
	u, found := l.users.Get(name)
	if !found {
		u = &userEntry{start: now, gen: t.seq}
		l.users.Add(name, u)
	} else if l.userExpired(u, now) {
		*u = userEntry{start: now, gen: t.seq}
	}
	t.userGen = u.gen
	u.failures++
	// == rather than >=: failures that still arrive while locked (from
	// trusted devices, or racing requests) must not extend the lock forever.
	if u.failures == l.cfg.UserMaxFailures {
		u.locked = now.Add(l.cfg.Window)
		t.locked = true
	}
	return t
}

// Refund takes back the failure that Reserve counted, for an attempt that
// was not a guess: it succeeded, or nothing was checked. Only the ticket's
// own charge is undone: the address's last failure and penalty go back to
// what they were only if no other charge came since (otherwise they stay,
// erring on the strict side), a lock goes only if this charge set it and
// no failure came after, and nothing older is reset (see Limiter). An
// entry left with no failures and no penalty is removed, so that successes
// do not fill the tables. Refund each ticket at most once; the zero Ticket
// is a no-op.
func (l *Limiter) Refund(t Ticket) {
	if t.seq == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if e, found := l.ips.Peek(t.key); found && e.gen == t.ipGen && e.failures > 0 {
		e.failures--
		if e.latest == t.seq {
			e.last, e.until, e.latest = t.prevLast, t.prevUntil, t.prevLatest
		}
		if e.failures == 0 && !e.until.After(now) {
			l.ips.Remove(t.key)
		}
	}
	if t.name == "" {
		return
	}
	if u, found := l.users.Peek(t.name); found && u.gen == t.userGen && u.failures > 0 {
		if t.locked && u.failures == l.cfg.UserMaxFailures {
			u.locked = time.Time{}
		}
		u.failures--
		if u.failures == 0 && !u.locked.After(now) {
			l.users.Remove(t.name)
		}
	}
}

// Len returns the number of address and username entries currently held,
// including expired ones not yet looked at; tests use it to check the
// bounds.
func (l *Limiter) Len() (ips, users int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ips.Len(), l.users.Len()
}

// ipExpired reports whether an address's failures have all aged out:
// Window since the last one, and any penalty served.
func (l *Limiter) ipExpired(e *ipEntry, now time.Time) bool {
	return !now.Before(e.last.Add(l.cfg.Window)) && !now.Before(e.until)
}

// userExpired reports whether a username's window is over and any lock
// served.
func (l *Limiter) userExpired(e *userEntry, now time.Time) bool {
	return !now.Before(e.start.Add(l.cfg.Window)) && !now.Before(e.locked)
}

// ipDelay is the wait after the over-th failure beyond the free ones:
// IPBaseDelay doubled over-1 times, capped at IPMaxDelay. The loop stops at
// the cap, so it neither overflows nor runs long for a huge count.
func (l *Limiter) ipDelay(over int) time.Duration {
	d := l.cfg.IPBaseDelay
	for i := 1; i < over && d < l.cfg.IPMaxDelay; i++ {
		d *= 2
	}
	return min(d, l.cfg.IPMaxDelay)
}
