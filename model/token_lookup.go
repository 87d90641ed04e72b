package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TokenByValue returns the token with the given value and its user, in one
// read-only transaction: one read by key and the user's record. The user
// comes without its secrets (password hash, TOTP secret, recovery code
// hashes), which no API request needs. A
// malformed value (wrong prefix, length or checksum) is refused without a
// lookup. Unknown tokens and tokens of deleted users are ErrNotFound.
// Expiry and the white list are the caller's to check (Expired,
// AllowsIP), after the token is proven genuine.
func (s *Store) TokenByValue(value string) (t Token, u User, err error) {
	if !WellFormedToken(value) {
		return Token{}, User{}, ErrNotFound
	}
	key := tokenKey(value)
	gen := s.tokenGen.Load()
	if e, ok := s.cachedToken(key, gen); ok {
		return e.t, e.u, nil
	}
	if t, u, err = s.lookupToken(key); err != nil {
		return Token{}, User{}, err
	}
	s.cacheToken(key, tokenCacheEntry{gen: gen, t: t, u: u})
	return t, u, nil
}

// lookupToken reads a token and its user from the database.
func (s *Store) lookupToken(key []byte) (t Token, u User, err error) {
	// A bare bbolt read transaction: this path runs on every uncached API
	// request and reads plain buckets only, so it needs no Storm node
	// (tx.n stays nil).
	err = s.db.Bolt.View(func(btx *bolt.Tx) error {
		tx := &Tx{s: s, b: btx}
		var err error
		if t, err = tx.tokenByKey(key); err != nil {
			return err
		}
		u, err = tx.tokenUser(t.UserID)
		if err != nil {
			return fmt.Errorf("model: user %d of token %s: %w", t.UserID, t.ID, err)
		}
		return nil
	})
	if err != nil {
		return Token{}, User{}, err
	}
	return t, u, nil
}

// tokenCacheEntry is a token and its user as read while the store's write
// generation was gen.
type tokenCacheEntry struct {
	gen uint64
	t   Token
	u   User
}

// tokenCacheMax bounds the lookup cache; past it the cache starts afresh.
const tokenCacheMax = 10000

// cachedToken returns the cached lookup of key if no write has committed
// since it was read. Any write (to any record) ends every entry, so a
// deleted or changed token or user is never served from the cache: the
// write's Update returns only after the generation moved on.
func (s *Store) cachedToken(key []byte, gen uint64) (tokenCacheEntry, bool) {
	s.tokenMu.Lock()
	e, ok := s.tokenCache[string(key)]
	s.tokenMu.Unlock()
	return e, ok && e.gen == gen
}

func (s *Store) cacheToken(key []byte, e tokenCacheEntry) {
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	if s.tokenCache == nil || len(s.tokenCache) >= tokenCacheMax {
		s.tokenCache = make(map[string]tokenCacheEntry)
	}
	s.tokenCache[string(key)] = e
}

// tokenUserFields are the fields of a User that a token request needs.
// Decoding only these skips the secrets (password hash, TOTP secret,
// recovery code hashes): they are never loaded into an API request, and
// the lookup that runs on every request stays cheap.
type tokenUserFields struct {
	ID          int
	Username    string
	UsernameKey string
	Email       string
	CreatedAt   time.Time
	TOTPEnabled bool
	Passkeys    int
}

// tokenUser reads the user with id by key: Storm keeps a User as JSON
// under its big-endian int64 id in the bucket named after the type. This
// skips the reflection of Storm's One("ID", …), which this path would run
// on every API request.
func (tx *Tx) tokenUser(id int) (User, error) {
	b := tx.b.Bucket([]byte("User"))
	if b == nil {
		return User{}, ErrNotFound
	}
	raw := b.Get(binary.BigEndian.AppendUint64(nil, uint64(id)))
	if raw == nil {
		return User{}, ErrNotFound
	}
	var f tokenUserFields
	if err := json.Unmarshal(raw, &f); err != nil {
		return User{}, err
	}
	if f.ID != id {
		return User{}, ErrNotFound
	}
	return User{ID: f.ID, Username: f.Username, UsernameKey: f.UsernameKey, Email: f.Email,
		CreatedAt: f.CreatedAt, TOTPEnabled: f.TOTPEnabled, Passkeys: f.Passkeys}, nil
}
