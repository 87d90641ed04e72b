package model

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// tokenUseInterval is how often a TokenUseBuffer writes last-use times:
// one write transaction every few seconds at most, however many API
// requests arrive.
const tokenUseInterval = 5 * time.Second

// TokenUse is when and from where a token was last used.
type TokenUse struct {
	At time.Time
	IP string
}

// RecordTokenUses writes last-use times in one transaction. A token
// deleted in the meantime stays deleted, and an older use never replaces
// a newer one.
func (s *Store) RecordTokenUses(uses map[string]TokenUse) error {
	if len(uses) == 0 {
		return nil
	}
	return s.updateKeepUsers(func(tx *Tx) error {
		for hash, use := range uses {
			t, err := tx.tokenByHash(hash)
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("model: record token use: %w", err)
			}
			if !use.At.After(t.LastUsedAt) {
				continue
			}
			t.LastUsedAt, t.LastUsedIP = use.At.UTC(), use.IP
			if err := tx.putToken(&t); err != nil {
				return fmt.Errorf("model: record token use: %w", err)
			}
		}
		return nil
	})
}

// TokenUseBuffer collects token uses in memory, so that an authenticated
// request stays a read-only transaction, and writes them in batches: Run
// every few seconds, Flush at once. Its size is bounded by the number of
// genuine tokens, since only those are recorded. Like AuditBuffer, it is
// started by the caller (go b.Run(ctx)) and stopped by ending ctx, then
// Wait.
type TokenUseBuffer struct {
	s        *Store
	interval time.Duration
	mu       sync.Mutex
	pending  map[string]TokenUse
	done     chan struct{}
}

// NewTokenUseBuffer returns an empty buffer for s; call Run to start
// writing.
func NewTokenUseBuffer(s *Store) *TokenUseBuffer {
	return &TokenUseBuffer{s: s, interval: tokenUseInterval, pending: map[string]TokenUse{}, done: make(chan struct{})}
}

// Record notes that the token with hash was used at at from ip.
func (b *TokenUseBuffer) Record(hash string, at time.Time, ip string) {
	b.mu.Lock()
	if cur, ok := b.pending[hash]; !ok || at.After(cur.At) || at.Equal(cur.At) {
		b.pending[hash] = TokenUse{At: at, IP: ip}
	}
	b.mu.Unlock()
}

// Latest returns t with a pending, not yet written use applied, so that
// lists show the last use at once.
func (b *TokenUseBuffer) Latest(t Token) Token {
	b.mu.Lock()
	use, ok := b.pending[t.Hash]
	b.mu.Unlock()
	if ok && use.At.After(t.LastUsedAt) {
		t.LastUsedAt, t.LastUsedIP = use.At.UTC(), use.IP
	}
	return t
}

// Flush writes the pending uses in one transaction. On failure they are
// dropped (they are only last-use information) and the error returned.
func (b *TokenUseBuffer) Flush() error {
	b.mu.Lock()
	batch := b.pending
	b.pending = map[string]TokenUse{}
	b.mu.Unlock()
	return b.s.RecordTokenUses(batch)
}

// Run writes pending uses every few seconds until ctx ends, then writes
// what is left once more. End ctx only once nothing records any more (the
// HTTP servers have shut down) and wait for Run before the store closes.
func (b *TokenUseBuffer) Run(ctx context.Context) {
	runBatches(ctx, b.done, b.interval, "token last-use times", b.Flush)
}

// Wait returns after Run has returned.
func (b *TokenUseBuffer) Wait() { <-b.done }
