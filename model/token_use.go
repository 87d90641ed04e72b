package model

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

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
	return s.Update(func(tx *Tx) error {
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
// request stays a read-only transaction; Flush writes them in one batch.
// Its size is bounded by the number of genuine tokens, since only those
// are recorded.
type TokenUseBuffer struct {
	s       *Store
	mu      sync.Mutex
	pending map[string]TokenUse
}

// NewTokenUseBuffer returns an empty buffer for s.
func NewTokenUseBuffer(s *Store) *TokenUseBuffer {
	return &TokenUseBuffer{s: s, pending: map[string]TokenUse{}}
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
