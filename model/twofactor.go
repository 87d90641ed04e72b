package model

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// Two-factor authentication of a user: a TOTP secret (totp.go) confirmed
// with a code, ten single-use recovery codes, and the check of either at
// login.

// RecoveryCodeCount is how many recovery codes a user gets.
const RecoveryCodeCount = 10

// Two-factor audit events.
const (
	EventTwoFactorEnabled   = "2fa.enabled"
	EventTwoFactorDisabled  = "2fa.disabled"
	EventTwoFactorReset     = "2fa.reset"
	EventRecoveryCodeUsed   = "2fa.recovery_code_used"
	EventRecoveryCodesRegen = "2fa.recovery_codes_regenerated"
)

// ErrInvalidCode is the one answer to a wrong, reused or malformed code.
var ErrInvalidCode = errors.New("invalid or already used code")

// CodeKind says what a typed second-factor code is.
type CodeKind int

// The kinds of second-factor codes.
const (
	CodeInvalid CodeKind = iota
	CodeTOTP
	CodeRecovery
)

const recoveryAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

var recoveryEncoding = base32.NewEncoding(recoveryAlphabet).WithPadding(base32.NoPadding)

// ParseCode normalises a typed code: spaces and dashes are dropped; six
// ASCII digits are a TOTP code, sixteen base32 characters (any case; 0, 1
// and 8 read as O, I and B) a recovery code. Anything else, including
// non-ASCII digits and overlong input, is CodeInvalid.
func ParseCode(in string) (CodeKind, string) {
	if len(in) > 64 {
		return CodeInvalid, ""
	}
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			b.WriteByte(c)
		default:
			return CodeInvalid, ""
		}
	}
	s := b.String()
	if len(s) == TOTPDigits && strings.Trim(s, "0123456789") == "" {
		return CodeTOTP, s
	}
	// Recovery codes use base32, which has no 0, 1 or 8: read a typed
	// 0/1/8 as the O/I/B it was meant to be (on paper they look alike).
	s = strings.NewReplacer("0", "O", "1", "I", "8", "B").Replace(strings.ToUpper(s))
	if len(s) == 16 && strings.Trim(s, recoveryAlphabet) == "" {
		return CodeRecovery, s
	}
	return CodeInvalid, ""
}

// newRecoveryCodes returns n codes of 80 random bits each, formatted
// XXXX-XXXX-XXXX-XXXX, and their SHA-256 hashes. A fast hash is enough for
// 80-bit random values, and a slow one times ten per attempt would be a
// denial-of-service lever.
func newRecoveryCodes(n int) (codes, hashes []string) {
	for i := 0; i < n; i++ {
		raw := recoveryEncoding.EncodeToString(randomBytes(10))
		codes = append(codes, raw[0:4]+"-"+raw[4:8]+"-"+raw[8:12]+"-"+raw[12:16])
		hashes = append(hashes, HashToken(raw))
	}
	return codes, hashes
}

