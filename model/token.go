package model

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Access token audit events.
const (
	EventTokenCreated  = "token.created"
	EventTokenModified = "token.modified"
	EventTokenDeleted  = "token.deleted"
	// EventTokenRefused records a token that was refused: unknown or
	// malformed, expired, or used from an address outside its white list.
	EventTokenRefused = "token.refused"
)

// Tokens live in two plain bbolt buckets rather than as Storm records:
// Storm's Save scans the whole unique index of the ID for every new record,
// and a list index scans every record sharing the indexed value (all of a
// user's tokens) on every save, so storing 100,000 tokens took minutes.
// Here every operation is a read or write by key, or a prefix scan over one
// user's entries.
var (
	// bucketTokens maps a token's hash (hex SHA-256 of the value) to the
	// JSON of its Token.
	bucketTokens = []byte("gh_tokens")
	// bucketTokensByUser maps user id (8 bytes, big-endian) + public id to
	// the token's hash: one user's tokens are one key prefix.
	bucketTokensByUser = []byte("gh_tokens_by_user")
)

// Token is an access token: it acts as its user on the JSON API. The value
// is shown once at creation; only its SHA-256 is stored, as the record's
// key, so a lookup is one read by key and a copied database holds no
// usable token.
type Token struct {
	// Hash is HashToken(value), the record's key. Never shown.
	Hash string
	// ID is the public id shown in the UI and used in API paths; unique
	// among the user's tokens.
	ID     string
	UserID int
	// IPs is the white list in canonical form (see ParseIPList); empty
	// means any address.
	IPs        []string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt time.Time // zero: never used
	LastUsedIP string
	// Scope is TokenScopeRead or TokenScopeWrite; a record stored
	// before scopes existed reads as TokenScopeWrite.
	Scope string
	// CreatedBy is the id of the user who created the token, which may be
	// an admin other than its user; 0 for the gatehouse command (and for
	// tokens stored before the creator was recorded).
	CreatedBy int
}

// ReadOnly reports whether t may make only reading requests.
func (t Token) ReadOnly() bool { return t.Scope == TokenScopeRead }

func userTokenPrefix(userID int) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8+tokenIDLen), uint64(userID))
}

func userTokenKey(userID int, tid string) []byte { return append(userTokenPrefix(userID), tid...) }

// putToken writes t and its entry in the user's index.
func (tx *Tx) putToken(t *Token) error {
	key, err := hashKey(t.Hash)
	if err != nil {
		return fmt.Errorf("model: token %s has no valid hash", t.ID)
	}
	tb, err := tx.b.CreateBucketIfNotExists(bucketTokens)
	if err != nil {
		return err
	}
	ub, err := tx.b.CreateBucketIfNotExists(bucketTokensByUser)
	if err != nil {
		return err
	}
	if err := tb.Put(key, encodeToken(t)); err != nil {
		return err
	}
	return ub.Put(userTokenKey(t.UserID, t.ID), key)
}

// tokenByKey reads the token stored under key (the raw SHA-256).
func (tx *Tx) tokenByKey(key []byte) (Token, error) {
	b := tx.b.Bucket(bucketTokens)
	if b == nil {
		return Token{}, ErrNotFound
	}
	raw := b.Get(key)
	if raw == nil {
		return Token{}, ErrNotFound
	}
	return decodeToken(key, raw)
}

// tokenByHash reads the token whose Hash is hash.
func (tx *Tx) tokenByHash(hash string) (Token, error) {
	key, err := hashKey(hash)
	if err != nil {
		return Token{}, err
	}
	return tx.tokenByKey(key)
}

// deleteToken removes t and its index entry.
func (tx *Tx) deleteToken(t Token) error {
	key, err := hashKey(t.Hash)
	if err != nil {
		return err
	}
	if b := tx.b.Bucket(bucketTokens); b != nil {
		if err := b.Delete(key); err != nil {
			return err
		}
	}
	if b := tx.b.Bucket(bucketTokensByUser); b != nil {
		return b.Delete(userTokenKey(t.UserID, t.ID))
	}
	return nil
}

// Expired reports whether t no longer works at now: a token stops working
// at the instant of its expiry.
func (t Token) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

// AllowsIP reports whether the white list admits the client address ip
// (unmapped before matching).
func (t Token) AllowsIP(ip netip.Addr) bool { return ipAllowed(t.IPs, ip) }

// ipsText describes a white list for audit details.
func ipsText(ips []string) string {
	if len(ips) == 0 {
		return "any"
	}
	return strings.Join(ips, ",")
}

