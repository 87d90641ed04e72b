package handlers

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rlClock is a fake clock the tests advance by hand. The offset is atomic
// so the concurrency test can read it from many goroutines.
type rlClock struct {
	base time.Time
	off  atomic.Int64
}

func rlNewClock() *rlClock {
	return &rlClock{base: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *rlClock) now() time.Time          { return c.base.Add(time.Duration(c.off.Load())) }
func (c *rlClock) advance(d time.Duration) { c.off.Add(int64(d)) }

func rlNew(t testing.TB, cfg LimiterConfig) (*LoginLimiter, *rlClock) {
	t.Helper()
	c := rlNewClock()
	return NewLoginLimiter(cfg, c.now), c
}

// rlIP returns the n-th distinct IPv4 address in 10.0.0.0/8.
func rlIP(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
}

// rlWant checks one Allow call.
func rlWant(t *testing.T, l *LoginLimiter, ip netip.Addr, user string, trusted, wantOK bool, wantRetry time.Duration) {
	t.Helper()
	ok, retry := l.Allow(ip, user, trusted)
	if ok != wantOK || retry != wantRetry {
		t.Fatalf("Allow(%v, %q, trusted=%v) = (%v, %v), want (%v, %v)", ip, user, trusted, ok, retry, wantOK, wantRetry)
	}
}

func TestLoginLimiterDefaults(t *testing.T) {
	want := LimiterConfig{
		Window: 15 * time.Minute, IPFree: 5, IPBaseDelay: time.Second, IPMaxDelay: 15 * time.Minute,
		UserMaxFailures: 50, MaxIPs: 100_000, MaxUsers: 100_000,
	}
	if got := DefaultLimiterConfig(); got != want {
		t.Fatalf("DefaultLimiterConfig() = %+v, want %+v", got, want)
	}
	// A zero config must not mean "no limit".
	l, _ := rlNew(t, LimiterConfig{})
	if l.cfg != want {
		t.Fatalf("zero config normalised to %+v, want %+v", l.cfg, want)
	}
	// A negative IPFree means no free failures.
	l, _ = rlNew(t, LimiterConfig{IPFree: -1})
	ip := netip.MustParseAddr("192.0.2.1")
	l.Failure(ip, "")
	rlWant(t, l, ip, "", false, false, time.Second)
}

// TestLoginLimiterIPBackoff records n failures at one instant and checks the
// penalty: 5 free, then 1s doubling, capped at 15m.
func TestLoginLimiterIPBackoff(t *testing.T) {
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
			l, _ := rlNew(t, DefaultLimiterConfig())
			ip := netip.MustParseAddr("192.0.2.1")
			for range tt.failures {
				l.Failure(ip, "")
			}
			rlWant(t, l, ip, "", false, tt.wantOK, tt.wantRetry)
		})
	}
}

