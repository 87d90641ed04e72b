package model_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestHasherReservedLane: with every shared slot busy and the shared queue
// full (a flood), a caller in the reserved lane still hashes at once while
// an unmarked caller gets ErrBusy; the lane is bounded too, so a flood of
// marked callers gets ErrBusy rather than unbounded memory.
func TestHasherReservedLane(t *testing.T) {
	ctx := context.Background()
	h := model.NewHasher(*testkit.Argon2())
	enc, err := h.Hash(ctx, "password1")
	if err != nil {
		t.Fatal(err)
	}
	release := saturate(t, h)
	defer release()
	if _, _, err := h.Verify(ctx, enc, "password1"); !errors.Is(err, model.ErrBusy) {
		t.Fatalf("unmarked Verify on a saturated hasher = %v, want ErrBusy", err)
	}
	lane := model.WithReservedLane(ctx)
	start := time.Now()
	if ok, _, err := h.Verify(lane, enc, "password1"); !ok || err != nil {
		t.Fatalf("Verify in the reserved lane on a saturated hasher = %v, %v; want true, nil", ok, err)
	}
	if _, err := h.Hash(lane, "password2"); err != nil {
		t.Fatalf("Hash in the reserved lane on a saturated hasher: %v", err)
	}
	t.Logf("reserved lane on a saturated hasher: %v for a verify and a hash", time.Since(start))

	// Fill the lane as well: its slot held, its queue full.
	h.Reserved() <- struct{}{}
	defer func() { <-h.Reserved() }()
	waitCtx, cancel := context.WithCancel(lane)
	var wg sync.WaitGroup
	for range h.MaxReservedWait() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.Hash(waitCtx, "password1"); !errors.Is(err, model.ErrBusy) {
				t.Errorf("queued reserved Hash after cancel: %v, want ErrBusy", err)
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for h.WaitingReserved() < h.MaxReservedWait() {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d reserved waiters queued", h.WaitingReserved(), h.MaxReservedWait())
		}
		time.Sleep(time.Millisecond)
	}
	if _, _, err := h.Verify(lane, enc, "password1"); !errors.Is(err, model.ErrBusy) {
		t.Fatalf("Verify in a full reserved lane = %v, want ErrBusy", err)
	}
}
