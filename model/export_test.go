package model

// What the external tests (package model_test, which can use the shared
// test kit model/testkit) need of model's unexported parts: seams to set
// up a situation, and the internal helpers that fuzz tests check.

import (
	bolt "go.etcd.io/bbolt"

	"testing"
	"time"

	"github.com/asdine/storm/v3"
)

// SetSignInRule replaces the sign-in check on User until the test ends.
// It is package state: tests that call it must not run in parallel with
// tests that sign in.
func SetSignInRule(t testing.TB, rule func(User) error) {
	old := signInRule
	signInRule = rule
	t.Cleanup(func() { signInRule = old })
}

// SetMax sets how many pending events b keeps before Add writes them.
func (b *AuditBuffer) SetMax(n int) {
	b.mu.Lock()
	b.max = n
	b.mu.Unlock()
}

// Pending is how many events b holds, not yet written.
func (b *AuditBuffer) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}

// Slots is h's semaphore of hashing slots: a test fills it to make the
// hasher busy.
func (h *Hasher) Slots() chan struct{} { return h.slots }

// MaxWait is how many callers may wait for a slot.
func (h *Hasher) MaxWait() int64 { return h.maxWait }

// Waiting is how many callers wait for a slot now.
func (h *Hasher) Waiting() int64 { return h.waiting.Load() }

// Node is the Storm node of tx, to break a record on purpose.
func (tx *Tx) Node() storm.Node { return tx.n }

// Meta reads the meta record key into to.
func (tx *Tx) Meta(key string, to any) error { return tx.meta(key, to) }

// SetMeta writes the meta record key.
func (tx *Tx) SetMeta(key string, v any) error { return tx.setMeta(key, v) }

// LookupToken finds a token and its user by the token's key.
func (s *Store) LookupToken(key []byte) (Token, User, error) { return s.lookupToken(key) }

// Seal and Unseal encrypt and decrypt with the data directory's key,
// bound to ad.
func (s *Store) Seal(plain []byte, ad string) ([]byte, error)    { return s.seal(plain, ad) }
func (s *Store) Unseal(sealed []byte, ad string) ([]byte, error) { return s.open(sealed, ad) }

// Interval is how often b writes; SetInterval changes it before Run.
func (b *TokenUseBuffer) Interval() time.Duration     { return b.interval }
func (b *TokenUseBuffer) SetInterval(d time.Duration) { b.interval = d }

// Internal helpers and constants that the tests check directly.
var (
	TokenKey      = tokenKey
	EncodeToken   = encodeToken
	DecodeToken   = decodeToken
	TokenChecksum = tokenChecksum
	Base62        = base62
	IPAllowed     = ipAllowed
	TOTPAD        = totpAD
	AuditText     = auditText
)

const (
	Base62Alphabet   = base62Alphabet
	TokenBodyLen     = tokenBodyLen
	TokenRandomBytes = tokenRandomBytes
	TokenUseInterval = tokenUseInterval
	RecoveryAlphabet = recoveryAlphabet
)

// Bolt is the store's bbolt database, for tests that read or plant raw
// records.
func (s *Store) Bolt() *bolt.DB { return s.db.Bolt }

// Reserved is h's reserved-lane slot: a test fills it to make the lane busy.
func (h *Hasher) Reserved() chan struct{} { return h.reserved }

// MaxReservedWait is how many callers may queue for the reserved lane.
func (h *Hasher) MaxReservedWait() int64 { return h.maxReservedWait }

// WaitingReserved is how many callers queue for the reserved lane now.
func (h *Hasher) WaitingReserved() int64 { return h.waitingReserved.Load() }

// SeenEntries is how many sessions' last-seen times s keeps in memory.
func (s *Store) SeenEntries() int {
	s.seen.mu.Lock()
	defer s.seen.mu.Unlock()
	return len(s.seen.m)
}
