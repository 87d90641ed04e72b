package model

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math/big"
)

// RandomToken returns n random bytes encoded as unpadded base64url.
func RandomToken(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("model: crypto/rand failed: " + err.Error()) // never happens on Linux ≥ 3.17
	}
	return b
}

// HashToken returns the hex SHA-256 of a secret token value: the form in
// which session ids (and access tokens) are stored and looked up. The
// secrets are 256-bit random values, so a fast hash is enough.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// MAC returns HMAC-SHA256(key, purpose || 0 || msg), hex-encoded. purpose
// separates the uses of the data directory's key.
func MAC(key []byte, purpose, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// MACEqual compares two MACs in constant time.
func MACEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

const passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// RandomPassword returns a 20-character password (about 116 bits) that
// satisfies the password rule: letters and digits, no look-alikes.
func RandomPassword() string {
	for {
		b := make([]byte, PasswordMaxLen)
		for i := range b {
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(passwordAlphabet))))
			if err != nil {
				panic("model: crypto/rand failed: " + err.Error())
			}
			b[i] = passwordAlphabet[n.Int64()]
		}
		if ValidatePassword(string(b)) == nil {
			return string(b)
		}
	}
}
