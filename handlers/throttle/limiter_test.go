package throttle

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func newLimiter(t testing.TB, cfg Config) (*Limiter, *testkit.Clock) {
	t.Helper()
	c := testkit.ClockAt(testkit.Epoch)
	return New(cfg, c.Now), c
}

// ipN returns the n-th distinct IPv4 address in 10.0.0.0/8.
func ipN(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

// want checks whether an attempt may go ahead now, the way a caller that
// turns out not to guess does: Reserve, and Refund if it was let through.
func want(t *testing.T, l *Limiter, ip netip.Addr, user string, trusted, wantOK bool, wantRetry time.Duration) {
	t.Helper()
	tk, ok, retry := l.Reserve(ip, user, trusted)
	l.Refund(tk)
	if ok != wantOK || retry != wantRetry {
		t.Fatalf("Reserve(%v, %q, trusted=%v) = (%v, %v), want (%v, %v)", ip, user, trusted, ok, retry, wantOK, wantRetry)
	}
}

// fail makes one failed attempt that the limiter must let through: Reserve,
// and keep the charge.
func fail(t testing.TB, l *Limiter, ip netip.Addr, user string, trusted bool) {
	t.Helper()
	if _, ok, retry := l.Reserve(ip, user, trusted); !ok {
		t.Fatalf("Reserve(%v, %q, trusted=%v) refused (retry %v), want a failed attempt", ip, user, trusted, retry)
	}
}

// failPatiently makes n failed attempts from ip at user, each as soon as
// the limiter lets it: a refused attempt waits out its Retry-After on clk
// and tries again. It is how one address piles up failures under Reserve,
// which never counts a refused attempt.
func failPatiently(t testing.TB, l *Limiter, clk *testkit.Clock, ip netip.Addr, user string, n int) {
	t.Helper()
	for range n {
		_, ok, retry := l.Reserve(ip, user, false)
		if !ok {
			clk.Advance(retry)
			fail(t, l, ip, user, false)
		}
	}
}

func TestLimiterDefaults(t *testing.T) {
	t.Parallel()
	def := Config{
		Window: 15 * time.Minute, IPFree: 5, IPBaseDelay: time.Second, IPMaxDelay: 15 * time.Minute,
		UserMaxFailures: 50, MaxIPs: 100_000, MaxUsers: 100_000,
	}
	if got := DefaultConfig(); got != def {
		t.Fatalf("DefaultConfig() = %+v, want %+v", got, def)
	}
	// A zero config must not mean "no limit".
	l, _ := newLimiter(t, Config{})
	if l.cfg != def {
		t.Fatalf("zero config normalised to %+v, want %+v", l.cfg, def)
	}
	// A negative IPFree means no free failures.
	l, _ = newLimiter(t, Config{IPFree: -1})
	ip := netip.MustParseAddr("192.0.2.1")
	fail(t, l, ip, "", false)
	want(t, l, ip, "", false, false, time.Second)
}

// TestLimiterIPBackoff makes n failures from one address, each as soon as
// it is let through, and checks the penalty the last one set: 5 free, then
// 1s doubling, capped at 15m. The window is long so that serving a capped
// penalty does not also end the window and start the count over.
func TestLimiterIPBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		failures  int
		wantOK    bool
		wantRetry time.Duration
	}{
		{0, true, 0},
		{1, true, 0},
		{5, true, 0},
		{6, false, 1 * time.Second},
		{7, false, 2 * time.Second},
		{8, false, 4 * time.Second},
		{9, false, 8 * time.Second},
		{15, false, 512 * time.Second},
		{16, false, 15 * time.Minute}, // 1024s, capped
		{17, false, 15 * time.Minute},
		{1000, false, 15 * time.Minute}, // no overflow
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.failures), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Window = 24 * time.Hour
			l, clk := newLimiter(t, cfg)
			ip := netip.MustParseAddr("192.0.2.1")
			failPatiently(t, l, clk, ip, "", tt.failures)
			want(t, l, ip, "", false, tt.wantOK, tt.wantRetry)
		})
	}
}

