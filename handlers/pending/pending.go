// Package pending keeps short-lived server-side state that must never live
// on the client: TOTP enrolments waiting for their first code, logins
// waiting for their second factor, and WebAuthn ceremonies waiting for the
// authenticator's answer.
package pending

import (
	"sync"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// maxID is the longest id looked up. Ids are 43-character random tokens or
// WebAuthn challenges of similar length; a longer one is not ours, and
// hashing it would only cost time.
const maxID = 128

// Store holds values of one kind by random id. Entries are keyed by the
// SHA-256 of the id (the id itself is not kept); they expire after a fixed time to live and are meant to be taken once.
// The map is bounded: when it is full, expired entries are purged, and if
// it is still full the entry closest to expiry is dropped, so a flood of
// new entries cannot exhaust memory (it can only end the oldest pending
// ceremonies early). It is safe for concurrent use.
type Store[T any] struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	now     func() time.Time
	entries map[string]entry[T]
}

type entry[T any] struct {
	v       T
	expires time.Time
}

// New returns a store whose entries live for ttl, holding at most limit of
// them (at least one). now is the clock, injected so tests can move time
// without sleeping; nil means time.Now.
func New[T any](ttl time.Duration, limit int, now func() time.Time) *Store[T] {
	if now == nil {
		now = time.Now
	}
	return &Store[T]{ttl: ttl, max: max(limit, 1), now: now, entries: map[string]entry[T]{}}
}

// Put stores v and returns the random id that finds it again.
func (p *Store[T]) Put(v T) string {
	id := model.RandomToken(32)
	p.PutAt(id, v)
	return id
}

// PutAt stores v under an id the caller chose, which must be random and
// unguessable itself (a WebAuthn challenge: the answer to a ceremony
// carries it back, so it finds its own state).
func (p *Store[T]) PutAt(id string, v T) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.entries) >= p.max {
		for k, e := range p.entries {
			if !now.Before(e.expires) {
				delete(p.entries, k)
			}
		}
		if len(p.entries) >= p.max {
			// Still full of live entries: drop the one closest to expiry.
			var oldest string
			for k, e := range p.entries {
				if oldest == "" || e.expires.Before(p.entries[oldest].expires) {
					oldest = k
				}
			}
			delete(p.entries, oldest)
		}
	}
	p.entries[model.HashToken(id)] = entry[T]{v: v, expires: now.Add(p.ttl)}
}

// Get returns the live entry for id without removing it.
func (p *Store[T]) Get(id string) (T, bool) {
	return p.lookup(id, false)
}

// Take returns the live entry for id and removes it in one step, so that
// two requests racing with the same id cannot both use it.
func (p *Store[T]) Take(id string) (T, bool) {
	return p.lookup(id, true)
}

// lookup returns the live entry for id; an expired entry is removed on the
// way. With remove it also removes a live one, under the same lock as the
// lookup, which is what makes Take a single step.
func (p *Store[T]) lookup(id string, remove bool) (T, bool) {
	var zero T
	if id == "" || len(id) > maxID {
		return zero, false
	}
	k := model.HashToken(id)
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[k]
	if !ok {
		return zero, false
	}
	live := p.now().Before(e.expires)
	if remove || !live {
		delete(p.entries, k)
	}
	if !live {
		return zero, false
	}
	return e.v, true
}

// Delete removes the entry for id, live or not.
func (p *Store[T]) Delete(id string) {
	p.mu.Lock()
	delete(p.entries, model.HashToken(id))
	p.mu.Unlock()
}

// Len returns the number of entries held, including expired ones not yet
// purged; tests use it to check the bound.
func (p *Store[T]) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.entries)
}
