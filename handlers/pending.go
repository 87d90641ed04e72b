package handlers

import (
	"sync"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// pendingStore keeps short-lived server-side state that must never live on
// the client: TOTP enrolments waiting for their first code, logins waiting
// for their second factor, and WebAuthn ceremonies (see webauthn.go).
// Entries are keyed by the SHA-256 of a random id, expire after ttl, are
// taken once, and the map is bounded.
type pendingStore[T any] struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	now     func() time.Time
	entries map[string]pendingEntry[T]
}

type pendingEntry[T any] struct {
	v       T
	expires time.Time
}

func newPendingStore[T any](ttl time.Duration, max int, now func() time.Time) *pendingStore[T] {
	return &pendingStore[T]{ttl: ttl, max: max, now: now, entries: map[string]pendingEntry[T]{}}
}

// put stores v and returns the random id that finds it again.
func (p *pendingStore[T]) put(v T) string {
	id := model.RandomToken(32)
	p.putAt(id, v)
	return id
}

// putAt stores v under an id the caller chose, which must be random and
// unguessable itself (a WebAuthn challenge: the answer to a ceremony
// carries it back, so it finds its own state).
func (p *pendingStore[T]) putAt(id string, v T) {
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
	p.entries[model.HashToken(id)] = pendingEntry[T]{v: v, expires: now.Add(p.ttl)}
}

// get returns the live entry for id without removing it.
func (p *pendingStore[T]) get(id string) (T, bool) {
	return p.lookup(id, false)
}

// take returns the live entry for id and removes it in one step, so that
// two requests racing with the same id cannot both use it.
func (p *pendingStore[T]) take(id string) (T, bool) {
	return p.lookup(id, true)
}

// lookup returns the live entry for id; an expired entry is removed on the
// way. With remove it also removes a live one, under the same lock as the
// lookup, which is what makes take a single step.
func (p *pendingStore[T]) lookup(id string, remove bool) (T, bool) {
	var zero T
	if id == "" || len(id) > 128 {
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

// del removes the entry for id.
func (p *pendingStore[T]) del(id string) {
	p.mu.Lock()
	delete(p.entries, model.HashToken(id))
	p.mu.Unlock()
}
