package handlers

import (
	"testing"
	"time"
)

// TestLoginGate: a login waits for a free slot, gives up after
// loginGateWait, and is refused at once past the queue's length.
func TestLoginGate(t *testing.T) {
	g := &loginGate{slots: make(chan struct{}, 1), maxWait: 2}
	leave, ok := g.enter()
	if !ok {
		t.Fatal("the first login did not enter")
	}
	got := make(chan bool)
	go func() { _, ok := g.enter(); got <- ok }() // waits for the slot
	for g.waiting.Load() != 1 {
		time.Sleep(time.Millisecond)
	}
	g.waiting.Add(1) // a second waiter: the queue is full
	start := time.Now()
	if _, ok := g.enter(); ok || time.Since(start) > time.Second {
		t.Errorf("past the queue: entered %v after %v, want refused at once", ok, time.Since(start))
	}
	g.waiting.Add(-1)
	leave()
	if !<-got {
		t.Error("the waiting login did not enter when the slot was freed")
	}
	start = time.Now()
	if _, ok := g.enter(); ok || time.Since(start) < loginGateWait {
		t.Errorf("with the slot taken: entered %v after %v, want refused after %v", ok, time.Since(start), loginGateWait)
	}
}