// TestLimiterRefusedNotCounted: attempts refused while the address waits
// are not counted, so a burst at one instant gets exactly the free
// failures plus the one that sets the first wait, and the wait stays 1s
// however many more are refused.
func TestLimiterRefusedNotCounted(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, DefaultConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	passed := 0
	for range 40 {
		if _, ok, _ := l.Reserve(ip, "bob", false); ok {
			passed++
		}
	}
	if passed != 6 {
		t.Fatalf("%d of 40 attempts at one instant let through, want 6", passed)
	}
	want(t, l, ip, "", false, false, time.Second)
	if e, _ := l.ips.Peek(addrKey(ip)); e.failures != 6 {
		t.Fatalf("%d failures counted, want 6", e.failures)
	}
}

// TestLimiterIPWaitDelay follows a patient attacker: each failure beyond
// the free ones doubles the wait, and serving the wait lets the next
// attempt through.
func TestLimiterIPWaitDelay(t *testing.T) {
	t.Parallel()
	l, clk := newLimiter(t, DefaultConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	for i := 1; i <= 5; i++ {
		fail(t, l, ip, "bob", false)
		want(t, l, ip, "bob", false, true, 0)
	}
	wait := time.Second
	for i := 6; i <= 16; i++ {
		fail(t, l, ip, "bob", false)
		want(t, l, ip, "bob", false, false, wait)
		clk.Advance(wait - time.Second)
		want(t, l, ip, "bob", false, false, time.Second)
		clk.Advance(time.Second - time.Millisecond)
		want(t, l, ip, "bob", false, false, time.Second) // 1ms left rounds up
		clk.Advance(time.Millisecond)
		want(t, l, ip, "bob", false, true, 0)
		wait = min(2*wait, 15*time.Minute)
	}
}

func TestLimiterRetryRoundsUp(t *testing.T) {
	t.Parallel()
	l, clk := newLimiter(t, DefaultConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	failPatiently(t, l, clk, ip, "", 8) // 4s penalty
	clk.Advance(1500 * time.Millisecond)
	want(t, l, ip, "", false, false, 3*time.Second) // 2.5s left
}

func TestLimiterOtherIPUnaffected(t *testing.T) {
	t.Parallel()
	l, clk := newLimiter(t, DefaultConfig())
	bad, good := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	failPatiently(t, l, clk, bad, "alice", 10)
	want(t, l, bad, "alice", false, false, 16*time.Second)
	want(t, l, good, "alice", false, true, 0)
	want(t, l, good, "", false, true, 0)
}

func TestLimiterWindow(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr("192.0.2.1")
	t.Run("window ends penalty", func(t *testing.T) {
		l, clk := newLimiter(t, DefaultConfig())
		failPatiently(t, l, clk, ip, "", 16) // a 15m penalty, as long as the window
		clk.Advance(15*time.Minute - time.Second)
		want(t, l, ip, "", false, false, time.Second)
		clk.Advance(time.Second)
		want(t, l, ip, "", false, true, 0)
		// The count started over: 5 free failures again.
		for range 5 {
			fail(t, l, ip, "", false)
			want(t, l, ip, "", false, true, 0)
		}
		fail(t, l, ip, "", false)
		want(t, l, ip, "", false, false, time.Second)
	})
	t.Run("count kept within window", func(t *testing.T) {
		l, clk := newLimiter(t, DefaultConfig())
		failPatiently(t, l, clk, ip, "", 6)
		clk.Advance(10 * time.Minute) // penalty served, window not over
		want(t, l, ip, "", false, true, 0)
		fail(t, l, ip, "", false) // 7th
		want(t, l, ip, "", false, false, 2*time.Second)
	})
	t.Run("penalty longer than window is served", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Window, cfg.IPMaxDelay = time.Minute, time.Hour
		l, clk := newLimiter(t, cfg)
		failPatiently(t, l, clk, ip, "", 12) // the 12th sets 64s, longer than the 1m window
		clk.Advance(time.Minute)
		want(t, l, ip, "", false, false, 4*time.Second)
		clk.Advance(4 * time.Second)
		want(t, l, ip, "", false, true, 0)
	})
	t.Run("old failures forgotten", func(t *testing.T) {
		l, clk := newLimiter(t, DefaultConfig())
		failPatiently(t, l, clk, ip, "", 5)
		clk.Advance(15 * time.Minute)
		fail(t, l, ip, "", false) // 1st of a new window, free
		want(t, l, ip, "", false, true, 0)
	})
}

// TestLimiterRefundResetsNothing: a success refunds its own charge only. It
// must not buy the address more guesses, nor unlock the username for
// untrusted devices.
func TestLimiterRefundResetsNothing(t *testing.T) {
	t.Parallel()
	l, clk := newLimiter(t, DefaultConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	failPatiently(t, l, clk, ip, "victim", 6)
	clk.Advance(time.Second) // the 1s wait served
	tk, ok, _ := l.Reserve(ip, "mine", false)
	if !ok {
		t.Fatal("the attacker's own login was refused")
	}
	l.Refund(tk) // it succeeded
	// The next failure is the 7th, not the 1st of a fresh count.
	fail(t, l, ip, "victim", false)
	want(t, l, ip, "victim", false, false, 2*time.Second)
	want(t, l, ip, "mine", false, false, 2*time.Second)

	for i := range 50 {
		fail(t, l, ipN(i), "target", false)
	}
	tk, ok, _ = l.Reserve(ipN(1000), "target", true)
	if !ok {
		t.Fatal("the real user's device was refused")
	}
	l.Refund(tk)
	want(t, l, ipN(1001), "target", false, false, 15*time.Minute)
}

// TestLimiterRefund: a refund undoes exactly its own charge. Refunds in
// the reverse order of their charges restore the address as it was; in
// charge order, the first refund keeps the penalty that the later charge
// set, and only the later refund lifts it. A lock the refunded charge set
// is lifted, a refund after the window ended takes nothing from the new
// count, and the zero Ticket is a no-op.
func TestLimiterRefund(t *testing.T) {
	t.Parallel()
	ip := netip.MustParseAddr("192.0.2.1")
	setup := func(t *testing.T) (*Limiter, *testkit.Clock, ipEntry, Ticket, Ticket) {
		l, clk := newLimiter(t, DefaultConfig())
		for range 4 {
			fail(t, l, ip, "", false)
		}
		before := *l.mustIP(t, ip)
		clk.Advance(time.Minute)
		a, _, _ := l.Reserve(ip, "", false) // 5th, free
		b, _, _ := l.Reserve(ip, "", false) // 6th, sets the 1s wait
		return l, clk, before, a, b
	}
	t.Run("last charge first", func(t *testing.T) {
		l, clk, before, a, b := setup(t)
		l.Refund(b)
		want(t, l, ip, "", false, true, 0)
		l.Refund(a)
		if got := *l.mustIP(t, ip); got.failures != before.failures || got.last != before.last || got.until != before.until {
			t.Fatalf("after both refunds the address is %+v, want %+v as before", got, before)
		}
		// The 4 failures still age out from the last of them.
		clk.Advance(14 * time.Minute)
		want(t, l, ip, "", false, true, 0)
		if ips, _ := l.Len(); ips != 0 {
			t.Fatalf("ips = %d after the window, want 0", ips)
		}
	})
	t.Run("first charge first", func(t *testing.T) {
		l, _, _, a, b := setup(t)
		l.Refund(a)
		want(t, l, ip, "", false, false, time.Second) // b's penalty is kept
		l.Refund(b)
		want(t, l, ip, "", false, true, 0)
		if got := l.mustIP(t, ip).failures; got != 4 {
			t.Fatalf("%d failures after both refunds, want 4", got)
		}
	})
	t.Run("after the window", func(t *testing.T) {
		l, clk, _, a, b := setup(t)
		clk.Advance(16 * time.Minute)
		fail(t, l, ip, "", false) // 1st of a new count
		l.Refund(a)
		l.Refund(b)
		if got := l.mustIP(t, ip).failures; got != 1 {
			t.Fatalf("%d failures in the new count, want 1", got)
		}
	})
	t.Run("lock", func(t *testing.T) {
		l, _ := newLimiter(t, DefaultConfig())
		for i := range 49 {
			fail(t, l, ipN(i), "henry", false)
		}
		tk, _, _ := l.Reserve(ipN(49), "henry", false) // the 50th locks the name
		want(t, l, ipN(50), "henry", false, false, 15*time.Minute)
		l.Refund(tk)
		want(t, l, ipN(50), "henry", false, true, 0)
		l.Refund(Ticket{})
		if ips, users := l.Len(); ips != 49 || users != 1 {
			t.Fatalf("Len() = %d, %d; want 49, 1", ips, users)
		}
	})
}

// mustIP returns the entry of ip's key.
func (l *Limiter) mustIP(t *testing.T, ip netip.Addr) *ipEntry {
	t.Helper()
	e, ok := l.ips.Peek(addrKey(ip))
	if !ok {
		t.Fatalf("no entry for %v", ip)
	}
	return e
}

// TestLimiterUsername spreads 50 failures over 50 addresses, so no per-IP
// limit applies, and checks the username lock.
func TestLimiterUsername(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		user string
	}{
		{"unknown name", "no-such-user-x7"},
		{"known-looking name", "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := newLimiter(t, DefaultConfig())
			for i := range 49 {
				fail(t, l, ipN(i), tt.user, false)
			}
			fresh := netip.MustParseAddr("198.51.100.7")
			want(t, l, fresh, tt.user, false, true, 0) // 49: not yet
			fail(t, l, ipN(49), tt.user, false)

			want(t, l, fresh, tt.user, false, false, 15*time.Minute)
			want(t, l, fresh, tt.user, true, true, 0) // the real user's device
			want(t, l, fresh, "someone-else", false, true, 0)
			want(t, l, fresh, "", false, true, 0)

			clk.Advance(15*time.Minute - time.Second)
			want(t, l, fresh, tt.user, false, false, time.Second)
			clk.Advance(time.Second)
			want(t, l, fresh, tt.user, false, true, 0)
		})
	}
}