// EnableTwoFactor confirms enrolment e with code: on success 2FA is on, the
// code's step counts as used, the secret is stored sealed, the user's
// sessions other than e.KeepSession end, and the ten recovery codes are
// returned (shown once; only hashes are stored).
func (s *Store) EnableTwoFactor(e TOTPEnrollment, code string, by Actor) ([]string, error) {
	kind, norm := ParseCode(code)
	if kind != CodeTOTP {
		return nil, FieldError("code", "Enter the 6-digit code from your authenticator app.")
	}
	step, ok := MatchTOTP(e.Secret, norm, s.now(), 0)
	if !ok {
		return nil, FieldError("code", "That code is not right. Check the time on your phone and try the next code.")
	}
	sealed, err := s.seal([]byte(e.Secret), totpAD(e.UserID))
	if err != nil {
		return nil, err
	}
	codes, hashes := newRecoveryCodes(RecoveryCodeCount)
	err = s.Update(func(tx *Tx) error {
		u, err := tx.User(e.UserID)
		if err != nil {
			return err
		}
		if u.TwoFactor {
			return fmt.Errorf("model: enable 2fa for %d: %w", u.ID, errors.Join(ErrConflict, FieldError("code", "Two-factor authentication is already on for this user.")))
		}
		u.TwoFactor, u.TOTPSecret, u.TOTPLastStep, u.RecoveryHashes = true, sealed, step, hashes
		if err := tx.n.Save(&u); err != nil {
			return err
		}
		if err := tx.deleteSessionsOf(u.ID, e.KeepSession); err != nil {
			return err
		}
		return tx.Audit(by, EventTwoFactorEnabled, u.ID, u.Username, "")
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTwoFactor turns 2FA off for userID and forgets its secret and
// recovery codes. Done by someone else (or the CLI), it is audited as a
// reset.
func (s *Store) DisableTwoFactor(userID int, by Actor) error {
	return s.Update(func(tx *Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		if !u.TwoFactor {
			return nil
		}
		u.TwoFactor, u.TOTPSecret, u.TOTPLastStep, u.RecoveryHashes = false, nil, 0, nil
		if err := tx.n.Save(&u); err != nil {
			return err
		}
		ev := EventTwoFactorDisabled
		if by.UserID != userID {
			ev = EventTwoFactorReset
		}
		return tx.Audit(by, ev, u.ID, u.Username, "")
	})
}

// RegenerateRecoveryCodes replaces userID's recovery codes; the old ones
// stop working at once.
func (s *Store) RegenerateRecoveryCodes(userID int, by Actor) ([]string, error) {
	codes, hashes := newRecoveryCodes(RecoveryCodeCount)
	err := s.Update(func(tx *Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		if !u.TwoFactor {
			return FieldError("code", "Two-factor authentication is off for this user.")
		}
		u.RecoveryHashes = hashes
		if err := tx.n.Save(&u); err != nil {
			return err
		}
		return tx.Audit(by, EventRecoveryCodesRegen, u.ID, u.Username, "")
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// VerifySecondFactor checks a TOTP or recovery code for userID at login.
// Reading, checking and recording the use happen in one write transaction,
// so two requests with the same code cannot both pass. It returns the kind
// of code that matched, or ErrInvalidCode.
func (s *Store) VerifySecondFactor(userID int, code string, by Actor) (CodeKind, error) {
	kind, norm := ParseCode(code)
	if kind == CodeInvalid {
		return CodeInvalid, ErrInvalidCode
	}
	err := s.Update(func(tx *Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		if !u.TwoFactor {
			return ErrInvalidCode
		}
		switch kind {
		case CodeTOTP:
			secret, err := s.open(u.TOTPSecret, totpAD(u.ID))
			if err != nil {
				return err
			}
			step, ok := MatchTOTP(string(secret), norm, s.now(), u.TOTPLastStep)
			if !ok {
				return ErrInvalidCode
			}
			return tx.n.UpdateField(&User{ID: u.ID}, "TOTPLastStep", step)
		default:
			h := HashToken(norm)
			for i, stored := range u.RecoveryHashes {
				if subtle.ConstantTimeCompare([]byte(stored), []byte(h)) == 1 {
					u.RecoveryHashes = append(u.RecoveryHashes[:i:i], u.RecoveryHashes[i+1:]...)
					if err := tx.n.Save(&u); err != nil {
						return err
					}
					return tx.Audit(by, EventRecoveryCodeUsed, u.ID, u.Username, fmt.Sprintf("%d left", len(u.RecoveryHashes)))
				}
			}
			return ErrInvalidCode
		}
	})
	if err != nil {
		return CodeInvalid, err
	}
	return kind, nil
}

// hasSealedSecrets reports whether any user has a sealed TOTP secret.
func (tx *Tx) hasSealedSecrets() (bool, error) {
	var users []User
	if err := tx.n.All(&users); err != nil {
		return false, err
	}
	for _, u := range users {
		if len(u.TOTPSecret) > 0 {
			return true, nil
		}
	}
	return false, nil
}