// NewToken is the input to CreateToken.
type NewToken struct {
	// IPs is the white list as entered (see ParseIPList).
	IPs []string
	// ExpiresAt is required: after now, at most 10 years away.
	ExpiresAt time.Time
	// Scope is TokenScopeRead or TokenScopeWrite; empty means write,
	// what every token could do before scopes existed.
	Scope string
	// CreatedBy is the id of the creating user; 0 for the gatehouse
	// command.
	CreatedBy int
}

// validate checks in at now and returns the canonical white list and the
// expiry in UTC, or a ValidationError on "ips" and "expires_at".
func (in NewToken) validate(now time.Time) ([]string, time.Time, error) {
	v := &ValidationError{}
	ips, err := ParseIPList(in.IPs)
	if fe, ok := AsValidation(err); ok {
		v.Add("ips", fe.Fields["ips"])
	}
	exp := in.ExpiresAt.UTC().Truncate(time.Second)
	if in.ExpiresAt.IsZero() {
		exp = time.Time{}
	}
	v.AddErr("expires_at", ValidateTokenExpiry(exp, now))
	v.AddErr("scope", ValidateTokenScope(in.scope()))
	return ips, exp, v.Err()
}

// scope is the scope to store: write when none was chosen.
func (in NewToken) scope() string {
	if in.Scope == "" {
		return TokenScopeWrite
	}
	return in.Scope
}

// TokenPatch changes a token's white list or expiry; nil fields keep their
// value. A non-nil empty IPs means any address. A new expiry must satisfy
// the expiry rule at the time of the change, so Modify can extend an
// expired token; changing only the white list of an expired token is
// allowed too.
type TokenPatch struct {
	IPs       *[]string
	ExpiresAt *time.Time
	// Scope, if set, must be TokenScopeRead or TokenScopeWrite; the
	// change holds from the next request on (the lookup cache is ended
	// by the write).
	Scope *string
}

// CreateToken creates an access token for the user with userID and
// returns its value (to be shown once) with the stored record. The token
// and its audit event are written in one transaction.
func (s *Store) CreateToken(userID int, in NewToken, by Actor) (value string, t Token, err error) {
	err = s.Update(func(tx *Tx) error {
		value, t, err = tx.CreateToken(userID, in, by)
		return err
	})
	if err != nil {
		return "", Token{}, err
	}
	return value, t, nil
}

// CreateToken is Store.CreateToken inside tx (used to create many tokens
// in one transaction, e.g. for benchmarks and imports).
func (tx *Tx) CreateToken(userID int, in NewToken, by Actor) (string, Token, error) {
	now := tx.s.now().UTC()
	ips, exp, err := in.validate(now)
	if err != nil {
		return "", Token{}, err
	}
	u, err := tx.User(userID)
	if err != nil {
		return "", Token{}, err
	}
	value := NewTokenValue()
	t := Token{Hash: HashToken(value), UserID: u.ID, IPs: ips, CreatedAt: now.Truncate(time.Second), ExpiresAt: exp,
		Scope: in.scope(), CreatedBy: in.CreatedBy}
	// A collision of 60-bit random ids within one user's tokens is very
	// unlikely; retry anyway.
	for i := 0; ; i++ {
		t.ID = newTokenID()
		if _, err := tx.Token(u.ID, t.ID); errors.Is(err, ErrNotFound) {
			break
		} else if err != nil {
			return "", Token{}, err
		} else if i > 5 {
			return "", Token{}, errors.New("model: could not find a free token id")
		}
	}
	if err := tx.putToken(&t); err != nil {
		return "", Token{}, fmt.Errorf("model: save token: %w", err)
	}
	detail := fmt.Sprintf("token %s; scope %s; ips %s; expires %s", t.ID, t.Scope, ipsText(t.IPs), t.ExpiresAt.Format(time.RFC3339))
	if err := tx.Audit(by, EventTokenCreated, u.ID, u.Username, detail); err != nil {
		return "", Token{}, err
	}
	return value, t, nil
}

// Token returns the token with public id tid of the user with userID.
func (tx *Tx) Token(userID int, tid string) (Token, error) {
	var hash []byte
	if b := tx.b.Bucket(bucketTokensByUser); b != nil && tid != "" && len(tid) <= 64 {
		hash = b.Get(userTokenKey(userID, tid))
	}
	if hash == nil {
		return Token{}, fmt.Errorf("model: token %q of user %d: %w", tid, userID, ErrNotFound)
	}
	t, err := tx.tokenByKey(hash)
	if err != nil {
		return Token{}, fmt.Errorf("model: token %q of user %d: %w", tid, userID, err)
	}
	return t, nil
}