// TestLimiterTrustedDeviceStillPerIP: a device cookie skips the username
// lock, not the per-address limit.
func TestLimiterTrustedDeviceStillPerIP(t *testing.T) {
	t.Parallel()
	l, clk := newLimiter(t, DefaultConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	failPatiently(t, l, clk, ip, "carol", 7)
	want(t, l, ip, "carol", true, false, 2*time.Second)
}

// TestLimiterUserLockNotExtended: failures that still arrive while the name
// is locked (the real user mistyping on a trusted device) must not push the
// lock further out.
func TestLimiterUserLockNotExtended(t *testing.T) {
	t.Parallel()
	l, clk := newLimiter(t, DefaultConfig())
	for i := range 50 {
		fail(t, l, ipN(i), "dave", false)
	}
	clk.Advance(10 * time.Minute)
	fail(t, l, ipN(100), "dave", true)
	want(t, l, ipN(200), "dave", false, false, 5*time.Minute)
}

// TestLimiterUserWindowSpread: 50 failures spread over more than the
// window never lock the name.
func TestLimiterUserWindowSpread(t *testing.T) {
	t.Parallel()
	l, clk := newLimiter(t, DefaultConfig())
	for i := range 50 {
		fail(t, l, ipN(i), "erin", false)
		clk.Advance(time.Minute)
	}
	want(t, l, ipN(999), "erin", false, true, 0)
}

func TestLimiterUsernameCaseInsensitive(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, DefaultConfig())
	spellings := []string{"Admin", "ADMIN", "admin", "aDmIn"}
	for i := range 50 {
		fail(t, l, ipN(i), spellings[i%len(spellings)], false)
	}
	for _, s := range append(spellings, "AdMiN") {
		want(t, l, ipN(999), s, false, false, 15*time.Minute)
	}
	if _, users := l.Len(); users != 1 {
		t.Fatalf("users = %d, want 1 entry for all spellings", users)
	}
}

