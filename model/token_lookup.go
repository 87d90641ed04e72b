package model

import "fmt"

// TokenByValue returns the token with the given value and its user: the
// sign-in of every API request that carries an access token. The user
// comes whole but without its secrets (see User.withoutSecrets), which no
// API request needs. A malformed value (wrong prefix, length or checksum)
// is refused without a lookup. Unknown tokens and tokens of deleted users
// are ErrNotFound; a user that SignInAllowed refuses is ErrSignInRefused
// (and ErrNotFound). Expiry and the white list are the caller's to check
// (Expired, AllowsIP), after the token is proven genuine.
func (s *Store) TokenByValue(value string) (t Token, u User, err error) {
	if !WellFormedToken(value) {
		return Token{}, User{}, ErrNotFound
	}
	key := tokenKey(value)
	gen := s.tokenGen.Load()
	if e, ok := s.cachedToken(key, gen); ok {
		t, u = e.t, e.u
	} else {
		if t, u, err = s.lookupToken(key); err != nil {
			return Token{}, User{}, err
		}
		s.cacheToken(key, tokenCacheEntry{gen: gen, t: t, u: u})
	}
	// Checked on every call, cached or not: the rule may depend on more
	// than the records the cache's generation follows.
	if err := refuseSignIn(u, ErrNotFound); err != nil {
		return Token{}, User{}, err
	}
	return t, u, nil
}

// lookupToken reads a token and its whole user record from the database,
// in one read-only transaction: one read by key for the token, one for
// the user.
func (s *Store) lookupToken(key []byte) (t Token, u User, err error) {
	err = s.View(func(tx *Tx) error {
		var err error
		if t, err = tx.tokenByKey(key); err != nil {
			return err
		}
		if u, err = tx.User(t.UserID); err != nil {
			return fmt.Errorf("model: user %d of token %s: %w", t.UserID, t.ID, err)
		}
		return nil
	})
	if err != nil {
		return Token{}, User{}, err
	}
	return t, u.withoutSecrets(), nil
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
