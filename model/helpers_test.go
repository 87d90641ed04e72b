package model_test

// Helpers of the model tests that no other package needs; the clock, the
// store, users and 2FA come from the shared kit, model/testkit.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

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
	s, err := model.Open(dir, model.Options{Argon2: testkit.Argon2()})
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

func withAuditMax(n uint64) func(*model.Options) { return func(o *model.Options) { o.AuditMax = n } }

// createRetry creates a user, retrying while the hasher is busy (tests
// that start many goroutines on a machine with few cores fill its queue).
func createRetry(s *model.Store, in model.NewUser, by model.Actor) (model.User, error) {
	for {
		u, err := s.CreateUser(context.Background(), in, by)
		if !errors.Is(err, model.ErrBusy) {
			return u, err
		}
		time.Sleep(time.Millisecond)
	}
}

// allEvents returns every audit event, newest first.
func allEvents(t testing.TB, s *model.Store) []model.AuditEvent {
	t.Helper()
	ev, total, err := s.AuditEvents(model.AuditFilter{Limit: 1 << 20})
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	if total != len(ev) {
		t.Fatalf("AuditEvents: total %d, got %d events", total, len(ev))
	}
	return ev
}

// eventsWith returns the events with action, newest first.
func eventsWith(t testing.TB, s *model.Store, action string) []model.AuditEvent {
	t.Helper()
	var out []model.AuditEvent
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
	v, ok := model.AsValidation(err)
	if !ok {
		t.Fatalf("error %v is not a ValidationError", err)
	}
	if v.Fields[field] == "" {
		t.Fatalf("ValidationError %v has no message for %q", v, field)
	}
}