// TestLimiterIPKey checks which addresses share a counter: an IPv6 /64,
// and an IPv4 address with its IPv4-mapped IPv6 form.
func TestLimiterIPKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b  string
		share bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"2001:db8:1:2::1", "2001:db8:1:2::1%eth0", true},
		{"fe80::1%eth0", "fe80::2%eth1", true},
		{"::ffff:10.0.0.1", "10.0.0.1", true},
		{"10.0.0.1", "::ffff:10.0.0.1", true},
		{"10.0.0.1", "10.0.0.2", false},
		{"10.0.0.1", "::a00:1", false}, // IPv4-compatible is not IPv4-mapped
	}
	for _, tt := range tests {
		t.Run(tt.a+"~"+tt.b, func(t *testing.T) {
			l, _ := newLimiter(t, DefaultConfig())
			a, b := netip.MustParseAddr(tt.a), netip.MustParseAddr(tt.b)
			for range 6 {
				fail(t, l, a, "", false)
			}
			want(t, l, a, "", false, false, time.Second)
			tk, ok, _ := l.Reserve(b, "", false)
			l.Refund(tk)
			if ok == tt.share {
				t.Fatalf("after failures from %v, Reserve(%v) ok = %v; want shared=%v", a, b, ok, tt.share)
			}
		})
	}
}

