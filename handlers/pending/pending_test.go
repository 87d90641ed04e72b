package pending

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func newStore(ttl time.Duration, limit int) (*Store[string], *testkit.Clock) {
	c := testkit.ClockAt(testkit.Epoch)
	return New[string](ttl, limit, c.Now), c
}

func TestStorePutGetTake(t *testing.T) {
	t.Parallel()
	s, _ := newStore(time.Minute, 10)
	id := s.Put("alice")
	if len(id) < 40 {
		t.Fatalf("id %q is too short to be unguessable", id)
	}
	if id2 := s.Put("bob"); id2 == id {
		t.Fatal("two Puts returned the same id")
	}
	for range 2 {
		if v, ok := s.Get(id); !ok || v != "alice" {
			t.Fatalf("Get = %q, %v; want alice, true (Get does not remove)", v, ok)
		}
	}
	if v, ok := s.Take(id); !ok || v != "alice" {
		t.Fatalf("Take = %q, %v; want alice, true", v, ok)
	}
	if _, ok := s.Take(id); ok {
		t.Fatal("an entry was taken twice")
	}
	if _, ok := s.Get(id); ok {
		t.Fatal("Get found a taken entry")
	}
}

func TestStorePutAtDelete(t *testing.T) {
	t.Parallel()
	s, _ := newStore(time.Minute, 10)
	s.PutAt("challenge-1", "ceremony")
	if v, ok := s.Get("challenge-1"); !ok || v != "ceremony" {
		t.Fatalf("Get = %q, %v", v, ok)
	}
	// The id itself is not kept, only its hash.
	for k := range s.entries {
		if strings.Contains(k, "challenge") {
			t.Fatalf("key %q holds the id", k)
		}
	}
	s.Delete("challenge-1")
	if _, ok := s.Get("challenge-1"); ok {
		t.Fatal("Get found a deleted entry")
	}
	s.Delete("never-there") // no-op
	if n := s.Len(); n != 0 {
		t.Fatalf("Len() = %d, want 0", n)
	}
}

func TestStoreRefusesBadIDs(t *testing.T) {
	t.Parallel()
	s, _ := newStore(time.Minute, 10)
	long := strings.Repeat("x", maxID+1)
	s.PutAt(long, "v")
	for _, id := range []string{"", long, "unknown"} {
		if _, ok := s.Get(id); ok {
			t.Errorf("Get(%.10q…) found an entry", id)
		}
		if _, ok := s.Take(id); ok {
			t.Errorf("Take(%.10q…) found an entry", id)
		}
	}
}

// TestStoreExpiry: an entry lives exactly ttl, and an expired one is
// removed when looked up.
func TestStoreExpiry(t *testing.T) {
	t.Parallel()
	s, clk := newStore(5*time.Minute, 10)
	id := s.Put("v")
	clk.Advance(5*time.Minute - time.Nanosecond)
	if _, ok := s.Get(id); !ok {
		t.Fatal("the entry expired early")
	}
	clk.Advance(time.Nanosecond)
	if _, ok := s.Take(id); ok {
		t.Fatal("Take found an expired entry")
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("Len() = %d after looking up an expired entry, want 0", n)
	}
}

// TestStoreBounded fills a store of 3 with 20 live entries, one a second:
// it never holds more than 3, and each new entry pushes out the one closest
// to expiry, so the 3 newest are the ones left.
func TestStoreBounded(t *testing.T) {
	t.Parallel()
	const limit, n = 3, 20
	s, clk := newStore(time.Hour, limit)
	ids := make([]string, n)
	for i := range n {
		ids[i] = s.Put(fmt.Sprint(i))
		if got := s.Len(); got > limit {
			t.Fatalf("after %d entries Len() = %d, want at most %d", i+1, got, limit)
		}
		clk.Advance(time.Second)
	}
	if got := s.Len(); got != limit {
		t.Fatalf("Len() = %d, want %d", got, limit)
	}
	for i, id := range ids {
		v, ok := s.Get(id)
		if kept := i >= n-limit; ok != kept || (ok && v != fmt.Sprint(i)) {
			t.Errorf("entry %d: Get = %q, %v; want kept=%v", i, v, ok, kept)
		}
	}
}

// TestStoreBoundPurgesExpiredFirst: when the store is full, all expired
// entries go before any live one, so live ceremonies are only ever dropped
// by a store full of live ones.
func TestStoreBoundPurgesExpiredFirst(t *testing.T) {
	t.Parallel()
	s, clk := newStore(10*time.Second, 3)
	a := s.Put("a")
	clk.Advance(time.Second)
	b := s.Put("b")
	clk.Advance(15 * time.Second) // a and b expired
	c := s.Put("c")
	d := s.Put("d") // full: a and b are purged, c stays
	if got := s.Len(); got != 2 {
		t.Fatalf("Len() = %d after the purge, want 2 (c and d)", got)
	}
	e := s.Put("e")
	for id, want := range map[string]bool{a: false, b: false, c: true, d: true, e: true} {
		if _, ok := s.Get(id); ok != want {
			t.Errorf("Get(%s) = %v, want %v", id, ok, want)
		}
	}
}

// TestStoreTakeRace: of many requests taking one id at once, exactly one
// gets it; run with -race.
func TestStoreTakeRace(t *testing.T) {
	t.Parallel()
	s, clk := newStore(time.Minute, 100)
	for round := range 20 {
		id := s.Put(fmt.Sprint(round))
		var (
			wg  sync.WaitGroup
			won atomic.Int32
		)
		for range 16 {
			wg.Go(func() {
				if _, ok := s.Take(id); ok {
					won.Add(1)
				}
				s.Put("noise")
				s.Len()
			})
		}
		wg.Wait()
		if n := won.Load(); n != 1 {
			t.Fatalf("round %d: %d requests took the entry, want 1", round, n)
		}
		clk.Advance(time.Second)
	}
	if n := s.Len(); n > 100 {
		t.Fatalf("Len() = %d, want at most 100", n)
	}
}
