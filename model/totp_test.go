package model_test

import (
	"bytes"
	"encoding/base32"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestTOTPRFC6238Vectors checks our code generation against the SHA-1 rows
// of RFC 6238 Appendix B. The RFC's codes have 8 digits; a 6-digit code is
// the same truncated value modulo 10^6, i.e. its last six digits.
func TestTOTPRFC6238Vectors(t *testing.T) {
	t.Parallel()
	secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		code string
	}{
		{59, "94287082"}, {1111111109, "07081804"}, {1111111111, "14050471"},
		{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
	} {
		got, err := model.TOTPCode(secret, v.unix/30)
		if err != nil {
			t.Fatal(err)
		}
		if want := v.code[2:]; got != want {
			t.Errorf("T=%d: code %s, want %s", v.unix, got, want)
		}
		step, ok := model.MatchTOTP(secret, v.code[2:], time.Unix(v.unix, 0), 0)
		if !ok || step != v.unix/30 {
			t.Errorf("T=%d: MatchTOTP = %d, %v", v.unix, step, ok)
		}
	}
}

// TestTOTPOathtool checks that codes from an independent implementation
// (oathtool, RFC 6238) are accepted.
func TestTOTPOathtool(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	s := testkit.NewStore(t, testkit.WithClock(clock))
	u := testkit.AddUser(t, s, "alice")
	e, err := model.NewTOTPEnrollment(u, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnableTwoFactor(e, testkit.Oathtool(t, e.Secret, clock.Now()), model.ActorFor(u, "")); err != nil {
		t.Fatalf("oathtool code refused at enrolment: %v", err)
	}
	clock.Advance(30 * time.Second)
	if kind, err := s.VerifySecondFactor(u.ID, testkit.Oathtool(t, e.Secret, clock.Now()), model.ActorFor(u, "")); err != nil || kind != model.CodeTOTP {
		t.Fatalf("oathtool code refused at login: %v", err)
	}
}

func TestTOTPEnrollmentURL(t *testing.T) {
	t.Parallel()
	e, err := model.NewTOTPEnrollment(model.User{ID: 7, Username: "alice"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"otpauth://totp/Gatehouse:alice?", "issuer=Gatehouse", "algorithm=SHA1", "digits=6", "period=30", "secret=" + e.Secret} {
		if !strings.Contains(e.URL, want) {
			t.Errorf("URL %q lacks %q", e.URL, want)
		}
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil || len(raw)*8 < 160 {
		t.Errorf("secret %q: %d bits, err %v; want at least 160", e.Secret, len(raw)*8, err)
	}
	if g := e.GroupedSecret(); strings.ReplaceAll(g, " ", "") != e.Secret || len(strings.Fields(g)[0]) != 4 {
		t.Errorf("grouped secret %q", g)
	}
}

func TestTOTPReplay(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(time.Unix(1_800_000_000, 0))
	s := testkit.NewStore(t, testkit.WithClock(clock))
	u := testkit.AddUser(t, s, "alice")
	e, _ := testkit.EnableTwoFactor(t, s, u) // uses the current step
	cur := model.TOTPStep(clock.Now())
	code := func(step int64) string {
		c, err := model.TOTPCode(e.Secret, step)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	verify := func(c string) error { _, err := s.VerifySecondFactor(u.ID, c, model.ActorFor(u, "")); return err }

	if err := verify(code(cur)); !errors.Is(err, model.ErrInvalidCode) {
		t.Errorf("the enrolment's code was accepted again: %v", err)
	}
	clock.Advance(30 * time.Second) // now cur+1
	if err := verify(code(cur - 1)); !errors.Is(err, model.ErrInvalidCode) {
		t.Errorf("a code from two steps ago was accepted: %v", err)
	}
	if err := verify(code(cur + 1)); err != nil {
		t.Errorf("current code refused: %v", err)
	}
	if err := verify(code(cur + 1)); !errors.Is(err, model.ErrInvalidCode) {
		t.Errorf("same code accepted twice: %v", err)
	}
	clock.Advance(60 * time.Second) // now cur+3: previous step cur+2 is still fresh
	if err := verify(code(cur + 2)); err != nil {
		t.Errorf("previous step refused: %v", err)
	}
	if err := verify(code(cur + 2)); !errors.Is(err, model.ErrInvalidCode) {
		t.Errorf("previous step accepted twice: %v", err)
	}
	if err := verify(code(cur + 5)); !errors.Is(err, model.ErrInvalidCode) {
		t.Errorf("a code two steps ahead was accepted: %v", err)
	}
}

func TestTOTPEnableWrongCode(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(time.Unix(1_800_000_000, 0))
	s := testkit.NewStore(t, testkit.WithClock(clock))
	u := testkit.AddUser(t, s, "alice")
	e, err := model.NewTOTPEnrollment(u, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	old, _ := model.TOTPCode(e.Secret, model.TOTPStep(clock.Now())-2)
	for _, c := range []string{"", "12345", "abcdef", old} {
		if _, err := s.EnableTwoFactor(e, c, model.ActorFor(u, "")); err == nil {
			t.Errorf("code %q accepted", c)
		} else if _, ok := model.AsValidation(err); !ok {
			t.Errorf("code %q: %v is not a field error", c, err)
		}
	}
	if got, _ := s.User(u.ID); got.TwoFactor || got.TOTPSecret != nil {
		t.Error("2FA turned on by a wrong code")
	}
}

func TestRecoveryCodes(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(time.Unix(1_800_000_000, 0))
	s := testkit.NewStore(t, testkit.WithClock(clock))
	u := testkit.AddUser(t, s, "alice")
	_, codes := testkit.EnableTwoFactor(t, s, u)
	if len(codes) != model.RecoveryCodeCount {
		t.Fatalf("%d codes", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		kind, norm := model.ParseCode(c)
		if kind != model.CodeRecovery || len(norm)*5 < 64 || seen[norm] {
			t.Fatalf("code %q: kind %v, %d bits, duplicate %v", c, kind, len(norm)*5, seen[norm])
		}
		seen[norm] = true
	}
	// Each works once, in any case and with or without dashes.
	if k, err := s.VerifySecondFactor(u.ID, strings.ToLower(codes[0]), model.ActorFor(u, "")); err != nil || k != model.CodeRecovery {
		t.Fatalf("recovery code refused: %v", err)
	}
	if _, err := s.VerifySecondFactor(u.ID, codes[0], model.ActorFor(u, "")); !errors.Is(err, model.ErrInvalidCode) {
		t.Fatalf("recovery code accepted twice: %v", err)
	}
	if got, _ := s.User(u.ID); len(got.RecoveryHashes) != model.RecoveryCodeCount-1 {
		t.Fatalf("%d codes left, want %d", len(got.RecoveryHashes), model.RecoveryCodeCount-1)
	}
	fresh, err := s.RegenerateRecoveryCodes(u.ID, model.ActorFor(u, ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifySecondFactor(u.ID, codes[1], model.ActorFor(u, "")); !errors.Is(err, model.ErrInvalidCode) {
		t.Fatalf("old code works after regeneration: %v", err)
	}
	if _, err := s.VerifySecondFactor(u.ID, strings.ReplaceAll(fresh[3], "-", " "), model.ActorFor(u, "")); err != nil {
		t.Fatalf("new code refused: %v", err)
	}
	events, _, err := s.AuditEvents(model.AuditFilter{UserID: u.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range events {
		count[e.Action]++
	}
	if count[model.EventTwoFactorEnabled] != 1 || count[model.EventRecoveryCodeUsed] != 2 || count[model.EventRecoveryCodesRegen] != 1 {
		t.Errorf("audit counts %v", count)
	}
}

// TestTOTPSecretsAtRest checks that neither the TOTP secret nor a recovery
// code appears in the database file, and that the sealed secret does not
// open without the key file.
func TestTOTPSecretsAtRest(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(time.Unix(1_800_000_000, 0))
	s := testkit.NewStore(t, testkit.WithClock(clock))
	u := testkit.AddUser(t, s, "alice")
	e, codes := testkit.EnableTwoFactor(t, s, u)
	s.Close()
	db, err := os.ReadFile(filepath.Join(s.Dir(), model.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	for _, needle := range append([]string{e.Secret, string(raw)}, codes...) {
		if bytes.Contains(db, []byte(needle)) {
			t.Errorf("database file holds the secret %q in the clear", needle)
		}
		if n := strings.ReplaceAll(needle, "-", ""); bytes.Contains(db, []byte(n)) {
			t.Errorf("database file holds %q in the clear", n)
		}
	}
	// Without the key file, serve refuses to start (never a silent new key).
	if err := os.Remove(filepath.Join(s.Dir(), model.KeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := model.Open(s.Dir(), model.Options{Create: true}); err == nil || !strings.Contains(err.Error(), "2fa-off") {
		t.Fatalf("open without key file: %v; want a refusal naming 2fa-off", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), model.KeyFile)); err == nil {
		t.Fatal("a new key file was created")
	}
	// The CLI's way out: open without Create, turn 2FA off, then serve starts.
	s2, err := model.Open(s.Dir(), model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.DisableTwoFactor(u.ID, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3, err := model.Open(s.Dir(), model.Options{Create: true})
	if err != nil {
		t.Fatalf("open after 2fa-off: %v", err)
	}
	s3.Close()
}

func TestSealBoundToRecord(t *testing.T) {
	t.Parallel()
	s := testkit.NewStore(t, testkit.WithClock(testkit.ClockAt(time.Now())))
	sealed, err := s.Seal([]byte("secret"), model.TOTPAD(1))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Unseal(sealed, model.TOTPAD(1)); err != nil || string(p) != "secret" {
		t.Fatalf("open: %q %v", p, err)
	}
	if _, err := s.Unseal(sealed, model.TOTPAD(2)); err == nil {
		t.Error("a secret sealed for user 1 opened as user 2's")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Unseal(sealed, model.TOTPAD(1)); err == nil {
		t.Error("a tampered secret opened")
	}
}

func TestDisableTOTPAudit(t *testing.T) {
	t.Parallel()
	clock := testkit.ClockAt(time.Unix(1_800_000_000, 0))
	s := testkit.NewStore(t, testkit.WithClock(clock))
	a := testkit.AddUser(t, s, "alice")
	b := testkit.AddUser(t, s, "bob")
	testkit.EnableTwoFactor(t, s, a)
	testkit.EnableTwoFactor(t, s, b)
	if err := s.DisableTwoFactor(a.ID, model.ActorFor(a, "")); err != nil {
		t.Fatal(err)
	}
	if err := s.DisableTwoFactor(b.ID, model.ActorFor(a, "")); err != nil {
		t.Fatal(err)
	}
	events, _, _ := s.AuditEvents(model.AuditFilter{Limit: 100})
	var self, reset int
	for _, e := range events {
		switch {
		case e.Action == model.EventTwoFactorDisabled && e.TargetID == a.ID:
			self++
		case e.Action == model.EventTwoFactorReset && e.TargetID == b.ID && e.ActorID == a.ID:
			reset++
		}
	}
	if self != 1 || reset != 1 {
		t.Errorf("disabled %d, reset %d; want 1 and 1", self, reset)
	}
	if got, _ := s.User(b.ID); got.TwoFactor || got.TOTPSecret != nil || got.RecoveryHashes != nil {
		t.Errorf("2FA state left behind: %+v", got)
	}
}

func FuzzParseCode(f *testing.F) {
	for _, seed := range []string{"123456", "123 456", "123-456", "１２３４５６", "٣٤٥٦٧٨", "ABCD-EFGH-IJKL-MNOP", "abcd efgh ijkl mnop",
		strings.Repeat("1", 1000), "", "12345", "1234567", "\x00123456"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		kind, norm := model.ParseCode(in)
		switch kind {
		case model.CodeTOTP:
			if len(norm) != 6 || strings.Trim(norm, "0123456789") != "" {
				t.Fatalf("%q parsed as TOTP %q", in, norm)
			}
		case model.CodeRecovery:
			if len(norm) != 16 || strings.Trim(norm, model.RecoveryAlphabet) != "" {
				t.Fatalf("%q parsed as recovery %q", in, norm)
			}
		case model.CodeInvalid:
			if norm != "" {
				t.Fatalf("invalid %q returned %q", in, norm)
			}
		}
		if kind != model.CodeInvalid && len(in) > 64 {
			t.Fatalf("overlong input %d bytes accepted", len(in))
		}
	})
}