// TestLoginLimiterIPWaitDelay follows a patient attacker: each failure
// beyond the free ones doubles the wait, and serving the wait lets the next
// attempt through.
func TestLoginLimiterIPWaitDelay(t *testing.T) {
	l, clk := rlNew(t, DefaultLimiterConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	for i := 1; i <= 5; i++ {
		l.Failure(ip, "bob")
		rlWant(t, l, ip, "bob", false, true, 0)
	}
	want := time.Second
	for i := 6; i <= 16; i++ {
		l.Failure(ip, "bob")
		rlWant(t, l, ip, "bob", false, false, want)
		clk.advance(want - time.Second)
		rlWant(t, l, ip, "bob", false, false, time.Second)
		clk.advance(time.Second - time.Millisecond)
		rlWant(t, l, ip, "bob", false, false, time.Second) // 1ms left rounds up
		clk.advance(time.Millisecond)
		rlWant(t, l, ip, "bob", false, true, 0)
		want = min(2*want, 15*time.Minute)
	}
}

func TestLoginLimiterRetryRoundsUp(t *testing.T) {
	l, clk := rlNew(t, DefaultLimiterConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	for range 8 { // 4s penalty
		l.Failure(ip, "")
	}
	clk.advance(1500 * time.Millisecond)
	rlWant(t, l, ip, "", false, false, 3*time.Second) // 2.5s left
}

func TestLoginLimiterOtherIPUnaffected(t *testing.T) {
	l, _ := rlNew(t, DefaultLimiterConfig())
	bad, good := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for range 10 {
		l.Failure(bad, "alice")
	}
	rlWant(t, l, bad, "alice", false, false, 16*time.Second)
	rlWant(t, l, good, "alice", false, true, 0)
	rlWant(t, l, good, "", false, true, 0)
}

func TestLoginLimiterWindow(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.1")
	t.Run("window ends penalty", func(t *testing.T) {
		l, clk := rlNew(t, DefaultLimiterConfig())
		for range 20 {
			l.Failure(ip, "")
		}
		clk.advance(15*time.Minute - time.Second)
		rlWant(t, l, ip, "", false, false, time.Second)
		clk.advance(time.Second)
		rlWant(t, l, ip, "", false, true, 0)
		// The count started over: 5 free failures again.
		for range 5 {
			l.Failure(ip, "")
			rlWant(t, l, ip, "", false, true, 0)
		}
		l.Failure(ip, "")
		rlWant(t, l, ip, "", false, false, time.Second)
	})
	t.Run("count kept within window", func(t *testing.T) {
		l, clk := rlNew(t, DefaultLimiterConfig())
		for range 6 {
			l.Failure(ip, "")
		}
		clk.advance(10 * time.Minute) // penalty served, window not over
		rlWant(t, l, ip, "", false, true, 0)
		l.Failure(ip, "") // 7th
		rlWant(t, l, ip, "", false, false, 2*time.Second)
	})
	t.Run("penalty longer than window is served", func(t *testing.T) {
		cfg := DefaultLimiterConfig()
		cfg.Window, cfg.IPMaxDelay = time.Minute, time.Hour
		l, clk := rlNew(t, cfg)
		for range 13 { // 128s penalty, longer than the 1m window
			l.Failure(ip, "")
		}
		clk.advance(2 * time.Minute)
		rlWant(t, l, ip, "", false, false, 8*time.Second)
		clk.advance(8 * time.Second)
		rlWant(t, l, ip, "", false, true, 0)
	})
	t.Run("old failures forgotten", func(t *testing.T) {
		l, clk := rlNew(t, DefaultLimiterConfig())
		for range 5 {
			l.Failure(ip, "")
		}
		clk.advance(15 * time.Minute)
		l.Failure(ip, "") // 1st of a new window, free
		rlWant(t, l, ip, "", false, true, 0)
	})
}

// TestLoginLimiterSuccessResetsNothing: a success must not buy the address
// more guesses, nor unlock the username for untrusted devices.
func TestLoginLimiterSuccessResetsNothing(t *testing.T) {
	l, _ := rlNew(t, DefaultLimiterConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	for range 6 {
		l.Failure(ip, "victim")
	}
	l.Success(ip, "mine")
	rlWant(t, l, ip, "victim", false, false, time.Second)
	rlWant(t, l, ip, "mine", false, false, time.Second)

	for i := range 50 {
		l.Failure(rlIP(i), "target")
	}
	l.Success(rlIP(1000), "target")
	rlWant(t, l, rlIP(1001), "target", false, false, 15*time.Minute)
}

// TestLoginLimiterUsername spreads 50 failures over 50 addresses, so no
// per-IP limit applies, and checks the username lock.
func TestLoginLimiterUsername(t *testing.T) {
	tests := []struct {
		name string
		user string
	}{
		{"unknown name", "no-such-user-x7"},
		{"known-looking name", "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk := rlNew(t, DefaultLimiterConfig())
			for i := range 49 {
				l.Failure(rlIP(i), tt.user)
			}
			fresh := netip.MustParseAddr("198.51.100.7")
			rlWant(t, l, fresh, tt.user, false, true, 0) // 49: not yet
			l.Failure(rlIP(49), tt.user)

			rlWant(t, l, fresh, tt.user, false, false, 15*time.Minute)
			rlWant(t, l, fresh, tt.user, true, true, 0) // the real user's device
			rlWant(t, l, fresh, "someone-else", false, true, 0)
			rlWant(t, l, fresh, "", false, true, 0)

			clk.advance(15*time.Minute - time.Second)
			rlWant(t, l, fresh, tt.user, false, false, time.Second)
			clk.advance(time.Second)
			rlWant(t, l, fresh, tt.user, false, true, 0)
		})
	}
}

// TestLoginLimiterTrustedDeviceStillPerIP: a device cookie skips the
// username lock, not the per-address limit.
func TestLoginLimiterTrustedDeviceStillPerIP(t *testing.T) {
	l, _ := rlNew(t, DefaultLimiterConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	for range 7 {
		l.Failure(ip, "carol")
	}
	rlWant(t, l, ip, "carol", true, false, 2*time.Second)
}

// TestLoginLimiterUserLockNotExtended: failures that still arrive while the
// name is locked (e.g. the real user mistyping on a trusted device) must not
// push the lock further out.
func TestLoginLimiterUserLockNotExtended(t *testing.T) {
	l, clk := rlNew(t, DefaultLimiterConfig())
	for i := range 50 {
		l.Failure(rlIP(i), "dave")
	}
	clk.advance(10 * time.Minute)
	l.Failure(rlIP(100), "dave")
	rlWant(t, l, rlIP(200), "dave", false, false, 5*time.Minute)
}

// TestLoginLimiterUserWindowSpread: 50 failures spread over more than the
// window never lock the name.
func TestLoginLimiterUserWindowSpread(t *testing.T) {
	l, clk := rlNew(t, DefaultLimiterConfig())
	for i := range 50 {
		l.Failure(rlIP(i), "erin")
		clk.advance(time.Minute)
	}
	rlWant(t, l, rlIP(999), "erin", false, true, 0)
}

func TestLoginLimiterUsernameCaseInsensitive(t *testing.T) {
	l, _ := rlNew(t, DefaultLimiterConfig())
	spellings := []string{"Admin", "ADMIN", "admin", "aDmIn"}
	for i := range 50 {
		l.Failure(rlIP(i), spellings[i%len(spellings)])
	}
	for _, s := range append(spellings, "AdMiN") {
		rlWant(t, l, rlIP(999), s, false, false, 15*time.Minute)
	}
	if _, users := l.Len(); users != 1 {
		t.Fatalf("users = %d, want 1 entry for all spellings", users)
	}
}

// TestLoginLimiterIPKey checks which addresses share a counter: an IPv6 /64,
// and an IPv4 address with its IPv4-mapped IPv6 form.
func TestLoginLimiterIPKey(t *testing.T) {
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
			l, _ := rlNew(t, DefaultLimiterConfig())
			a, b := netip.MustParseAddr(tt.a), netip.MustParseAddr(tt.b)
			for range 6 {
				l.Failure(a, "")
			}
			rlWant(t, l, a, "", false, false, time.Second)
			ok, _ := l.Allow(b, "", false)
			if ok == tt.share {
				t.Fatalf("after failures from %v, Allow(%v) = %v; want shared=%v", a, b, ok, tt.share)
			}
		})
	}
}

