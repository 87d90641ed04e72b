package model

import (
	"bytes"
	"crypto/subtle"
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
	TOTPIssuer      = "Gatehouse"
	TOTPPeriod      = 30
	TOTPDigits      = 6
	TOTPSecretBytes = 20
	// totpSkew is how many steps either side of now are accepted
	// (RFC 6238 §5.2 recommends at most one step of network delay).
	totpSkew = 1
)

var totpOpts = totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// TOTPEnrollment is a TOTP secret waiting to be confirmed with a code. It
// lives server-side only; the secret is shown to the user once.
type TOTPEnrollment struct {
	UserID  int
	Secret  string // base32, no padding
	URL     string // otpauth://totp/Gatehouse:<username>?...
	Created time.Time
	// KeepSession is the session confirming the enrolment. It stays
	// signed in when 2FA goes on; the user's other sessions end, since
	// they were signed in without the second factor.
	KeepSession string
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

func totpAD(userID int) string { return fmt.Sprintf("totp|%d", userID) }