// TestLimiterBounded checks that both tables stay at their size and drop
// the least recently used entry, where a refused Reserve counts as use.
func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.MaxIPs, cfg.MaxUsers = 3, 3
	l, _ := newLimiter(t, cfg)
	block := func(n int) {
		for range 6 {
			fail(t, l, ipN(n), "", false)
		}
	}
	block(1)
	block(2)
	block(3)
	want(t, l, ipN(1), "", false, false, time.Second) // touch 1: now 2 is oldest
	block(4)
	block(5)
	if ips, users := l.Len(); ips != 3 || users != 0 {
		t.Fatalf("Len() = %d, %d; want 3, 0", ips, users)
	}
	for n, kept := range map[int]bool{1: true, 2: false, 3: false, 4: true, 5: true} {
		if _, ok := l.ips.Peek(addrKey(ipN(n))); ok != kept {
			t.Errorf("entry for %v kept = %v, want %v", ipN(n), ok, kept)
		}
	}
	// Refused attempts add nothing.
	want(t, l, ipN(4), "", false, false, time.Second)
	if ips, _ := l.Len(); ips != 3 {
		t.Fatalf("a refused attempt changed the table: ips = %d", ips)
	}

	for i := range 5 {
		fail(t, l, ipN(100), fmt.Sprint("user", i), false)
	}
	if _, users := l.Len(); users != 3 {
		t.Fatalf("users = %d, want 3", users)
	}
}

// TestLimiterRefundedLeavesNoEntry: an attempt that is refunded (a success,
// or a probe that checked nothing) from a new address at a new name leaves
// no entry behind, so successes cannot fill the tables.
func TestLimiterRefundedLeavesNoEntry(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, DefaultConfig())
	for i := range 100 {
		tk, ok, _ := l.Reserve(ipN(i), fmt.Sprint("user", i), false)
		if !ok {
			t.Fatalf("attempt %d refused", i)
		}
		l.Refund(tk)
	}
	if ips, users := l.Len(); ips != 0 || users != 0 {
		t.Fatalf("Len() = %d, %d after refunded attempts; want 0, 0", ips, users)
	}
}

func TestLimiterEmptyUsername(t *testing.T) {
	t.Parallel()
	l, _ := newLimiter(t, DefaultConfig())
	fail(t, l, netip.MustParseAddr("192.0.2.1"), "", false)
	if ips, users := l.Len(); ips != 1 || users != 0 {
		t.Fatalf("Len() = %d, %d; want 1, 0", ips, users)
	}
}

