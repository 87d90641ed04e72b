package testkit

import (
	"sync"
	"time"
)

// Clock is a clock that moves only when the test moves it; safe for
// concurrent use, and Now does not allocate (the throttling tests count
// allocations). Hand its Now to whatever takes a clock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts at the current minute of the wall clock, in UTC. Not a
// fixed date: cookies carry expiry times from this clock, and a browser or
// cookie jar drops cookies that expired by its own clock; oathtool computes
// codes for any time, so TOTP tests need no fixed date either.
func NewClock() *Clock {
	return ClockAt(time.Now().UTC().Truncate(time.Minute))
}

// Epoch is a fixed start for clocks of tests that print or compare dates.
var Epoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// ClockAt starts at start, for tests that print or compare dates.
func ClockAt(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}
