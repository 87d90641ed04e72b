package model

import (
	"errors"
	"fmt"
	"net/mail"
	"unicode"
	"unicode/utf8"
)

// Field limits shared by the web UI, the API and the CLI.
const (
	UsernameMinLen = 3
	UsernameMaxLen = 32
	PasswordMinLen = 8
	PasswordMaxLen = 20
	EmailMaxLen    = 254
	// MaxSecretInput bounds any password-like input before it is hashed or
	// compared, so an attacker cannot make us hash megabytes.
	MaxSecretInput = 1024
)

// ValidateUsername checks the username rule: 3–32 ASCII letters, digits,
// '_' and '-'. Uniqueness (ignoring case) is checked by the store.
func ValidateUsername(s string) error {
	if s == "" {
		return errors.New("username is required")
	}
	if len(s) < UsernameMinLen || len(s) > UsernameMaxLen {
		return fmt.Errorf("username must be %d to %d characters long", UsernameMinLen, UsernameMaxLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		default:
			return errors.New("username may contain only letters a-z, digits, '_' and '-'")
		}
	}
	return nil
}

// ValidatePassword checks the password rule: 8–20 characters (runes) with
// at least two of the classes letters, digits and other characters (a space
// counts as other). Control characters are refused: no keyboard types them
// and they hide in copy-pasted text.
func ValidatePassword(s string) error {
	if s == "" {
		return errors.New("password is required")
	}
	if len(s) > MaxSecretInput || !utf8.ValidString(s) {
		return fmt.Errorf("password must be %d to %d characters long", PasswordMinLen, PasswordMaxLen)
	}
	n := utf8.RuneCountInString(s)
	if n < PasswordMinLen || n > PasswordMaxLen {
		return fmt.Errorf("password must be %d to %d characters long", PasswordMinLen, PasswordMaxLen)
	}
	var letter, digit, other bool
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return errors.New("password must not contain control characters")
		case unicode.IsLetter(r):
			letter = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
	}
	classes := 0
	for _, b := range []bool{letter, digit, other} {
		if b {
			classes++
		}
	}
	if classes < 2 {
		return errors.New("password must mix at least two of: letters, digits, special characters")
	}
	return nil
}

// ValidateEmail checks that s is a plain address of at most 254 bytes that
// net/mail parses back to exactly the same text (no display name, no
// comments, no surrounding spaces).
func ValidateEmail(s string) error {
	if s == "" {
		return errors.New("email is required")
	}
	if len(s) > EmailMaxLen {
		return fmt.Errorf("email must be at most %d characters long", EmailMaxLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return errors.New("email must be a valid address such as name@example.com")
	}
	return nil
}
