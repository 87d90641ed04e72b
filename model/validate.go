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
	// PasswordMinClasses is how many of the classes letters, digits and
	// other characters a password must mix.
	PasswordMinClasses = 2
	EmailMaxLen        = 254
	// MaxSecretInput bounds any password-like input before it is hashed or
	// compared, so an attacker cannot make us hash megabytes.
	MaxSecretInput = 1024
)

// ValidateText is the rule that every text field a person types shares
// (username, email, password, passkey name, and any field added later):
// valid UTF-8 without control characters (Unicode category Cc), format
// characters (Cf: the bidi controls U+202A–U+202E and U+2066–U+2069, the
// zero-width characters U+200B–U+200F, the BOM U+FEFF, tags) or line and
// paragraph separators (Zl, Zp). No keyboard types them; they hide in
// copy-pasted text, and the bidi controls make text display as something
// else (after U+202E, "moc.elpmaxe" shows as "example.com"). The message
// names the field and the character, which is otherwise invisible.
func ValidateText(field, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s must be valid UTF-8 text", field)
	}
	for _, r := range s {
		if invisible(r) {
			return fmt.Errorf("%s must not contain control or invisible formatting characters (it contains U+%04X)", field, r)
		}
	}
	return nil
}

// invisible reports whether r is a character that ValidateText refuses
// and the audit log escapes: Cc, Cf, Zl or Zp.
func invisible(r rune) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// ValidateUsername checks the username rule: 3–32 ASCII letters, digits,
// '_' and '-'. Uniqueness (ignoring ASCII case, see UsernameKey) is
// checked by the store.
func ValidateUsername(s string) error {
	if s == "" {
		return errors.New("username is required")
	}
	if len(s) < UsernameMinLen || len(s) > UsernameMaxLen {
		return fmt.Errorf("username must be %d to %d characters long", UsernameMinLen, UsernameMaxLen)
	}
	if err := ValidateText("username", s); err != nil {
		return err
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
// counts as other). Control and format characters are refused
// (ValidateText).
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
	if err := ValidateText("password", s); err != nil {
		return err
	}
	var letter, digit, other bool
	for _, r := range s {
		switch {
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
	if classes < PasswordMinClasses {
		return errors.New("password must mix at least two of: letters, digits, special characters")
	}
	return nil
}

// ValidateEmail checks that s is a plain address of at most 254 bytes that
// net/mail parses back to exactly the same text (no display name, no
// comments, no surrounding spaces) and that ValidateText accepts: net/mail
// lets any non-ASCII character into the local part, bidi controls too.
func ValidateEmail(s string) error {
	if s == "" {
		return errors.New("email is required")
	}
	if len(s) > EmailMaxLen {
		return fmt.Errorf("email must be at most %d characters long", EmailMaxLen)
	}
	if err := ValidateText("email", s); err != nil {
		return err
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return errors.New("email must be a valid address such as name@example.com")
	}
	return nil
}