// TestLoginLimiterBounded checks that both tables stay at their size and
// drop the least recently used entry, where Allow counts as use.
func TestLoginLimiterBounded(t *testing.T) {
	cfg := DefaultLimiterConfig()
	cfg.MaxIPs, cfg.MaxUsers = 3, 3
	l, _ := rlNew(t, cfg)
	block := func(n int) {
		for range 6 {
			l.Failure(rlIP(n), "")
		}
	}
	block(1)
	block(2)
	block(3)
	rlWant(t, l, rlIP(1), "", false, false, time.Second) // touch 1: now 2 is oldest
	block(4)
	block(5)
	if ips, users := l.Len(); ips != 3 || users != 0 {
		t.Fatalf("Len() = %d, %d; want 3, 0", ips, users)
	}
	for n, wantOK := range map[int]bool{1: false, 2: true, 3: true, 4: false, 5: false} {
		if ok, _ := l.Allow(rlIP(n), "", false); ok != wantOK {
			t.Errorf("Allow(%v) = %v, want %v", rlIP(n), ok, wantOK)
		}
	}
	// Allow never adds entries.
	if ips, _ := l.Len(); ips != 3 {
		t.Fatalf("Allow added entries: ips = %d", ips)
	}

	for i := range 5 {
		l.Failure(rlIP(100), fmt.Sprint("user", i))
	}
	if _, users := l.Len(); users != 3 {
		t.Fatalf("users = %d, want 3", users)
	}
}

