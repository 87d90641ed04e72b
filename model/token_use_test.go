package model_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

func TestTokenUses(t *testing.T) {
	t.Parallel()
	s, clock, alice := tokenStore(t)
	exp := model.NewToken{ExpiresAt: clock.Now().Add(time.Hour)}
	_, tok, err := s.CreateToken(alice.ID, exp, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	_, gone, err := s.CreateToken(alice.ID, exp, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	buf := model.NewTokenUseBuffer(s)
	t0 := clock.Now()
	buf.Record(tok.Hash, t0.Add(2*time.Second), "192.0.2.2")
	buf.Record(tok.Hash, t0.Add(time.Second), "192.0.2.1") // late report of an older use
	buf.Record(gone.Hash, t0, "192.0.2.9")
	if l := buf.Latest(tok); !l.LastUsedAt.Equal(t0.Add(2*time.Second)) || l.LastUsedIP != "192.0.2.2" {
		t.Errorf("Latest = %v from %q", l.LastUsedAt, l.LastUsedIP)
	}
	if stored, _ := s.Token(alice.ID, tok.ID); !stored.LastUsedAt.IsZero() {
		t.Error("a recorded use was written before Flush")
	}
	// Deleted between the use and the flush: it must stay deleted.
	if err := s.DeleteToken(alice.ID, gone.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if err := buf.Flush(); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Token(alice.ID, tok.ID)
	if err != nil || !stored.LastUsedAt.Equal(t0.Add(2*time.Second)) || stored.LastUsedIP != "192.0.2.2" {
		t.Errorf("after Flush: %+v, %v", stored, err)
	}
	if _, err := s.Token(alice.ID, gone.ID); !errors.Is(err, model.ErrNotFound) {
		t.Errorf("Flush brought a deleted token back: %v", err)
	}
	if list, _ := s.Tokens(alice.ID); len(list) != 1 {
		t.Errorf("%d tokens after Flush, want 1", len(list))
	}
	// An older use never replaces a newer stored one.
	if err := s.RecordTokenUses(map[string]model.TokenUse{tok.Hash: {At: t0, IP: "198.51.100.1"}}); err != nil {
		t.Fatal(err)
	}
	if stored, _ := s.Token(alice.ID, tok.ID); stored.LastUsedIP != "192.0.2.2" {
		t.Errorf("an older use replaced a newer one: %q", stored.LastUsedIP)
	}
	// Empty flushes write nothing and succeed.
	if err := buf.Flush(); err != nil {
		t.Fatal(err)
	}
}

// TestTokenUseBufferRun: Run writes recorded uses while it runs and, once
// its context ends, what is left, before Wait returns.
func TestTokenUseBufferRun(t *testing.T) {
	t.Parallel()
	s, clock, alice := tokenStore(t)
	_, tok, err := s.CreateToken(alice.ID, model.NewToken{ExpiresAt: clock.Now().Add(time.Hour)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	buf := model.NewTokenUseBuffer(s)
	if buf.Interval() != model.TokenUseInterval {
		t.Fatalf("interval %v, want %v", buf.Interval(), model.TokenUseInterval)
	}
	buf.SetInterval(time.Millisecond) // the test must not wait 5 s
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go buf.Run(ctx)
	lastIP := func() string {
		stored, err := s.Token(alice.ID, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		return stored.LastUsedIP
	}
	buf.Record(tok.Hash, clock.Now(), "192.0.2.1")
	for deadline := time.Now().Add(10 * time.Second); lastIP() != "192.0.2.1"; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Run did not write a recorded use")
		}
	}
	cancel()
	buf.Wait()

	// Stopped before its first tick: the use is written on the way out.
	buf = model.NewTokenUseBuffer(s)
	ctx, cancel = context.WithCancel(context.Background())
	go buf.Run(ctx)
	buf.Record(tok.Hash, clock.Now().Add(time.Second), "192.0.2.2")
	cancel()
	buf.Wait()
	if ip := lastIP(); ip != "192.0.2.2" {
		t.Errorf("after Run stopped, last used from %q, want 192.0.2.2", ip)
	}
}