func TestLimiterExpiredEntryRemoved(t *testing.T) {
	t.Parallel()
	l, clk := newLimiter(t, DefaultConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	fail(t, l, ip, "frank", false)
	clk.Advance(15 * time.Minute)
	want(t, l, ip, "frank", false, true, 0)
	if ips, users := l.Len(); ips != 0 || users != 0 {
		t.Fatalf("Len() = %d, %d after expiry; want 0, 0", ips, users)
	}
}

// TestLimiterReserveNoAllocs: Reserve and Refund for known keys must not
// allocate, let through or refused.
func TestLimiterReserveNoAllocs(t *testing.T) {
	l, clk := newLimiter(t, DefaultConfig())
	ip := netip.MustParseAddr("2001:db8::1")
	for range 3 {
		fail(t, l, ip, "grace", false)
	}
	if n := testing.AllocsPerRun(100, func() {
		tk, _, _ := l.Reserve(ip, "grace", false)
		l.Refund(tk)
	}); n != 0 {
		t.Fatalf("Reserve and Refund allocate %v times per call", n)
	}
	failPatiently(t, l, clk, ip, "grace", 3) // now waiting
	if n := testing.AllocsPerRun(100, func() { l.Reserve(ip, "grace", false) }); n != 0 {
		t.Fatalf("a refused Reserve allocates %v times per call", n)
	}
}

// TestLimiterConcurrent hammers one limiter from 50 goroutines; run with
// -race. Afterwards the IP table must be within its bound (it evicted under
// contention) and the shared username must have kept exactly the charges
// that were not refunded (no lost updates).
func TestLimiterConcurrent(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.MaxIPs = 20 // force evictions under contention too
	l, clk := newLimiter(t, cfg)
	shared := netip.MustParseAddr("203.0.113.1")
	const workers, iters = 50, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range iters {
				ip := ipN(w*iters + i)
				// Two failures at "Hammer" from a trusted device (never
				// refused by the lock), one of them refunded.
				kept, ok1, _ := l.Reserve(ip, "Hammer", true)
				back, ok2, _ := l.Reserve(ip, "hammer", true)
				if !ok1 || !ok2 {
					t.Errorf("a trusted attempt from a fresh address was refused")
				}
				_ = kept
				l.Refund(back)
				// Failures at other names, and probes that refund.
				l.Reserve(ip, fmt.Sprint("u", i%7), false)
				tk, _, _ := l.Reserve(shared, "hammer", i%2 == 0)
				l.Refund(tk)
				tk, _, _ = l.Reserve(ipN(w), "u1", false)
				l.Refund(tk)
				if i%50 == 0 {
					clk.Advance(time.Millisecond)
					l.Len()
				}
			}
		})
	}
	wg.Wait()
	ips, users := l.Len()
	if ips > 20 || users != 8 {
		t.Fatalf("Len() = %d, %d; want <= 20, 8", ips, users)
	}
	l.mu.Lock()
	u, _ := l.users.Peek("hammer")
	l.mu.Unlock()
	if u == nil || u.failures != workers*iters {
		t.Fatalf("hammer entry = %+v; want %d failures", u, workers*iters)
	}
	want(t, l, ipN(99999), "HAMMER", false, false, 15*time.Minute)
}

func BenchmarkLimiterReserve(b *testing.B) {
	l, _ := newLimiter(b, DefaultConfig())
	ip := netip.MustParseAddr("2001:db8::1")
	for range 3 {
		fail(b, l, ip, "alice", false)
	}
	b.ReportAllocs()
	for b.Loop() {
		tk, _, _ := l.Reserve(ip, "alice", false)
		l.Refund(tk)
	}
}

// TestLimiterOversizedNamesShareOneKey checks that a long username cannot
// pin its own bytes in the table: every over-long name shares one entry.
func TestLimiterOversizedNamesShareOneKey(t *testing.T) {
	t.Parallel()
	l := New(DefaultConfig(), nil)
	ip := netip.MustParseAddr("192.0.2.1")
	for i := 0; i < 3; i++ {
		fail(t, l, ip, strings.Repeat(string(rune('a'+i)), 1<<20), false)
	}
	if _, users := l.Len(); users != 1 {
		t.Errorf("%d username entries for three oversized names, want 1", users)
	}
	if k := nameKey(strings.Repeat("x", 1<<20)); len(k) > maxNameKey {
		t.Errorf("key of %d bytes", len(k))
	}
}

// TestLimiterUsernameASCIIOnly: only ASCII letters are folded. The Kelvin
// sign (U+212A) lower-cases to 'k' under Unicode rules, but "\u212Aate" is
// not a spelling of "kate": it counts as a name of its own, like any
// unknown name.
func TestLimiterUsernameASCIIOnly(t *testing.T) {
	l, _ := newLimiter(t, DefaultConfig())
	for i := range 50 {
		fail(t, l, ipN(i), "\u212Aate", false)
	}
	want(t, l, ipN(999), "\u212Aate", false, false, 15*time.Minute)
	want(t, l, ipN(999), "kate", false, true, 0)
	want(t, l, ipN(999), "KATE", false, true, 0)
	if _, users := l.Len(); users != 1 {
		t.Fatalf("users = %d, want 1 entry", users)
	}
}
