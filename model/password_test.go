package model_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// saturate fills every hashing slot and the whole wait queue of h with
// goroutines blocked on a context, so that the next caller gets ErrBusy.
// The returned function releases everything.
func saturate(t *testing.T, h *model.Hasher) (release func()) {
	t.Helper()
	for i := 0; i < cap(h.Slots()); i++ {
		h.Slots() <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := int64(0); i < h.MaxWait(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.Hash(ctx, "password1"); !errors.Is(err, model.ErrBusy) {
				t.Errorf("queued Hash after cancel: %v, want ErrBusy", err)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.Waiting() < h.MaxWait() {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d waiters queued", h.Waiting(), h.MaxWait())
		}
		time.Sleep(time.Millisecond)
	}
	return func() {
		cancel()
		wg.Wait()
		for i := 0; i < cap(h.Slots()); i++ {
			<-h.Slots()
		}
	}
}

var phcDefault = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashVerifyDefaultParams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := model.NewHasher(model.DefaultArgon2)
	enc, err := h.Hash(ctx, "correct horse 1")
	if err != nil {
		t.Fatal(err)
	}
	if !phcDefault.MatchString(enc) {
		t.Fatalf("hash %q is not a PHC argon2id string with m=19456,t=2,p=1", enc)
	}
	if enc2, _ := h.Hash(ctx, "correct horse 1"); enc2 == enc {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	tests := []struct {
		name     string
		password string
		ok       bool
	}{
		{"right password", "correct horse 1", true},
		{"wrong password", "correct horse 2", false},
		{"case differs", "Correct horse 1", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, enc, tc.password)
			if err != nil || ok != tc.ok || rehash {
				t.Fatalf("Verify = %v, %v, %v; want %v, false, nil", ok, rehash, err, tc.ok)
			}
		})
	}
}

func TestVerifyRehashWhenParamsDiffer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	old := model.NewHasher(*testkit.Argon2())
	enc, err := old.Hash(ctx, "password1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		p      model.Argon2Params
		rehash bool
	}{
		{"same", *testkit.Argon2(), false},
		{"memory", model.Argon2Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"time", model.Argon2Params{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, true},
		{"threads", model.Argon2Params{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}, true},
		{"key length", model.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64}, true},
		{"salt length", model.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := model.NewHasher(tc.p).Verify(ctx, enc, "password1")
			if err != nil || !ok || rehash != tc.rehash {
				t.Fatalf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tc.rehash)
			}
		})
	}
}

func TestVerifyMalformedHash(t *testing.T) {
	t.Parallel()
	h := model.NewHasher(*testkit.Argon2())
	for _, enc := range []string{"x", "$argon2i$v=19$m=64,t=1,p=1$AAAA$AAAA", "$argon2id$v=16$m=64,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=x$AAAA$AAAA", "$argon2id$v=19$m=64,t=1,p=1$!!$AAAA", "$argon2id$v=19$m=64,t=1,p=1$AAAA$!!"} {
		ok, _, err := h.Verify(context.Background(), enc, "password1")
		if ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want false and an error", enc, ok, err)
		}
	}
}

// An unknown user (empty stored hash) never matches, and Verify still
// queues for a hashing slot like a real check: with the hasher saturated it
// answers ErrBusy instead of returning early.
func TestVerifyUnknownUserDoesTheWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := model.NewHasher(*testkit.Argon2())
	for _, pw := range []string{"gatehouse-dummy-password", "password1", ""} {
		if ok, rehash, err := h.Verify(ctx, "", pw); ok || rehash || err != nil {
			t.Fatalf("Verify(\"\", %q) = %v, %v, %v; want false, false, nil", pw, ok, rehash, err)
		}
	}
	enc, _ := h.Hash(ctx, "password1")
	release := saturate(t, h)
	defer release()
	if _, _, err := h.Verify(ctx, "", "password1"); !errors.Is(err, model.ErrBusy) {
		t.Fatalf("Verify of unknown user on a saturated hasher = %v, want ErrBusy (no early return)", err)
	}
	if _, _, err := h.Verify(ctx, enc, "password1"); !errors.Is(err, model.ErrBusy) {
		t.Fatalf("Verify of known user on a saturated hasher = %v, want ErrBusy", err)
	}
}