// Token returns the token with public id tid of the user with userID.
func (s *Store) Token(userID int, tid string) (t Token, err error) {
	err = s.View(func(tx *Tx) error { t, err = tx.Token(userID, tid); return err })
	return t, err
}

// Tokens returns the tokens of the user with userID, oldest first. A user
// without tokens (or an unknown user) has none.
func (s *Store) Tokens(userID int) (out []Token, err error) {
	err = s.View(func(tx *Tx) error { out, err = tx.tokensOf(userID); return err })
	return out, err
}

func (tx *Tx) tokensOf(userID int) ([]Token, error) {
	b := tx.b.Bucket(bucketTokensByUser)
	if b == nil {
		return nil, nil
	}
	var out []Token
	prefix := userTokenPrefix(userID)
	c := b.Cursor()
	for k, hash := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, hash = c.Next() {
		t, err := tx.tokenByKey(hash)
		if err != nil {
			return nil, fmt.Errorf("model: tokens of user %d: %w", userID, err)
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// UpdateToken applies p to the token tid of the user with userID and
// records the change in the audit log, in one transaction. A patch that
// changes nothing writes nothing.
func (s *Store) UpdateToken(userID int, tid string, p TokenPatch, by Actor) (Token, error) {
	now := s.now().UTC()
	v := &ValidationError{}
	var ips []string
	if p.IPs != nil {
		var err error
		ips, err = ParseIPList(*p.IPs)
		if fe, ok := AsValidation(err); ok {
			v.Add("ips", fe.Fields["ips"])
		}
	}
	var exp time.Time
	if p.ExpiresAt != nil {
		if !p.ExpiresAt.IsZero() {
			exp = p.ExpiresAt.UTC().Truncate(time.Second)
		}
		v.AddErr("expires_at", ValidateTokenExpiry(exp, now))
	}
	if p.Scope != nil {
		v.AddErr("scope", ValidateTokenScope(*p.Scope))
	}
	if err := v.Err(); err != nil {
		return Token{}, err
	}
	var t Token
	err := s.Update(func(tx *Tx) error {
		var err error
		if t, err = tx.Token(userID, tid); err != nil {
			return err
		}
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		var changes []string
		if p.IPs != nil && ipsText(ips) != ipsText(t.IPs) {
			changes = append(changes, fmt.Sprintf("ips %s → %s", ipsText(t.IPs), ipsText(ips)))
			t.IPs = ips
		}
		if p.ExpiresAt != nil && !exp.Equal(t.ExpiresAt) {
			changes = append(changes, fmt.Sprintf("expires %s → %s", t.ExpiresAt.Format(time.RFC3339), exp.Format(time.RFC3339)))
			t.ExpiresAt = exp
		}
		if p.Scope != nil && *p.Scope != t.Scope {
			changes = append(changes, fmt.Sprintf("scope %s → %s", t.Scope, *p.Scope))
			t.Scope = *p.Scope
		}
		if len(changes) == 0 {
			return nil
		}
		if err := tx.putToken(&t); err != nil {
			return fmt.Errorf("model: save token %s: %w", t.ID, err)
		}
		return tx.Audit(by, EventTokenModified, u.ID, u.Username, "token "+t.ID+": "+strings.Join(changes, "; "))
	})
	if err != nil {
		return Token{}, err
	}
	return t, nil
}

// DeleteToken deletes the token tid of the user with userID; it stops
// working at once. The deletion is audited in the same transaction.
func (s *Store) DeleteToken(userID int, tid string, by Actor) error {
	return s.Update(func(tx *Tx) error {
		t, err := tx.Token(userID, tid)
		if err != nil {
			return err
		}
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		if err := tx.deleteToken(t); err != nil {
			return fmt.Errorf("model: delete token %s: %w", t.ID, err)
		}
		return tx.Audit(by, EventTokenDeleted, u.ID, u.Username, "token "+t.ID)
	})
}

// deleteTokensOf deletes every token of a user: part of DeleteUser's
// cascade, inside its transaction.
func (tx *Tx) deleteTokensOf(userID int) error {
	list, err := tx.tokensOf(userID)
	if err != nil {
		return err
	}
	for i := range list {
		if err := tx.deleteToken(list[i]); err != nil {
			return fmt.Errorf("model: delete token %s: %w", list[i].ID, err)
		}
	}
	return nil
}
