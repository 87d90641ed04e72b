package model

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// cheapArgon2 keeps hashing fast in tests; one test uses DefaultArgon2.
var cheapArgon2 = Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// holdEnv makes the test binary, run as a child process, hold a store open
// (see TestMain), so that another process's lock can be shown.
const holdEnv = "GATEHOUSE_TEST_HOLD_DB"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdEnv); dir != "" {
		os.Exit(holdStore(dir))
	}
	os.Exit(m.Run())
}

// holdStore opens the store in dir, says "ready" on stdout and keeps it open
// until stdin is closed.
func holdStore(dir string) int {
	s, err := Open(dir, Options{Argon2: &cheapArgon2})
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	defer s.Close()
	fmt.Println("ready")
	var b [1]byte
	for {
		if _, err := os.Stdin.Read(b[:]); err != nil {
			return 0
		}
	}
}

// fakeClock is an injectable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openStore opens (creating) the store in dir with cheap hashing; opts
// tweak the options. The store is closed when the test ends.
func openStore(t testing.TB, dir string, opts ...func(*Options)) *Store {
	t.Helper()
	o := Options{Create: true, Argon2: &cheapArgon2}
	for _, f := range opts {
		f(&o)
	}
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore opens a fresh store in a temporary directory.
func newStore(t testing.TB, opts ...func(*Options)) *Store {
	t.Helper()
	return openStore(t, t.TempDir(), opts...)
}

func withClock(c *fakeClock) func(*Options) { return func(o *Options) { o.Now = c.Now } }

func withAuditMax(n uint64) func(*Options) { return func(o *Options) { o.AuditMax = n } }

// mustCreate creates a user or fails the test.
func mustCreate(t testing.TB, s *Store, name, password, email string) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Username: name, Password: password, Email: email}, CLIActor)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

// createRetry creates a user, retrying while the hasher is busy (tests
// that start many goroutines on a machine with few cores fill its queue).
func createRetry(s *Store, in NewUser, by Actor) (User, error) {
	for {
		u, err := s.CreateUser(context.Background(), in, by)
		if !errors.Is(err, ErrBusy) {
			return u, err
		}
		time.Sleep(time.Millisecond)
	}
}

// allEvents returns every audit event, newest first.
func allEvents(t testing.TB, s *Store) []AuditEvent {
	t.Helper()
	ev, total, err := s.AuditEvents(AuditFilter{Limit: 1 << 20})
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	if total != len(ev) {
		t.Fatalf("AuditEvents: total %d, got %d events", total, len(ev))
	}
	return ev
}

// eventsWith returns the events with action, newest first.
func eventsWith(t testing.TB, s *Store, action string) []AuditEvent {
	t.Helper()
	var out []AuditEvent
	for _, e := range allEvents(t, s) {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// wantField checks that err is a ValidationError naming field.
func wantField(t testing.TB, err error, field string) {
	t.Helper()
	v, ok := AsValidation(err)
	if !ok {
		t.Fatalf("error %v is not a ValidationError", err)
	}
	if v.Fields[field] == "" {
		t.Fatalf("ValidationError %v has no message for %q", v, field)
	}
}
