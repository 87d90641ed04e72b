package model

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters, recorded in every PHC
// string so that they can be raised later (hashes are upgraded at login).
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultArgon2 follows OWASP's recommendation for argon2id:
// m=19 MiB, t=2, p=1.
var DefaultArgon2 = Argon2Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

var b64 = base64.RawStdEncoding

// Hasher hashes and verifies passwords with argon2id. Each hash in progress
// costs its full memory, so at most one per core but one runs at a time
// (see NewHasher) and only a bounded number wait; past that, callers get ErrBusy at once instead of
// piling up memory.
//
// A flood of guesses from many addresses keeps that queue full, and every
// caller in the queue is equal, so a real user would get ErrBusy as often
// as the flood does. Callers marked with WithReservedLane (a browser that
// signed in to the account before) have a lane of their own: one more
// slot that only they use and a wait queue of their own, so a flood of
// unmarked guesses never makes them wait behind it or turns them away.
type Hasher struct {
	params  Argon2Params
	slots   chan struct{}
	waiting atomic.Int64
	maxWait int64
	// reserved is the reserved lane's own slot, and waitingReserved and
	// maxReservedWait bound its queue.
	reserved        chan struct{}
	waitingReserved atomic.Int64
	maxReservedWait int64
	dummy           string
	// active counts the hashes running; freeTimer (under freeMu) hands
	// their memory back after a burst (afterBurst).
	active    atomic.Int64
	freeMu    sync.Mutex
	freeTimer *time.Timer
}

// NewHasher returns a Hasher using p, running at most GOMAXPROCS-1 hashes
// at once (at least one) with a queue of 8 per slot, plus the reserved
// lane: one slot and a queue of 8. One core is left to everything else: a
// flood of logins then slows the other requests by a little instead of
// making each wait for a hash to finish (scripts/bench.sh measures the
// p99 of GET /api/v1/me while 64 clients log in).
func NewHasher(p Argon2Params) *Hasher {
	n := max(1, runtime.GOMAXPROCS(0)-1)
	h := &Hasher{params: p, slots: make(chan struct{}, n), maxWait: int64(8 * n),
		reserved: make(chan struct{}, 1), maxReservedWait: 8}
	// A fixed hash to verify against when the username is unknown, so that
	// the answer takes the same time whether or not the account exists.
	h.dummy = h.hash([]byte("gatehouse-dummy-password"), make([]byte, p.SaltLen))
	return h
}

// reservedLaneKey marks a context as WithReservedLane's.
type reservedLaneKey struct{}

// WithReservedLane returns ctx marked so that the password hashing done
// under it takes the Hasher's reserved lane (see Hasher). Only callers that
// proved something an attacker flooding the queue lacks may use it: the
// login form does for a browser holding the account's device cookie,
// whose signature cannot be forged.
func WithReservedLane(ctx context.Context) context.Context {
	return context.WithValue(ctx, reservedLaneKey{}, true)
}

// inReservedLane reports whether ctx was marked by WithReservedLane.
func inReservedLane(ctx context.Context) bool {
	v, _ := ctx.Value(reservedLaneKey{}).(bool)
	return v
}

// acquire waits for a hashing slot (acquireSlot) and returns its release,
// which hands the hashes' memory back after a burst (afterBurst).
func (h *Hasher) acquire(ctx context.Context) (release func(), err error) {
	slot, err := h.acquireSlot(ctx)
	if err != nil {
		return nil, err
	}
	h.active.Add(1)
	return func() {
		slot()
		if h.active.Add(-1) == 0 {
			h.afterBurst()
		}
	}, nil
}

// freeAfter is how long no hash must run before afterBurst hands the
// memory back; freeMin is the smallest hashing memory worth it.
const (
	freeAfter = 500 * time.Millisecond
	freeMin   = 4 << 10 // KiB
)

// afterBurst hands the hashes' memory back to the system once no hash has
// run for freeAfter. Each hash allocates its own buffer (19 MiB with the
// default parameters); the Go runtime keeps freed memory for reuse and
// returns it only slowly, so after a burst of logins the idle panel would
// stay at 60 MB and more. One forced collection per burst is cheap next
// to the hashes it follows.
func (h *Hasher) afterBurst() {
	if h.params.Memory < freeMin {
		return
	}
	h.freeMu.Lock()
	defer h.freeMu.Unlock()
	if h.freeTimer == nil {
		h.freeTimer = time.AfterFunc(freeAfter, func() {
			if h.active.Load() == 0 {
				debug.FreeOSMemory()
			}
		})
		return
	}
	h.freeTimer.Reset(freeAfter)
}

// acquireSlot waits for a hashing slot and returns its release. A caller in
// the reserved lane takes whichever frees first, a shared slot or the
// reserved one, and queues apart from the others.
func (h *Hasher) acquireSlot(ctx context.Context) (release func(), err error) {
	if inReservedLane(ctx) {
		if h.waitingReserved.Add(1) > h.maxReservedWait {
			h.waitingReserved.Add(-1)
			return nil, ErrBusy
		}
		defer h.waitingReserved.Add(-1)
		select {
		case h.reserved <- struct{}{}:
			return func() { <-h.reserved }, nil
		case h.slots <- struct{}{}:
			return func() { <-h.slots }, nil
		case <-ctx.Done():
			return nil, ErrBusy
		}
	}
	if h.waiting.Add(1) > h.maxWait {
		h.waiting.Add(-1)
		return nil, ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-ctx.Done():
		return nil, ErrBusy
	}
}

// Hash returns the PHC string of password:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxSecretInput {
		return "", errors.New("password too long")
	}
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("model: salt: %w", err)
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return h.hash([]byte(password), salt), nil
}

func (h *Hasher) hash(pw, salt []byte) string {
	p := h.params
	key := argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the PHC string encoded, and
// whether the hash should be replaced because the parameters changed. An
// empty encoded string (unknown user) is checked against a dummy hash so
// the time taken does not reveal it; it never matches.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	if len(password) > MaxSecretInput {
		return false, false, nil
	}
	target := encoded
	if target == "" {
		target = h.dummy
	}
	p, salt, key, err := parsePHC(target)
	if err != nil {
		return false, false, err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	release()
	if encoded == "" {
		return false, false, nil
	}
	ok = subtle.ConstantTimeCompare(got, key) == 1
	rehash = p.Memory != h.params.Memory || p.Time != h.params.Time || p.Threads != h.params.Threads ||
		uint32(len(key)) != h.params.KeyLen || uint32(len(salt)) != h.params.SaltLen
	return ok, rehash, nil
}

func parsePHC(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, errors.New("model: unsupported password hash format")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, errors.New("model: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, fmt.Errorf("model: argon2 parameters: %w", err)
	}
	// argon2.IDKey panics on t=0 or p=0; a damaged hash must not crash a login.
	if p.Time < 1 || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) || p.Memory > 4<<20 || p.Time > 100 {
		return p, nil, nil, errors.New("model: argon2 parameters out of range")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, fmt.Errorf("model: argon2 salt: %w", err)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return p, nil, nil, fmt.Errorf("model: argon2 key: %w", err)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}
