package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"time"
)

// A token record is stored in a small binary form rather than JSON: a
// lookup decodes one on every API request, and small records keep the
// bbolt tree of 100,000 tokens shallow. The key is the raw 32-byte SHA-256
// of the value; the record holds everything else:
//
//	version byte (1)
//	ID          uvarint length + bytes
//	UserID      varint
//	IPs         uvarint count, then uvarint length + bytes each
//	CreatedAt, ExpiresAt, LastUsedAt
//	            varint Unix seconds + uvarint nanoseconds, each preceded by
//	            one byte: 0 for the zero time, 1 otherwise
//	LastUsedIP  uvarint length + bytes
//	Scope       uvarint length + bytes (version 2)
//	CreatedBy   varint (version 2)
//
// Version 1 records, written before scopes, end after LastUsedIP and read
// as write tokens created by no recorded user.
const (
	tokenRecordVersion   = 2
	tokenRecordVersionV1 = 1
)

var errBadTokenRecord = errors.New("model: damaged token record")

// tokenKey is the bucket key of a token: the raw SHA-256 of its value.
func tokenKey(value string) []byte {
	sum := sha256.Sum256([]byte(value))
	return sum[:]
}

// hashKey turns a Token.Hash (hex) back into its key.
func hashKey(hash string) ([]byte, error) {
	k, err := hex.DecodeString(hash)
	if err != nil || len(k) != sha256.Size {
		return nil, ErrNotFound
	}
	return k, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// encodeToken writes t's record (everything but the hash, which is the key).
func encodeToken(t *Token) []byte {
	b := make([]byte, 0, 64+len(t.ID)+len(t.LastUsedIP)+24*len(t.IPs))
	b = append(b, tokenRecordVersion)
	b = appendString(b, t.ID)
	b = binary.AppendVarint(b, int64(t.UserID))
	b = binary.AppendUvarint(b, uint64(len(t.IPs)))
	for _, ip := range t.IPs {
		b = appendString(b, ip)
	}
	b = appendTime(b, t.CreatedAt)
	b = appendTime(b, t.ExpiresAt)
	b = appendTime(b, t.LastUsedAt)
	b = appendString(b, t.LastUsedIP)
	b = appendString(b, t.Scope)
	return binary.AppendVarint(b, int64(t.CreatedBy))
}

// tokenReader reads a record; the first error sticks.
type tokenReader struct {
	b   []byte
	err error
}

func (r *tokenReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = errBadTokenRecord, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *tokenReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = errBadTokenRecord, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// string copies: the bytes of a bbolt read are valid only in its tx.
func (r *tokenReader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err, r.b = errBadTokenRecord, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *tokenReader) time() time.Time {
	if len(r.b) == 0 {
		r.err = errBadTokenRecord
		return time.Time{}
	}
	set := r.b[0]
	r.b = r.b[1:]
	if set == 0 {
		return time.Time{}
	}
	sec := r.varint()
	nsec := r.uvarint()
	if nsec >= 1e9 {
		r.err = errBadTokenRecord
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// decodeToken reads the record stored under key.
func decodeToken(key, raw []byte) (Token, error) {
	if len(raw) == 0 || (raw[0] != tokenRecordVersion && raw[0] != tokenRecordVersionV1) {
		return Token{}, errBadTokenRecord
	}
	r := &tokenReader{b: raw[1:]}
	t := Token{Hash: hex.EncodeToString(key)}
	t.ID = r.string()
	t.UserID = int(r.varint())
	if n := r.uvarint(); n > 0 && n <= TokenMaxIPs {
		t.IPs = make([]string, n)
		for i := range t.IPs {
			t.IPs[i] = r.string()
		}
	} else if n > TokenMaxIPs {
		return Token{}, errBadTokenRecord
	}
	t.CreatedAt = r.time()
	t.ExpiresAt = r.time()
	t.LastUsedAt = r.time()
	t.LastUsedIP = r.string()
	if raw[0] == tokenRecordVersion {
		t.Scope = r.string()
		t.CreatedBy = int(r.varint())
	}
	if t.Scope == "" {
		t.Scope = TokenScopeWrite
	}
	if r.err != nil || len(r.b) != 0 {
		return Token{}, errBadTokenRecord
	}
	return t, nil
}