// Passwords over MaxSecretInput are refused before any hashing: even a
// saturated hasher answers at once without ErrBusy.
func TestOverlongPasswordNotHashed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := model.NewHasher(*testkit.Argon2())
	enc, _ := h.Hash(ctx, "password1")
	long := strings.Repeat("a1", model.MaxSecretInput/2) + "x" // 1025 bytes
	release := saturate(t, h)
	defer release()
	if _, err := h.Hash(ctx, long); err == nil || errors.Is(err, model.ErrBusy) {
		t.Fatalf("Hash(1025 bytes) = %v, want a too-long error without queueing", err)
	}
	for _, e := range []string{enc, ""} {
		if ok, _, err := h.Verify(ctx, e, long); ok || err != nil {
			t.Fatalf("Verify(%q, 1025 bytes) = %v, %v; want false, nil without queueing", e, ok, err)
		}
	}
	// Exactly MaxSecretInput bytes is not "over-long": it queues (and is busy).
	if _, err := h.Hash(ctx, long[:model.MaxSecretInput]); !errors.Is(err, model.ErrBusy) {
		t.Fatalf("Hash(1024 bytes) on a saturated hasher = %v, want ErrBusy", err)
	}
}

func TestHasherQueueBounded(t *testing.T) {
	t.Parallel()
	h := model.NewHasher(*testkit.Argon2())
	ctx := context.Background()
	t.Run("waits while the queue has room", func(t *testing.T) {
		for i := 0; i < cap(h.Slots()); i++ {
			h.Slots() <- struct{}{}
		}
		done := make(chan error, 1)
		go func() { _, err := h.Hash(ctx, "password1"); done <- err }()
		select {
		case err := <-done:
			t.Fatalf("Hash returned %v while it should wait for a slot", err)
		case <-time.After(50 * time.Millisecond):
		}
		<-h.Slots() // free one slot: the waiter runs
		if err := <-done; err != nil {
			t.Fatalf("Hash after a slot freed: %v", err)
		}
		for i := 1; i < cap(h.Slots()); i++ {
			<-h.Slots()
		}
	})
	t.Run("context ends the wait", func(t *testing.T) {
		for i := 0; i < cap(h.Slots()); i++ {
			h.Slots() <- struct{}{}
		}
		defer func() {
			for i := 0; i < cap(h.Slots()); i++ {
				<-h.Slots()
			}
		}()
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		if _, err := h.Hash(cctx, "password1"); !errors.Is(err, model.ErrBusy) {
			t.Fatalf("Hash with an ended context = %v, want ErrBusy", err)
		}
	})
	t.Run("full queue answers ErrBusy at once", func(t *testing.T) {
		release := saturate(t, h)
		start := time.Now()
		_, err := h.Hash(ctx, "password1")
		if !errors.Is(err, model.ErrBusy) {
			t.Fatalf("Hash on a full queue = %v, want ErrBusy", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("ErrBusy took %v", d)
		}
		release()
		if h.Waiting() != 0 {
			t.Fatalf("%d waiters left after release", h.Waiting())
		}
		if _, err := h.Hash(ctx, "password1"); err != nil {
			t.Fatalf("Hash after the queue drained: %v", err)
		}
	})
}

func TestAuthenticateBusyForUnknownUser(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t)
	testkit.CreateUser(t, s, "bob", "password1", "bob@example.com")
	release := saturate(t, s.Hasher())
	defer release()
	for _, name := range []string{"bob", "nobody"} {
		if _, err := s.Authenticate(context.Background(), name, "password1"); !errors.Is(err, model.ErrBusy) {
			t.Fatalf("Authenticate(%q) on a saturated hasher = %v, want ErrBusy", name, err)
		}
	}
}

func TestRandomPassword(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		pw := model.RandomPassword()
		if err := model.ValidatePassword(pw); err != nil {
			t.Fatalf("RandomPassword() = %q: %v", pw, err)
		}
		if len(pw) != model.PasswordMaxLen || seen[pw] {
			t.Fatalf("RandomPassword() = %q (len %d, repeated %v)", pw, len(pw), seen[pw])
		}
		seen[pw] = true
	}
}

// BenchmarkHashDefault measures one argon2id hash with DefaultArgon2
// (m=19 MiB, t=2, p=1): the cost of every login and password change.
func BenchmarkHashDefault(b *testing.B) {
	h := model.NewHasher(model.DefaultArgon2)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse 1"); err != nil {
			b.Fatal(err)
		}
	}
}
