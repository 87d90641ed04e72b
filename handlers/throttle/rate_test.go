package throttle

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func newRate(t testing.TB, cfg RateConfig) (*Rate, *testkit.Clock) {
	t.Helper()
	c := testkit.ClockAt(testkit.Epoch)
	return NewRate(cfg, c.Now), c
}

// wantRate checks one Allow call.
func wantRate(t *testing.T, r *Rate, ip netip.Addr, wantOK bool, wantRetry time.Duration) {
	t.Helper()
	ok, retry := r.Allow(ip)
	if ok != wantOK || retry != wantRetry {
		t.Fatalf("Allow(%v) = (%v, %v), want (%v, %v)", ip, ok, retry, wantOK, wantRetry)
	}
}

func TestRateDefaults(t *testing.T) {
	t.Parallel()
	def := RateConfig{Limit: 30, Window: time.Minute, MaxKeys: 10_000}
	if got := DefaultRateConfig(); got != def {
		t.Fatalf("DefaultRateConfig() = %+v, want %+v", got, def)
	}
	// A zero or negative config must mean neither "no limit" nor "refuse
	// everything".
	for _, cfg := range []RateConfig{{}, {Limit: -1, Window: -time.Second, MaxKeys: -5}} {
		if r, _ := newRate(t, cfg); r.cfg != def {
			t.Errorf("%+v normalised to %+v, want %+v", cfg, r.cfg, def)
		}
	}
}

// TestRateSpreadOverWindow checks the rate, not only a burst: 30 requests
// spread over a minute all pass, the 31st within that minute is refused
// until the first one is a minute old, and from then on each request may
// come once the one 30 before it has left the window.
func TestRateSpreadOverWindow(t *testing.T) {
	t.Parallel()
	r, clk := newRate(t, DefaultRateConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	for i := range 30 {
		if i > 0 {
			clk.Advance(2 * time.Second) // t = 0s, 2s, …, 58s
		}
		wantRate(t, r, ip, true, 0)
	}
	clk.Advance(1500 * time.Millisecond) // 59.5s: the first is 59.5s old
	wantRate(t, r, ip, false, time.Second)
	clk.Advance(500 * time.Millisecond) // 60s
	wantRate(t, r, ip, true, 0)
	wantRate(t, r, ip, false, 2*time.Second) // the second (at 2s) is 58s old
	clk.Advance(2 * time.Second)
	wantRate(t, r, ip, true, 0)
}

// TestRateBurst: a burst of 30 at one instant passes, then every request is
// refused with the time until the window ends, refused requests are not
// recorded, and after the window the address has its full 30 again.
func TestRateBurst(t *testing.T) {
	t.Parallel()
	r, clk := newRate(t, DefaultRateConfig())
	ip := netip.MustParseAddr("192.0.2.1")
	for range 30 {
		wantRate(t, r, ip, true, 0)
	}
	for range 100 {
		wantRate(t, r, ip, false, time.Minute)
	}
	clk.Advance(59*time.Second + time.Millisecond)
	wantRate(t, r, ip, false, time.Second) // 999ms left rounds up
	clk.Advance(time.Second - time.Millisecond)
	for range 30 {
		wantRate(t, r, ip, true, 0)
	}
	wantRate(t, r, ip, false, time.Minute)
}

func TestRateOtherAddressUnaffected(t *testing.T) {
	t.Parallel()
	r, _ := newRate(t, DefaultRateConfig())
	busy, other := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for range 30 {
		wantRate(t, r, busy, true, 0)
	}
	wantRate(t, r, busy, false, time.Minute)
	wantRate(t, r, other, true, 0)
}

// TestRateKey checks which addresses share a limit: an IPv6 /64, and an
// IPv4 address with its IPv4-mapped IPv6 form.
func TestRateKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b  string
		share bool
	}{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", true},
		{"2001:db8:1:2::1", "2001:db8:1:3::1", false},
		{"::ffff:10.0.0.1", "10.0.0.1", true},
		{"10.0.0.1", "10.0.0.2", false},
	}
	for _, tt := range tests {
		t.Run(tt.a+"~"+tt.b, func(t *testing.T) {
			r, _ := newRate(t, RateConfig{Limit: 3})
			a, b := netip.MustParseAddr(tt.a), netip.MustParseAddr(tt.b)
			for range 3 {
				wantRate(t, r, a, true, 0)
			}
			if ok, _ := r.Allow(b); ok == tt.share {
				t.Fatalf("after the limit from %v, Allow(%v) = %v; want shared=%v", a, b, ok, tt.share)
			}
		})
	}
}

// TestRateBounded: the table stays at MaxKeys and forgets the least
// recently used address, whose limit then starts over.
func TestRateBounded(t *testing.T) {
	t.Parallel()
	r, _ := newRate(t, RateConfig{Limit: 2, MaxKeys: 3})
	fill := func(n int) {
		for range 2 {
			wantRate(t, r, ipN(n), true, 0)
		}
	}
	fill(1)
	fill(2)
	fill(3)
	wantRate(t, r, ipN(1), false, time.Minute) // touch 1: now 2 is oldest
	fill(4)
	if n := r.Len(); n != 3 {
		t.Fatalf("Len() = %d, want 3", n)
	}
	wantRate(t, r, ipN(1), false, time.Minute)
	fill(2) // forgotten
	if n := r.Len(); n != 3 {
		t.Fatalf("Len() = %d, want 3", n)
	}
}

// TestRateAllowNoAllocs: Allow for a known address must not allocate.
func TestRateAllowNoAllocs(t *testing.T) {
	r, _ := newRate(t, RateConfig{Limit: 5})
	ip := netip.MustParseAddr("2001:db8::1")
	for range 5 {
		r.Allow(ip)
	}
	if n := testing.AllocsPerRun(100, func() { r.Allow(ip) }); n != 0 {
		t.Fatalf("Allow allocates %v times per call", n)
	}
}

// TestRateConcurrent: from 50 goroutines at one instant, exactly Limit
// requests of one address pass, while a second, small table evicts under
// contention and stays within its bound; run with -race.
func TestRateConcurrent(t *testing.T) {
	t.Parallel()
	r, clk := newRate(t, RateConfig{Limit: 30})
	small, _ := newRate(t, RateConfig{Limit: 2, MaxKeys: 20})
	shared := netip.MustParseAddr("203.0.113.1")
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		passed int
	)
	for w := range 50 {
		wg.Go(func() {
			for i := range 100 {
				if ok, _ := r.Allow(shared); ok {
					mu.Lock()
					passed++
					mu.Unlock()
				}
				r.Allow(ipN(w*100 + i))
				small.Allow(ipN(i % 40))
				if i%50 == 0 {
					r.Len()
					small.Len()
				}
			}
		})
	}
	wg.Wait()
	if passed != 30 {
		t.Errorf("%d requests of one address passed, want 30", passed)
	}
	if n := small.Len(); n > 20 {
		t.Errorf("Len() = %d, want <= 20", n)
	}
	clk.Advance(time.Minute)
	wantRate(t, r, shared, true, 0)
}
