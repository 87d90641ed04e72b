package model

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// sealVersion prefixes every sealed value so the scheme can change later.
const sealVersion = 1

// ErrNoKey means a sealed secret cannot be opened because the data
// directory's key file is missing.
var ErrNoKey = errors.New("the data directory's key file is missing")

// sealKey derives the sealing key from the key file, apart from its other
// uses (CSRF tokens, device cookies).
func (s *Store) sealKey() ([]byte, error) {
	if s.key == nil {
		return nil, ErrNoKey
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("seal\x00v1"))
	return m.Sum(nil), nil
}

// aead is the XChaCha20-Poly1305 cipher under the sealing key, the one
// setup that seal and open must share.
func (s *Store) aead() (cipher.AEAD, error) {
	k, err := s.sealKey()
	if err != nil {
		return nil, err
	}
	return chacha20poly1305.NewX(k)
}

// seal encrypts plain with XChaCha20-Poly1305 under the data directory's
// key; ad binds the ciphertext to its place (e.g. "totp|<user id>") so a
// sealed value copied to another record does not open.
func (s *Store) seal(plain []byte, ad string) ([]byte, error) {
	aead, err := s.aead()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plain)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("model: nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plain, []byte(ad)), nil
}

// open decrypts a value made by seal with the same ad.
func (s *Store) open(sealed []byte, ad string) ([]byte, error) {
	aead, err := s.aead()
	if err != nil {
		return nil, err
	}
	if len(sealed) < 1+aead.NonceSize()+aead.Overhead() || sealed[0] != sealVersion {
		return nil, errors.New("model: sealed value is malformed")
	}
	n := 1 + aead.NonceSize()
	plain, err := aead.Open(nil, sealed[1:n], sealed[n:], []byte(ad))
	if err != nil {
		return nil, errors.New("model: sealed value does not open with this key file")
	}
	return plain, nil
}
