package model

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"time"

	"github.com/boombuler/barcode/qr"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters that every common authenticator app (Google and
// Microsoft Authenticator, Authy, 1Password) accepts: RFC 6238 with SHA-1,
// 6 digits, a 30 s period, and a 160-bit secret (RFC 4226 §4 asks for at
// least 128 bits and recommends 160).
const (
	TOTPIssuer        = "Gatehouse"
	TOTPPeriod        = 30
	TOTPDigits        = 6
	TOTPSecretBytes   = 20
	RecoveryCodeCount = 10
	// totpSkew is how many steps either side of now are accepted
	// (RFC 6238 §5.2 recommends at most one step of network delay).
	totpSkew = 1
)

// Two-factor audit events.
const (
	EventTOTPEnabled        = "2fa.enabled"
	EventTOTPDisabled       = "2fa.disabled"
	EventTOTPReset          = "2fa.reset"
	EventRecoveryCodeUsed   = "2fa.recovery_code_used"
	EventRecoveryCodesRegen = "2fa.recovery_codes_regenerated"
)

// ErrInvalidCode is the one answer to a wrong, reused or malformed code.
var ErrInvalidCode = errors.New("invalid or already used code")

var totpOpts = totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPEnrollment is a TOTP secret waiting to be confirmed with a code. It
// lives server-side only; the secret is shown to the user once.
type TOTPEnrollment struct {
	UserID  int
	Secret  string // base32, no padding
	URL     string // otpauth://totp/Gatehouse:<username>?...
	Created time.Time
}

// NewTOTPEnrollment generates a fresh secret for user u.
func NewTOTPEnrollment(u User, now time.Time) (TOTPEnrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: u.Username,
		Period: TOTPPeriod, SecretSize: TOTPSecretBytes, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("model: totp secret: %w", err)
	}
	return TOTPEnrollment{UserID: u.ID, Secret: key.Secret(), URL: key.URL(), Created: now}, nil
}

// qrQuietZone is the white margin around a QR code, in modules: ISO/IEC
// 18004 asks for four, and phone scanners may not find a code without it.
const qrQuietZone = 4

// QRPNG renders the enrolment URL as a size×size PNG QR code with whole
// pixels per module (no blurred edges) and the quiet zone.
func (e TOTPEnrollment) QRPNG(size int) ([]byte, error) {
	code, err := qr.Encode(e.URL, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("model: qr code: %w", err)
	}
	b := code.Bounds()
	n := b.Dx()
	scale := size / (n + 2*qrQuietZone)
	if scale < 1 {
		return nil, fmt.Errorf("model: a QR code of %d modules does not fit in %d pixels", n, size)
	}
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	off := (size - n*scale) / 2
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if r, _, _, _ := code.At(b.Min.X+x, b.Min.Y+y).RGBA(); r >= 0x8000 {
				continue // a light module: the background is white already
			}
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					img.SetColorIndex(off+x*scale+dx, off+y*scale+dy, 1)
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// GroupedSecret returns the secret in groups of four for manual entry.
func (e TOTPEnrollment) GroupedSecret() string {
	var b strings.Builder
	for i := 0; i < len(e.Secret); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.Secret[i:min(i+4, len(e.Secret))])
	}
	return b.String()
}

// TOTPStep returns the RFC 6238 time step of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// TOTPCode returns the code of secret (base32) for time step step.
func TOTPCode(secret string, step int64) (string, error) {
	return totp.GenerateCodeCustom(secret, time.Unix(step*TOTPPeriod, 0).UTC(), totpOpts)
}

// MatchTOTP checks code against the steps now-1, now and now+1 and returns
// the matched step. Steps at or below last were used already and never
// match: a code is accepted once (RFC 6238 §5.2), and neighbouring steps
// may share digits, so the step, not the code, is remembered.
func MatchTOTP(secret, code string, now time.Time, last int64) (int64, bool) {
	if len(code) != TOTPDigits {
		return 0, false
	}
	cur := TOTPStep(now)
	found, ok := int64(0), false
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		want, err := TOTPCode(secret, step)
		if err != nil {
			return 0, false
		}
		// Compare every candidate so the time does not depend on which matched.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && step > last {
			found, ok = step, true
		}
	}
	return found, ok
}

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

func totpAD(userID int) string { return fmt.Sprintf("totp|%d", userID) }

// EnableTOTP confirms enrolment e with code: on success 2FA is on, the
// code's step counts as used, the secret is stored sealed, and the ten
// recovery codes are returned (shown once; only hashes are stored).
func (s *Store) EnableTOTP(e TOTPEnrollment, code string, by Actor) ([]string, error) {
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
		if u.TOTPEnabled {
			return fmt.Errorf("model: enable 2fa for %d: %w", u.ID, errors.Join(ErrConflict, FieldError("code", "Two-factor authentication is already on for this user.")))
		}
		u.TOTPEnabled, u.TOTPSecret, u.TOTPLastStep, u.RecoveryHashes = true, sealed, step, hashes
		if err := tx.n.Save(&u); err != nil {
			return err
		}
		return tx.Audit(by, EventTOTPEnabled, u.ID, u.Username, "")
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// DisableTOTP turns 2FA off for userID and forgets its secret and recovery
// codes. Done by someone else (or the CLI), it is audited as a reset.
func (s *Store) DisableTOTP(userID int, by Actor) error {
	return s.Update(func(tx *Tx) error {
		u, err := tx.User(userID)
		if err != nil {
			return err
		}
		if !u.TOTPEnabled {
			return nil
		}
		u.TOTPEnabled, u.TOTPSecret, u.TOTPLastStep, u.RecoveryHashes = false, nil, 0, nil
		if err := tx.n.Save(&u); err != nil {
			return err
		}
		ev := EventTOTPDisabled
		if by.UserID != userID {
			ev = EventTOTPReset
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
		if !u.TOTPEnabled {
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
		if !u.TOTPEnabled {
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