func TestLoginLimiterEmptyUsername(t *testing.T) {
	l, _ := rlNew(t, DefaultLimiterConfig())
	l.Failure(netip.MustParseAddr("192.0.2.1"), "")
	if ips, users := l.Len(); ips != 1 || users != 0 {
		t.Fatalf("Len() = %d, %d; want 1, 0", ips, users)
	}
}

func TestLoginLimiterExpiredEntryRemoved(t *testing.T) {
	l, clk := rlNew(t, DefaultLimiterConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	l.Failure(ip, "frank")
	clk.advance(15 * time.Minute)
	rlWant(t, l, ip, "frank", false, true, 0)
	if ips, users := l.Len(); ips != 0 || users != 0 {
		t.Fatalf("Len() = %d, %d after expiry; want 0, 0", ips, users)
	}
}

// TestLoginLimiterAllowNoAllocs: Allow for known keys must not allocate.
func TestLoginLimiterAllowNoAllocs(t *testing.T) {
	l, _ := rlNew(t, DefaultLimiterConfig())
	ip := netip.MustParseAddr("2001:db8::1")
	for range 3 {
		l.Failure(ip, "grace")
	}
	if n := testing.AllocsPerRun(100, func() { l.Allow(ip, "grace", false) }); n != 0 {
		t.Fatalf("Allow allocates %v times per call", n)
	}
}

// TestLoginLimiterConcurrent hammers one limiter from 50 goroutines; run
// with -race. Afterwards the IP table must be within its bound (it evicted
// under contention) and the shared username must have seen every failure
// exactly once (no lost updates).
func TestLoginLimiterConcurrent(t *testing.T) {
	cfg := DefaultLimiterConfig()
	cfg.MaxIPs = 20 // force evictions under contention too
	l, clk := rlNew(t, cfg)
	shared := netip.MustParseAddr("203.0.113.1")
	const workers, iters = 50, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range iters {
				l.Failure(shared, "Hammer")
				l.Failure(rlIP(w*iters+i), fmt.Sprint("u", i%7))
				l.Allow(shared, "hammer", i%2 == 0)
				l.Allow(rlIP(w), "u1", false)
				l.Success(shared, "hammer")
				if i%50 == 0 {
					clk.advance(time.Millisecond)
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
	rlWant(t, l, rlIP(99999), "HAMMER", false, false, 15*time.Minute)
}

func BenchmarkLoginLimiterAllow(b *testing.B) {
	l, _ := rlNew(b, DefaultLimiterConfig())
	ip := netip.MustParseAddr("2001:db8::1")
	for range 3 {
		l.Failure(ip, "alice")
	}
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(ip, "alice", false)
	}
}

// TestLoginLimiterOversizedNamesShareOneKey checks that a long username
// cannot pin its own bytes in the table: every over-long name shares one
// entry.
func TestLoginLimiterOversizedNamesShareOneKey(t *testing.T) {
	l := NewLoginLimiter(DefaultLimiterConfig(), nil)
	ip := netip.MustParseAddr("192.0.2.1")
	for i := 0; i < 3; i++ {
		l.Failure(ip, strings.Repeat(string(rune('a'+i)), 1<<20))
	}
	if _, users := l.Len(); users != 1 {
		t.Errorf("%d username entries for three oversized names, want 1", users)
	}
	if k := rlUserKey(strings.Repeat("x", 1<<20)); len(k) > rlMaxUserKey {
		t.Errorf("key of %d bytes", len(k))
	}
}
