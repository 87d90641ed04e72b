package handlers

// Handler tests of two-factor authentication (issue 3): enrolment, login
// with a second step, recovery codes, turning 2FA off, audit events and
// CSRF. Codes come from oathtool, an independent RFC 6238 implementation,
// at the test's clock (testkit.Oathtool).

import (
	"bytes"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"html"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// wrongCode returns a 6-digit code that differs from code in every digit,
// so it matches neither this step nor (with near certainty) a neighbour.
func wrongCode(code string) string {
	b := []byte(code)
	for i := range b {
		b[i] = '0' + (b[i]-'0'+5)%10
	}
	return string(b)
}

var (
	secretRe       = regexp.MustCompile(`data-testid="secret">([^<]*)</code>`)
	otpURLRe       = regexp.MustCompile(`value="(otpauth://[^"]*)"`)
	enrollmentRe   = regexp.MustCompile(`name="enrollment" value="([^"]*)"`)
	qrRe           = regexp.MustCompile(`<img class="qr" src="data:image/png;base64,([^"]+)"`)
	recoveryCodeRe = regexp.MustCompile(`<li><code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</code></li>`)
)

// enrollPage is what the enrolment dialog shows.
type enrollPage struct {
	Resp    *response
	Secret  string // as shown, in groups of four
	URL     string // the otpauth URL as shown (HTML-unescaped)
	QR      []byte // the PNG
	EnrollN string // the enrolment's id (hidden field)
}

// RawSecret is the secret without the spaces.
func (p enrollPage) RawSecret() string { return strings.ReplaceAll(p.Secret, " ", "") }

// openEnrollment opens the 2FA dialog of user id as the session s (htmx) and
// reads what it shows.
func openEnrollment(t testing.TB, ta *testApp, s *userSession, id int) enrollPage {
	t.Helper()
	r := ta.Do(t, request{Method: "GET", URL: fmt.Sprintf("/settings/users/%d/2fa", id), Session: s, HTMX: true})
	if r.Status != 200 {
		t.Fatalf("GET 2fa: status %d\n%s", r.Status, trimBody(r.Body))
	}
	p := enrollPage{Resp: r}
	for _, f := range []struct {
		re  *regexp.Regexp
		dst *string
		any string
	}{{secretRe, &p.Secret, "secret"}, {otpURLRe, &p.URL, "otpauth URL"}, {enrollmentRe, &p.EnrollN, "enrollment id"}} {
		m := f.re.FindStringSubmatch(r.Body)
		if m == nil {
			t.Fatalf("the enrolment dialog shows no %s:\n%s", f.any, trimBody(r.Body))
		}
		*f.dst = html.UnescapeString(m[1])
	}
	m := qrRe.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("the enrolment dialog shows no QR code <img src=\"data:image/png;base64,…\">:\n%s", trimBody(r.Body))
	}
	png, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatalf("QR data URI: %v", err)
	}
	p.QR = png
	return p
}

// confirmEnrollment posts a code for enrolment p of user id.
func confirmEnrollment(t testing.TB, ta *testApp, s *userSession, id int, enrollID, code string) *response {
	t.Helper()
	return ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/2fa", id), Session: s, HTMX: true,
		CSRFHeader: s.CSRF, Form: url.Values{"enrollment": {enrollID}, "code": {code}}})
}

// recoveryCodes returns the recovery codes an answer shows.
func recoveryCodes(body string) []string {
	var codes []string
	for _, m := range recoveryCodeRe.FindAllStringSubmatch(body, -1) {
		codes = append(codes, m[1])
	}
	return codes
}

// turnOnTwoFactor turns 2FA on for user id through the dialog, as session s, with
// an oathtool code at the current clock; it returns the secret (base32)
// and the recovery codes. Only the user may enrol: when s is another
// user's session, a new session of user id does it.
func turnOnTwoFactor(t testing.TB, ta *testApp, s *userSession, id int) (string, []string) {
	t.Helper()
	if s.User.ID != id {
		s = ta.Session(t, reloadUser(t, ta, id))
	}
	p := openEnrollment(t, ta, s, id)
	r := confirmEnrollment(t, ta, s, id, p.EnrollN, testkit.Oathtool(t, p.RawSecret(), ta.Clock.Now()))
	codes := recoveryCodes(r.Body)
	if r.Status != 200 || len(codes) != model.RecoveryCodeCount {
		t.Fatalf("confirm enrolment: status %d, %d recovery codes\n%s", r.Status, len(codes), trimBody(r.Body))
	}
	return p.RawSecret(), codes
}

// loginPassword posts the first login step and returns the answer and the
// gh_2fa cookie it set (nil if none).
func loginPassword(t testing.TB, ta *testApp, username, password string) (*response, *http.Cookie) {
	t.Helper()
	r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm(username, password)})
	c := r.Cookie(pendingCookie)
	if c != nil && c.Value == "" {
		c = nil
	}
	return r, c
}

// loginCode posts the second login step.
func loginCode(t testing.TB, ta *testApp, pending *http.Cookie, code string) *response {
	t.Helper()
	var cookies []*http.Cookie
	if pending != nil {
		cookies = append(cookies, &http.Cookie{Name: pendingCookie, Value: pending.Value})
	}
	return ta.Do(t, request{Method: "POST", URL: "/login", Form: url.Values{"code": {code}}, Cookies: cookies})
}

// auditLines returns "action actor→target detail" for each audit event with
// one of the actions, oldest first.
func auditLines(t testing.TB, ta *testApp, actions ...string) []string {
	t.Helper()
	var out []string
	for _, e := range ta.AuditEvents(t, "") {
		for _, a := range actions {
			if e.Action == a {
				out = append(out, strings.TrimSpace(e.Action+" "+e.Actor+"→"+e.Target+" "+e.Detail))
			}
		}
	}
	return out
}

func wantAuditLines(t testing.TB, ta *testApp, want []string, actions ...string) {
	t.Helper()
	got := auditLines(t, ta, actions...)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// msgInvalidCode is the one generic answer to a wrong second factor.
const msgInvalidCode = "Invalid code. Enter the current code from your authenticator app, or a recovery code."

// TestTwoFactorEnrollDialog checks what the enrolment dialog shows, and the
// facts every authenticator app relies on (Google and Microsoft
// Authenticator, Authy, 1Password): an otpauth://totp URL whose label is
// "Gatehouse:<username>" and whose issuer parameter agrees, SHA1, 6 digits,
// a 30 s period, an unpadded upper-case base32 secret of at least 160
// bits; the secret also in groups of four for typing.
func TestTwoFactorEnrollDialog(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	bob := testkit.AddUser(t, ta.Store, "bob")
	s := ta.Session(t, bob)
	for _, u := range []model.User{ta.Admin, bob} {
		t.Run(u.Username, func(t *testing.T) {
			p := openEnrollment(t, ta, ta.Session(t, u), u.ID) // only the user enrols
			checkResponse(t, p.Resp, 200, []string{`<div id="twofactor" hx-history="false">`, `name="code"`, `autocomplete="one-time-code"`},
				[]string{"<!doctype html>"}, map[string]string{"Cache-Control": "no-store"})
			if v := p.Resp.Header.Get("Vary"); !strings.Contains(v, "HX-Request") {
				t.Errorf("Vary = %q, want HX-Request", v)
			}
			if !regexp.MustCompile(`^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$`).MatchString(p.Secret) {
				t.Errorf("secret shown as %q, want base32 in groups of four", p.Secret)
			}
			raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(p.RawSecret())
			if err != nil || len(raw)*8 < 160 {
				t.Errorf("secret %q: %d bits (%v), want at least 160", p.RawSecret(), len(raw)*8, err)
			}

			pu, err := url.Parse(p.URL)
			if err != nil {
				t.Fatalf("otpauth URL %q: %v", p.URL, err)
			}
			if pu.Scheme != "otpauth" || pu.Host != "totp" {
				t.Errorf("URL %q: want otpauth://totp/…", p.URL)
			}
			// The label is the username, not the numeric id, after the issuer.
			if want := "/Gatehouse:" + u.Username; pu.Path != want {
				t.Errorf("URL label %q, want %q", pu.Path, want)
			}
			q := pu.Query()
			for k, want := range map[string]string{"issuer": "Gatehouse", "secret": p.RawSecret(), "algorithm": "SHA1", "digits": "6", "period": "30"} {
				if got := q.Get(k); got != want {
					t.Errorf("URL parameter %s = %q, want %q (URL %s)", k, got, want, p.URL)
				}
			}
			if strings.Contains(q.Get("secret"), "=") {
				t.Errorf("secret %q is padded; some apps refuse padding", q.Get("secret"))
			}
			checkQuietZone(t, p.QR, 240)
		})
	}

	// Each opening starts a new enrolment with a new secret; the full page
	// (no JavaScript) shows the same and keeps it out of htmx history too.
	a, b := openEnrollment(t, ta, s, bob.ID), openEnrollment(t, ta, s, bob.ID)
	if a.Secret == b.Secret || a.EnrollN == b.EnrollN {
		t.Errorf("two openings share a secret or an enrolment")
	}
	r := ta.Do(t, request{Method: "GET", URL: fmt.Sprintf("/settings/users/%d/2fa", bob.ID), Session: s})
	checkResponse(t, r, 200, []string{"<!doctype html>", `hx-history="false"`, "otpauth://totp/Gatehouse:bob?", `data-testid="qr"`},
		nil, map[string]string{"Cache-Control": "no-store"})
	if u := reloadUser(t, ta, bob.ID); u.TwoFactor || len(u.TOTPSecret) != 0 {
		t.Errorf("opening the dialog changed bob: %+v", u)
	}
}

// TestTwoFactorQRDecodes decodes the QR code PNG of the dialog with
// zbarimg (an independent decoder) and compares it with the URL shown as
// text.
func TestTwoFactorQRDecodes(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "zbarimg")
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	p := openEnrollment(t, ta, s, ta.Admin.ID)
	got := testkit.DecodeQR(t, p.QR)
	if got != p.URL {
		t.Errorf("the QR code holds\n  %q\nthe page shows\n  %q", got, p.URL)
	}
	if !strings.HasPrefix(got, "otpauth://totp/Gatehouse:admin?") {
		t.Errorf("QR code %q", got)
	}
}

// checkQuietZone checks that a QR code PNG is size×size pixels, with
// whole pixels per module and a white margin of at least four modules
// (ISO/IEC 18004; some phone scanners miss a code without it). The module
// size is read from the top-left finder pattern, 7 modules wide.
func checkQuietZone(t testing.TB, b []byte, size int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the QR code is not a PNG: %v", err)
	}
	if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
		t.Errorf("QR code %v, want %d×%d pixels", r, size, size)
	}
	dark := func(x, y int) bool {
		g := color.GrayModel.Convert(img.At(x, y)).(color.Gray)
		return g.Y < 128
	}
	r := img.Bounds()
	top, left, bottom, right := -1, r.Max.X, -1, -1
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if dark(x, y) {
				if top < 0 {
					top = y
				}
				bottom, left, right = y, min(left, x), max(right, x)
			}
		}
	}
	if top < 0 {
		t.Fatal("the QR code is blank")
	}
	finder := 0
	for x := left; x < r.Max.X && dark(x, top); x++ {
		finder++
	}
	if finder%7 != 0 {
		t.Errorf("finder pattern %d pixels wide: modules are not whole pixels", finder)
	}
	module := finder / 7
	margin := min(top-r.Min.Y, left-r.Min.X, r.Max.Y-1-bottom, r.Max.X-1-right)
	if module == 0 || margin < 4*module {
		t.Errorf("quiet zone %d pixels, want at least 4 modules of %d pixels", margin, module)
	}
}

// TestTwoFactorEnable: a wrong code is refused with a message, an oathtool
// code turns 2FA on and shows ten recovery codes once.
func TestTwoFactorEnable(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	id := ta.Admin.ID
	p := openEnrollment(t, ta, s, id)
	code := testkit.Oathtool(t, p.RawSecret(), ta.Clock.Now())

	for _, bad := range []string{wrongCode(code), "", "12345", "abcdef", "1234567"} {
		r := confirmEnrollment(t, ta, s, id, p.EnrollN, bad)
		checkResponse(t, r, 422, []string{`hx-history="false"`, `data-field="code"`, `aria-invalid="true"`, p.Secret},
			[]string{"recovery-codes"}, map[string]string{"Cache-Control": "no-store", "HX-Trigger": ""})
		if u := reloadUser(t, ta, id); u.TwoFactor || len(u.TOTPSecret) != 0 {
			t.Fatalf("2FA on after the wrong code %q", bad)
		}
	}
	r := confirmEnrollment(t, ta, s, id, p.EnrollN, wrongCode(code))
	checkResponse(t, r, 422, []string{"That code is not right"}, nil, nil)

	// The right code, typed with a space in the middle as apps show it.
	r = confirmEnrollment(t, ta, s, id, p.EnrollN, code[:3]+" "+code[3:])
	checkResponse(t, r, 200, []string{`<div id="twofactor" hx-history="false">`, "Two-factor authentication is on.", "Download .txt"},
		[]string{p.Secret, p.RawSecret()}, map[string]string{"Cache-Control": "no-store", "HX-Trigger": "gh-users-changed"})
	codes := recoveryCodes(r.Body)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10:\n%s", len(codes), trimBody(r.Body))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		// 16 base32 characters: 80 bits, at least the 64 the issue asks for.
		if seen[c] {
			t.Errorf("recovery code %s shown twice", c)
		}
		seen[c] = true
	}
	// The download link carries the same codes as text.
	m := regexp.MustCompile(`href="data:text/plain;charset=utf-8,([^"]*)" download="gatehouse-recovery-codes-admin.txt"`).FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no .txt download link:\n%s", trimBody(r.Body))
	}
	text, err := url.PathUnescape(html.UnescapeString(m[1]))
	if err != nil || !strings.Contains(text, strings.Join(codes, "\n")) {
		t.Errorf("download text %q (%v) lacks the codes", text, err)
	}

	u := reloadUser(t, ta, id)
	if !u.TwoFactor || len(u.RecoveryHashes) != 10 || u.TOTPLastStep != model.TOTPStep(ta.Clock.Now()) {
		t.Errorf("after enrolment: enabled %v, %d recovery hashes, last step %d (now %d)",
			u.TwoFactor, len(u.RecoveryHashes), u.TOTPLastStep, model.TOTPStep(ta.Clock.Now()))
	}
	// The enrolment is used up.
	r = confirmEnrollment(t, ta, s, id, p.EnrollN, code)
	checkResponse(t, r, 410, []string{"This setup has expired"}, nil, nil)
	wantAuditLines(t, ta, []string{"2fa.enabled admin→admin"}, model.EventTwoFactorEnabled)

	// The list shows the switch on and the codes left.
	r = ta.Do(t, request{Method: "GET", URL: "/settings/users", Session: s})
	checkResponse(t, r, 200, []string{`aria-checked="true" aria-label="2FA of admin"`, "10 recovery codes left"}, nil, nil)
	// Opening the dialog again manages 2FA instead of starting over, and
	// shows no secret.
	r = ta.Do(t, request{Method: "GET", URL: fmt.Sprintf("/settings/users/%d/2fa", id), Session: s, HTMX: true})
	checkResponse(t, r, 200, []string{"Two-factor authentication is <strong>on</strong>", `data-testid="recovery-left">10<`},
		[]string{"otpauth://", p.Secret, codes[0]}, nil)
}

// TestTwoFactorEnrollmentBound: a pending enrolment belongs to the session
// and the user it was made for, lives 10 minutes, and cancel drops it.
func TestTwoFactorEnrollmentBound(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	bob := testkit.AddUser(t, ta.Store, "bob")
	s := ta.Session(t, ta.Admin)
	other := ta.Session(t, ta.Admin) // the same user in another browser
	bobS := ta.Session(t, bob)
	id := ta.Admin.ID
	stillOff := func(t *testing.T) {
		t.Helper()
		if u := reloadUser(t, ta, id); u.TwoFactor {
			t.Fatal("2FA turned on")
		}
	}

	t.Run("another session", func(t *testing.T) {
		p := openEnrollment(t, ta, s, id)
		code := testkit.Oathtool(t, p.RawSecret(), ta.Clock.Now())
		r := confirmEnrollment(t, ta, other, id, p.EnrollN, code)
		checkResponse(t, r, 410, []string{"This setup has expired"}, nil, nil)
		stillOff(t)
		// Another user does not even reach it: only admin enrols admin.
		r = confirmEnrollment(t, ta, bobS, id, p.EnrollN, code)
		checkResponse(t, r, 403, []string{"Only the user themselves"}, nil, nil)
		stillOff(t)
		// Another session cannot cancel it either.
		r = ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/2fa/cancel", id), Session: other, HTMX: true,
			CSRFHeader: other.CSRF, Form: url.Values{"enrollment": {p.EnrollN}}})
		checkResponse(t, r, 204, nil, nil, nil)
		// Posted to another user's URL, it does not turn 2FA on for them:
		// no one enrols another user.
		r = confirmEnrollment(t, ta, s, bob.ID, p.EnrollN, code)
		checkResponse(t, r, 403, nil, nil, nil)
		if reloadUser(t, ta, bob.ID).TwoFactor {
			t.Fatal("admin's enrolment turned 2FA on for bob")
		}
		// The owner still can.
		r = confirmEnrollment(t, ta, s, id, p.EnrollN, code)
		checkResponse(t, r, 200, []string{"Two-factor authentication is on."}, nil, nil)
		r = ta.Do(t, request{Method: "DELETE", URL: fmt.Sprintf("/settings/users/%d/2fa", id), Session: s, HTMX: true,
			CSRFHeader: s.CSRF, Form: url.Values{"password": {testkit.AdminPassword}}})
		checkResponse(t, r, 200, nil, nil, nil)
		stillOff(t)
	})

	t.Run("expires after 10 minutes", func(t *testing.T) {
		p := openEnrollment(t, ta, s, id)
		ta.Clock.Advance(9*time.Minute + 59*time.Second)
		p2 := openEnrollment(t, ta, s, id) // a second enrolment, 10 minutes from now
		ta.Clock.Advance(time.Second)
		// Past the step-up window too: confirm it is still the user.
		if err := ta.Store.MarkReauth(s.ID); err != nil {
			t.Fatal(err)
		}
		r := confirmEnrollment(t, ta, s, id, p.EnrollN, testkit.Oathtool(t, p.RawSecret(), ta.Clock.Now()))
		checkResponse(t, r, 410, []string{"after 10 minutes"}, nil, nil)
		stillOff(t)
		r = confirmEnrollment(t, ta, s, id, p2.EnrollN, wrongCode(testkit.Oathtool(t, p2.RawSecret(), ta.Clock.Now())))
		checkResponse(t, r, 422, nil, nil, nil)
		stillOff(t)
	})

	t.Run("cancel", func(t *testing.T) {
		p := openEnrollment(t, ta, s, id)
		r := ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/2fa/cancel", id), Session: s, HTMX: true,
			CSRFHeader: s.CSRF, Form: url.Values{"enrollment": {p.EnrollN}}})
		checkResponse(t, r, 204, nil, nil, map[string]string{"HX-Trigger": "gh-dialog-close"})
		r = confirmEnrollment(t, ta, s, id, p.EnrollN, testkit.Oathtool(t, p.RawSecret(), ta.Clock.Now()))
		checkResponse(t, r, 410, nil, nil, nil)
		stillOff(t)
		// Without JavaScript, cancel goes back to the list.
		p = openEnrollment(t, ta, s, id)
		r = ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/2fa/cancel", id), Session: s,
			CSRFField: s.CSRF, Form: url.Values{"enrollment": {p.EnrollN}}})
		checkResponse(t, r, 303, nil, nil, map[string]string{"Location": "/settings/users"})
		r = confirmEnrollment(t, ta, s, id, p.EnrollN, testkit.Oathtool(t, p.RawSecret(), ta.Clock.Now()))
		checkResponse(t, r, 410, nil, nil, nil)
	})
}

// TestTwoFactorLogin walks the second login step: password, then a code;
// the half-logged-in state grants nothing; every code works once.
func TestTwoFactorLogin(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	enrolledAt := ta.Clock.Now()
	secret, recovery := turnOnTwoFactor(t, ta, s, ta.Admin.ID)
	logins := len(auditLines(t, ta, model.EventLoginSucceeded)) // the store session s

	r, pending := loginPassword(t, ta, "admin", testkit.AdminPassword)
	checkResponse(t, r, 200, []string{"<h1>Two-factor authentication</h1>", `name="code"`, `action="/login"`}, []string{`name="password"`}, nil)
	if c := r.Cookie(sessionCookie); c != nil && c.Value != "" {
		t.Fatalf("the password alone set a session cookie")
	}
	if pending == nil || !pending.HttpOnly || pending.SameSite != http.SameSiteStrictMode || pending.Path != "/login" {
		t.Fatalf("pending-login cookie %+v, want HttpOnly, SameSite=Strict, Path=/login", pending)
	}
	if got := pending.Expires.Sub(ta.Clock.Now()); got != 5*time.Minute {
		t.Errorf("pending-login cookie lives %v, want 5m", got)
	}
	if n := len(auditLines(t, ta, model.EventLoginSucceeded)) - logins; n != 0 {
		t.Errorf("the password alone recorded %d %s events", n, model.EventLoginSucceeded)
	}

	// Half logged in grants nothing: the pending cookie is no session.
	half := []*http.Cookie{{Name: pendingCookie, Value: pending.Value}}
	r = ta.Do(t, request{Method: "GET", URL: "/settings/users", Cookies: half})
	checkResponse(t, r, 303, nil, nil, map[string]string{"Location": "/login?next=%2Fsettings%2Fusers"})
	r = ta.Do(t, request{Method: "GET", URL: "/settings/users", Cookies: half, HTMX: true})
	checkResponse(t, r, 401, nil, nil, map[string]string{"HX-Redirect": "/login"})
	before := ta.Snapshot(t)
	r = ta.Do(t, request{Method: "POST", URL: "/settings/users", Cookies: half,
		Form: url.Values{"username": {"mallory"}, "password": {"mallory-pass-1"}, "email": {"m@example.com"}}})
	checkResponse(t, r, 401, nil, nil, nil)
	r = ta.Do(t, request{Method: "DELETE", URL: fmt.Sprintf("/settings/users/%d/2fa", ta.Admin.ID), Cookies: half,
		Form: url.Values{"password": {testkit.AdminPassword}}})
	checkResponse(t, r, 401, nil, nil, nil)
	if after := ta.Snapshot(t); after != before {
		t.Errorf("the half-logged-in state changed something:\n%s\n%s", before, after)
	}
	// GET /login with the pending cookie shows the password form again,
	// not a logged-in page.
	r = ta.Do(t, request{Method: "GET", URL: "/login", Cookies: half})
	checkResponse(t, r, 200, []string{`name="password"`}, []string{"Signed in as"}, nil)

	// The code of the enrolment's step is used up.
	enrolCode := testkit.Oathtool(t, secret, enrolledAt)
	r = loginCode(t, ta, pending, enrolCode)
	checkResponse(t, r, 401, []string{msgInvalidCode, `name="code"`}, nil, nil)
	if c := r.Cookie(sessionCookie); c != nil && c.Value != "" {
		t.Fatal("a used code set a session cookie")
	}

	// The next step's code, from oathtool, logs in.
	ta.Clock.Advance(30 * time.Second)
	next := testkit.Oathtool(t, secret, ta.Clock.Now())
	r = loginCode(t, ta, pending, next)
	checkResponse(t, r, 303, nil, nil, map[string]string{"Location": "/settings/users"})
	sc := r.Cookie(sessionCookie)
	if sc == nil || sc.Value == "" {
		t.Fatalf("no session cookie after the right code")
	}
	if c := r.Cookie(pendingCookie); c == nil || c.Value != "" {
		t.Errorf("the pending-login cookie was not cleared: %+v", c)
	}
	if !ta.SessionAlive(t, &userSession{Token: sc.Value}) {
		t.Error("the new session does not open the User tab")
	}
	// The pending login is used up too.
	r = loginCode(t, ta, pending, next)
	checkResponse(t, r, 401, []string{"took too long"}, nil, nil)

	// The same code again, in a new login: refused.
	r, pending = loginPassword(t, ta, "admin", testkit.AdminPassword)
	checkResponse(t, r, 200, nil, nil, nil)
	r = loginCode(t, ta, pending, next)
	checkResponse(t, r, 401, []string{msgInvalidCode}, nil, nil)
	// Two steps ago: refused, although never used (outside the ±1 window).
	ta.Clock.Advance(90 * time.Second)
	r = loginCode(t, ta, pending, testkit.Oathtool(t, secret, ta.Clock.Now().Add(-60*time.Second)))
	checkResponse(t, r, 401, []string{msgInvalidCode}, nil, nil)
	// The previous step: accepted (RFC 6238 §5.2 network delay), once.
	prev := testkit.Oathtool(t, secret, ta.Clock.Now().Add(-30*time.Second))
	r = loginCode(t, ta, pending, prev)
	checkResponse(t, r, 303, nil, nil, nil)
	r, pending = loginPassword(t, ta, "admin", testkit.AdminPassword)
	checkResponse(t, r, 200, nil, nil, nil)
	r = loginCode(t, ta, pending, prev)
	checkResponse(t, r, 401, []string{msgInvalidCode}, nil, nil)

	// A recovery code works once, in any case, without dashes, and with
	// 0/1/8 typed for the O/I/B they look like.
	for i, c := range recovery {
		if strings.ContainsAny(c, "OIB") {
			recovery[3], recovery[i] = recovery[i], recovery[3]
			break
		}
	}
	rc := strings.NewReplacer("-", "", "O", "0", "I", "1", "B", "8").Replace(strings.ToLower(recovery[3]))
	rc = strings.NewReplacer("o", "0", "i", "1", "b", "8").Replace(rc)
	r = loginCode(t, ta, pending, rc)
	checkResponse(t, r, 303, nil, nil, nil)
	r, pending = loginPassword(t, ta, "admin", testkit.AdminPassword)
	checkResponse(t, r, 200, nil, nil, nil)
	r = loginCode(t, ta, pending, recovery[3])
	checkResponse(t, r, 401, []string{msgInvalidCode}, nil, nil)
	if u := reloadUser(t, ta, ta.Admin.ID); len(u.RecoveryHashes) != 9 {
		t.Errorf("%d recovery codes left, want 9", len(u.RecoveryHashes))
	}
	r = ta.Do(t, request{Method: "GET", URL: "/settings/users", Session: s})
	checkResponse(t, r, 200, []string{"9 recovery codes left"}, nil, nil)

	wantAuditLines(t, ta, []string{
		"login.succeeded admin→admin password", // the store session s
		"2fa.enabled admin→admin",
		"login.succeeded admin→admin password+totp",
		"login.succeeded admin→admin password+totp",
		"2fa.recovery_code_used admin→admin 9 left",
		"login.succeeded admin→admin password+recovery code",
	}, model.EventTwoFactorEnabled, model.EventLoginSucceeded, model.EventRecoveryCodeUsed)
	if n := len(auditLines(t, ta, model.EventLoginFailed)); n != 5 {
		t.Errorf("%d login.failed events, want 5 (one per refused code):\n%s", n, strings.Join(auditLines(t, ta, model.EventLoginFailed), "\n"))
	}
}

// TestTwoFactorLoginNext: the second step keeps the page asked for.
func TestTwoFactorLoginNext(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	secret, _ := turnOnTwoFactor(t, ta, ta.Session(t, ta.Admin), ta.Admin.ID)
	r := ta.Do(t, request{Method: "POST", URL: "/login", Form: url.Values{"username": {"admin"}, "password": {testkit.AdminPassword}, "next": {"/settings/users/new"}}})
	pending := r.Cookie(pendingCookie)
	ta.Clock.Advance(30 * time.Second)
	r = loginCode(t, ta, pending, testkit.Oathtool(t, secret, ta.Clock.Now()))
	checkResponse(t, r, 303, nil, nil, map[string]string{"Location": "/settings/users/new"})
}

// TestTwoFactorLoginThrottle: wrong codes get one generic message, count
// as failed logins (audited, throttled) and, once throttled, even the
// right code waits.
func TestTwoFactorLoginThrottle(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	secret, recovery := turnOnTwoFactor(t, ta, ta.Session(t, ta.Admin), ta.Admin.ID)
	ta.Clock.Advance(30 * time.Second)
	_, pending := loginPassword(t, ta, "admin", testkit.AdminPassword)
	right := testkit.Oathtool(t, secret, ta.Clock.Now())
	wrong := []string{
		wrongCode(right),                 // wrong TOTP code
		"ABCD-EFGH-IJKL-MNOP",            // wrong recovery code
		"12 34",                          // malformed
		"١٢٣٤٥٦",                         // Arabic-Indic digits
		strings.Repeat("1", 100),         // overlong
		recovery[0][:len(recovery[0])-1], // a recovery code missing a character
	}
	free := throttle.DefaultConfig().IPFree
	for i := 0; i <= free; i++ {
		r := loginCode(t, ta, pending, wrong[i%len(wrong)])
		checkResponse(t, r, 401, []string{msgInvalidCode}, nil, nil)
	}
	// free+1 failures: the address waits now, whatever the code.
	r := loginCode(t, ta, pending, right)
	checkResponse(t, r, 429, []string{"Too many failed attempts"}, nil, nil)
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 {
		t.Errorf("Retry-After = %q", r.Header.Get("Retry-After"))
	}
	if c := r.Cookie(sessionCookie); c != nil && c.Value != "" {
		t.Fatal("a throttled code set a session cookie")
	}
	// A new password login does not reset the count.
	r, _ = loginPassword(t, ta, "admin", testkit.AdminPassword)
	checkResponse(t, r, 429, nil, nil, nil)

	evs := auditLines(t, ta, model.EventLoginFailed)
	if len(evs) != free+1 {
		t.Errorf("%d login.failed events, want %d:\n%s", len(evs), free+1, strings.Join(evs, "\n"))
	}
	for _, e := range evs {
		if e != "login.failed admin→admin wrong second-factor code" {
			t.Errorf("event %q", e)
		}
	}
	// After the wait, the right code (still in the window) logs in.
	ta.Clock.Advance(2 * time.Second)
	r = loginCode(t, ta, pending, right)
	checkResponse(t, r, 303, nil, nil, nil)
}

// TestTwoFactorPendingLoginExpires: the half-finished login lives 5
// minutes.
func TestTwoFactorPendingLoginExpires(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	secret, _ := turnOnTwoFactor(t, ta, ta.Session(t, ta.Admin), ta.Admin.ID)

	_, pending := loginPassword(t, ta, "admin", testkit.AdminPassword)
	ta.Clock.Advance(4*time.Minute + 59*time.Second)
	r := loginCode(t, ta, pending, testkit.Oathtool(t, secret, ta.Clock.Now()))
	checkResponse(t, r, 303, nil, nil, nil)

	_, pending = loginPassword(t, ta, "admin", testkit.AdminPassword)
	ta.Clock.Advance(5 * time.Minute)
	r = loginCode(t, ta, pending, testkit.Oathtool(t, secret, ta.Clock.Now()))
	checkResponse(t, r, 401, []string{"The login took too long", `name="password"`}, nil, nil)
	if c := r.Cookie(sessionCookie); c != nil && c.Value != "" {
		t.Fatal("an expired pending login set a session cookie")
	}
	if c := r.Cookie(pendingCookie); c == nil || c.Value != "" {
		t.Errorf("the expired pending-login cookie was not cleared: %+v", c)
	}
	// A made-up pending cookie is no better.
	r = loginCode(t, ta, &http.Cookie{Value: model.RandomToken(32)}, testkit.Oathtool(t, secret, ta.Clock.Now()))
	checkResponse(t, r, 401, []string{"The login took too long"}, nil, nil)
	// A code without any pending cookie is a (failed) password login.
	r = loginCode(t, ta, nil, testkit.Oathtool(t, secret, ta.Clock.Now()))
	checkResponse(t, r, 422, []string{"Enter your username and password."}, nil, nil)
}

// TestTwoFactorDisable: turning 2FA off follows the step-up rule: in the
// window after signing in or re-authenticating it asks nothing; after it,
// the inline re-authentication form (password or code), which then holds
// for the window again, in that session only. For another user it is a
// reset.
func TestTwoFactorDisable(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	bob := testkit.AddUser(t, ta.Store, "bob")
	carol := testkit.AddUser(t, ta.Store, "carol")
	s := ta.Session(t, ta.Admin)
	for _, u := range []model.User{ta.Admin, bob, carol} {
		turnOnTwoFactor(t, ta, s, u.ID)
	}
	window := DefaultConfig().StepUp
	off := func(s *userSession, id int) *response {
		return ta.Do(t, request{Method: "DELETE", URL: fmt.Sprintf("/settings/users/%d/2fa", id), Session: s, HTMX: true, CSRFHeader: s.CSRF})
	}
	reauth := func(form url.Values) *response {
		return ta.Do(t, request{Method: "POST", URL: "/settings/reauth", Session: s, HTMX: true, CSRFHeader: s.CSRF, Form: form})
	}
	on := func(id int) bool { return reloadUser(t, ta, id).TwoFactor }

	// The dialog asks for nothing: the rule is the route's.
	r := ta.Do(t, request{Method: "GET", URL: fmt.Sprintf("/settings/users/%d/2fa", ta.Admin.ID), Session: s, HTMX: true})
	checkResponse(t, r, 200, []string{`hx-post="/settings/users/1/2fa/off"`}, []string{`name="password"`}, nil)

	// Past the window: the inline form, in password or code.
	ta.Clock.Advance(window)
	r = off(s, ta.Admin.ID)
	wantReauthPrompt(t, r)
	checkResponse(t, r, 403, []string{`name="code"`, "or a code from your authenticator app"}, nil, nil)
	checkResponse(t, reauth(nil), 422, []string{"Enter your password or a code from your authenticator app to confirm."}, nil, nil)
	r = reauth(url.Values{"password": {"wrong-pass-1"}})
	checkResponse(t, r, 422, []string{"That password is not right.", `aria-invalid="true"`}, nil, nil)
	// A password in the query string is not read: it would end up in logs.
	r = ta.Do(t, request{Method: "POST", URL: "/settings/reauth?password=" + testkit.AdminPassword, Session: s, HTMX: true, CSRFHeader: s.CSRF})
	checkResponse(t, r, 422, []string{"to confirm."}, nil, nil)
	wantReauthPrompt(t, off(s, ta.Admin.ID))
	if !on(ta.Admin.ID) {
		t.Fatal("2FA turned off without the password")
	}
	wantAuditLines(t, ta, []string{"login.failed admin→admin wrong password at re-authentication"}, model.EventLoginFailed)

	r = reauth(url.Values{"password": {testkit.AdminPassword}})
	checkResponse(t, r, 200, []string{"Confirmed."}, nil, map[string]string{"HX-Trigger": "gh-reauth-done"})
	r = off(s, ta.Admin.ID)
	checkResponse(t, r, 200, []string{"Two-factor authentication of admin is off."}, nil,
		map[string]string{"HX-Trigger": "gh-dialog-close, gh-users-changed", "HX-Retarget": "#flash"})
	if u := reloadUser(t, ta, ta.Admin.ID); u.TwoFactor || u.TOTPSecret != nil || u.RecoveryHashes != nil || u.TOTPLastStep != 0 {
		t.Errorf("after turning 2FA off: %+v", u)
	}

	// Within the window, nothing is asked.
	ta.Clock.Advance(window - time.Second)
	checkResponse(t, off(s, bob.ID), 200, []string{"Two-factor authentication of bob is off."}, nil, nil)
	if on(bob.ID) {
		t.Fatal("bob's 2FA is still on")
	}
	// The re-authentication belongs to the session, not the user.
	other := ta.Session(t, ta.Admin)
	ta.Clock.Advance(window)
	wantReauthPrompt(t, off(other, carol.ID))
	// After the window it asks again.
	wantReauthPrompt(t, off(s, carol.ID))
	if !on(carol.ID) {
		t.Fatal("carol's 2FA turned off without a fresh re-authentication")
	}
	// Without JavaScript: the re-authentication page, which goes on to
	// next; then POST …/2fa/off, then back to the list.
	r = ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/2fa/off", carol.ID), Session: s, CSRFField: s.CSRF})
	checkResponse(t, r, 403, []string{"Confirm it is you", `action="/settings/reauth"`, "<html"}, nil, nil)
	r = ta.Do(t, request{Method: "GET", URL: "/settings/reauth?next=/settings/users", Session: s})
	checkResponse(t, r, 200, []string{"Confirm it is you", `value="/settings/users"`}, nil, nil)
	r = ta.Do(t, request{Method: "POST", URL: "/settings/reauth", Session: s, CSRFField: s.CSRF,
		Form: url.Values{"password": {testkit.AdminPassword}, "next": {"//evil.example/"}}})
	checkResponse(t, r, 303, nil, nil, map[string]string{"Location": "/settings/users"})
	r = ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/2fa/off", carol.ID), Session: s, CSRFField: s.CSRF})
	checkResponse(t, r, 303, nil, nil, map[string]string{"Location": "/settings/users"})
	if on(carol.ID) {
		t.Fatal("carol's 2FA is still on")
	}

	wantAuditLines(t, ta, []string{
		"2fa.disabled admin→admin", "2fa.reset admin→bob", "2fa.reset admin→carol",
	}, model.EventTwoFactorDisabled, model.EventTwoFactorReset)
	// Password alone logs in again.
	ta.Login(t, "bob", testkit.UserPassword)
}

// TestReauthWithCode: a user with 2FA re-authenticates with a code from
// the app instead of the password; a used or wrong code is refused and
// counted; a user without 2FA has no code to give.
func TestReauthWithCode(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	secret, _ := turnOnTwoFactor(t, ta, s, ta.Admin.ID)
	ta.Clock.Advance(DefaultConfig().StepUp + 30*time.Second)
	reauth := func(code string) *response {
		return ta.Do(t, request{Method: "POST", URL: "/settings/reauth", Session: s, HTMX: true, CSRFHeader: s.CSRF,
			Form: url.Values{"code": {code}}})
	}
	code := testkit.Oathtool(t, secret, ta.Clock.Now())
	checkResponse(t, reauth(wrongCode(code)), 422, []string{"That code is not right.", `data-field="code"`}, nil, nil)
	checkResponse(t, reauth(code), 200, []string{"Confirmed."}, nil, map[string]string{"HX-Trigger": "gh-reauth-done"})
	// The same code again: replay, refused.
	checkResponse(t, reauth(code), 422, []string{"That code is not right."}, nil, nil)
	wantAuditLines(t, ta, []string{
		"login.failed admin→admin wrong code at re-authentication", "login.failed admin→admin wrong code at re-authentication",
	}, model.EventLoginFailed)

	// bob has no 2FA: the form asks for the password only, and a code
	// is never right.
	bob := testkit.AddUser(t, ta.Store, "bob")
	b := ta.Session(t, bob)
	ta.Clock.Advance(DefaultConfig().StepUp)
	r := ta.Do(t, request{Method: "GET", URL: "/settings/reauth", Session: b, HTMX: true})
	checkResponse(t, r, 200, []string{`name="password"`, "needs your password;"}, []string{`name="code"`}, nil)
	r = ta.Do(t, request{Method: "POST", URL: "/settings/reauth", Session: b, HTMX: true, CSRFHeader: b.CSRF, Form: url.Values{"code": {"123456"}}})
	checkResponse(t, r, 422, []string{"That code is not right."}, nil, nil)
}

// TestTwoFactorReauthThrottled: wrong passwords at re-authentication count
// towards the login throttling of the address, over all its sessions (two
// here, as five wrong in a row would end one: TestStepUpFiveWrongEndSession).
func TestTwoFactorReauthThrottled(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	turnOnTwoFactor(t, ta, s, ta.Admin.ID)
	other := ta.Session(t, ta.Admin) // after: turning 2FA on ends the others
	ta.Clock.Advance(DefaultConfig().StepUp)
	reauth := func(s *userSession, pw string) *response {
		return ta.Do(t, request{Method: "POST", URL: "/settings/reauth", Session: s, HTMX: true,
			CSRFHeader: s.CSRF, Form: url.Values{"password": {pw}}})
	}
	free := throttle.DefaultConfig().IPFree
	for i := 0; i <= free; i++ {
		sess := s
		if i%2 == 1 {
			sess = other
		}
		checkResponse(t, reauth(sess, "wrong-pass-1"), 422, []string{"That password is not right."}, nil, nil)
	}
	r := reauth(s, testkit.AdminPassword)
	checkResponse(t, r, 429, []string{"Too many failed attempts", `id="reauth"`}, nil, nil)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	wantReauthPrompt(t, ta.Do(t, request{Method: "DELETE", URL: fmt.Sprintf("/settings/users/%d/2fa", ta.Admin.ID), Session: s, HTMX: true, CSRFHeader: s.CSRF}))
	if !reloadUser(t, ta, ta.Admin.ID).TwoFactor {
		t.Fatal("2FA turned off while throttled")
	}
	ta.Clock.Advance(2 * time.Second)
	checkResponse(t, reauth(s, testkit.AdminPassword), 200, nil, nil, nil)
	checkResponse(t, ta.Do(t, request{Method: "DELETE", URL: fmt.Sprintf("/settings/users/%d/2fa", ta.Admin.ID), Session: s, HTMX: true, CSRFHeader: s.CSRF}), 200, nil, nil, nil)
}

// TestTwoFactorRegenerate: new recovery codes replace the old ones at once.
func TestTwoFactorRegenerate(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	bob := testkit.AddUser(t, ta.Store, "bob")
	_, old := turnOnTwoFactor(t, ta, s, ta.Admin.ID)
	regen := func(id int) *response {
		return ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/recovery-codes", id), Session: s, HTMX: true, CSRFHeader: s.CSRF})
	}
	r := regen(ta.Admin.ID)
	checkResponse(t, r, 200, []string{`hx-history="false"`, "New recovery codes: the old ones no longer work."}, nil,
		map[string]string{"Cache-Control": "no-store", "HX-Trigger": "gh-users-changed"})
	fresh := recoveryCodes(r.Body)
	if len(fresh) != 10 {
		t.Fatalf("%d new codes", len(fresh))
	}
	for _, c := range fresh {
		for _, o := range old {
			if c == o {
				t.Errorf("regenerated code %s equals an old one", c)
			}
		}
	}
	_, pending := loginPassword(t, ta, "admin", testkit.AdminPassword)
	checkResponse(t, loginCode(t, ta, pending, old[0]), 401, []string{msgInvalidCode}, nil, nil)
	checkResponse(t, loginCode(t, ta, pending, fresh[0]), 303, nil, nil, nil)

	// Another user's codes are theirs alone, even for an admin.
	r = regen(bob.ID)
	checkResponse(t, r, 403, []string{"Only the user themselves"}, []string{"<li><code>"}, nil)
	// Bob has no 2FA: nothing to regenerate.
	bobS := ta.Session(t, bob)
	r = ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/recovery-codes", bob.ID), Session: bobS, HTMX: true, CSRFHeader: bobS.CSRF})
	checkResponse(t, r, 422, []string{"Two-factor authentication is off for this user."}, []string{"<li><code>"}, nil)
	wantAuditLines(t, ta, []string{"2fa.recovery_codes_regenerated admin→admin", "2fa.recovery_code_used admin→admin 9 left"},
		model.EventRecoveryCodesRegen, model.EventRecoveryCodeUsed)
}

// TestTwoFactorCSRF: every 2FA route that changes something refuses a
// request without the session's CSRF token, and changes nothing (the 2FA
// state, the recovery codes, the pending enrolment).
func TestTwoFactorCSRF(t *testing.T) {
	t.Parallel()
	for _, route := range []struct {
		method, path string
		bob          bool // the route acts on bob (2FA on), else on admin (enrolment pending)
	}{
		{"POST", "/settings/users/%d/2fa", false},
		{"POST", "/settings/users/%d/2fa/cancel", false},
		{"DELETE", "/settings/users/%d/2fa", true},
		{"POST", "/settings/users/%d/2fa/off", true},
		{"POST", "/settings/users/%d/recovery-codes", true},
	} {
		for _, mode := range []string{"none", "other", "foreign origin"} {
			t.Run(route.method+" "+route.path+"/"+mode, func(t *testing.T) {
				t.Parallel()
				ta := newTestApp(t)
				bob := testkit.AddUser(t, ta.Store, "bob")
				s := ta.Session(t, ta.Admin)
				turnOnTwoFactor(t, ta, s, bob.ID)
				p := openEnrollment(t, ta, s, ta.Admin.ID)
				target := ta.Admin.ID
				if route.bob {
					target = bob.ID
				}
				state := func() string {
					a, b := reloadUser(t, ta, ta.Admin.ID), reloadUser(t, ta, bob.ID)
					return fmt.Sprintf("%v %v %v", a.TwoFactor, b.TwoFactor, b.RecoveryHashes)
				}
				before := state()
				req := request{Method: route.method, URL: fmt.Sprintf(route.path, target), Session: s, HTMX: true,
					Form: url.Values{"enrollment": {p.EnrollN}, "code": {testkit.Oathtool(t, p.RawSecret(), ta.Clock.Now())}, "password": {testkit.AdminPassword}}}
				switch mode {
				case "other":
					req.CSRFHeader = ta.Session(t, ta.Admin).CSRF
				case "foreign origin":
					req.CSRFHeader = s.CSRF
					req.Headers = map[string]string{"Origin": "https://evil.example"}
				}
				r := ta.Do(t, req)
				checkResponse(t, r, 403, nil, []string{"<li><code>"}, nil)
				if after := state(); after != before {
					t.Errorf("state changed: %s → %s", before, after)
				}
				// The enrolment is still pending: the right request works.
				r = confirmEnrollment(t, ta, s, ta.Admin.ID, p.EnrollN, testkit.Oathtool(t, p.RawSecret(), ta.Clock.Now()))
				checkResponse(t, r, 200, []string{"Two-factor authentication is on."}, nil, nil)
			})
		}
	}
}

// TestTwoFactorSecretsNotInHistory: every answer that shows a TOTP secret
// or recovery codes is kept out of htmx's history cache and out of HTTP
// caches, and no other page of the User tab shows them.
func TestTwoFactorSecretsNotInHistory(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	p := openEnrollment(t, ta, s, ta.Admin.ID)
	secretAnswers := []*response{p.Resp}
	r := confirmEnrollment(t, ta, s, ta.Admin.ID, p.EnrollN, testkit.Oathtool(t, p.RawSecret(), ta.Clock.Now()))
	codes := recoveryCodes(r.Body)
	secretAnswers = append(secretAnswers, r)
	r = ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/recovery-codes", ta.Admin.ID), Session: s, CSRFField: s.CSRF})
	secretAnswers = append(secretAnswers, r)
	codes = append(codes, recoveryCodes(r.Body)...)
	if len(codes) != 20 {
		t.Fatalf("%d codes shown, want 20", len(codes))
	}
	for i, r := range secretAnswers {
		// The element htmx swaps in carries hx-history="false" itself.
		if !regexp.MustCompile(`<div id="twofactor" hx-history="false">`).MatchString(r.Body) {
			t.Errorf("answer %d shows a secret without hx-history=\"false\":\n%s", i, trimBody(r.Body))
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("answer %d: Cache-Control %q, want no-store", i, cc)
		}
	}
	for _, path := range []string{"/settings/users", fmt.Sprintf("/settings/users/%d", ta.Admin.ID), fmt.Sprintf("/settings/users/%d/2fa", ta.Admin.ID)} {
		for _, htmx := range []bool{false, true} {
			r := ta.Do(t, request{Method: "GET", URL: path, Session: s, HTMX: htmx})
			for _, secret := range append([]string{p.Secret, p.RawSecret()}, codes...) {
				if strings.Contains(r.Body, secret) {
					t.Errorf("GET %s (htmx %v) shows the secret or a recovery code %q", path, htmx, secret)
				}
			}
		}
	}
}

// TestTwoFactorAPINoSecrets: no answer of the JSON API shows a TOTP secret
// (plain or sealed), a recovery code or a recovery code's hash. Skipped
// while the API has no user routes.
func TestTwoFactorAPINoSecrets(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	var routes []string
	for _, r := range ta.App.GetRoutes(true) {
		if r.Method == "GET" && strings.HasPrefix(r.Path, "/api/") && !strings.Contains(r.Path, "*") {
			routes = append(routes, r.Path)
		}
	}
	if !slices.Contains(routes, "/api/v1/users") {
		t.Skip("the API has no GET /api/v1/users yet")
	}
	bob := testkit.AddUser(t, ta.Store, "bob")
	s := ta.Session(t, ta.Admin)
	var secrets []string
	for _, u := range []model.User{ta.Admin, bob} {
		secret, codes := turnOnTwoFactor(t, ta, s, u.ID)
		secrets = append(append(secrets, secret, groupsOfFour(secret)), codes...)
		for _, c := range codes {
			secrets = append(secrets, strings.ReplaceAll(c, "-", ""))
		}
	}
	// A recovery code used at login, so that the audit log has its event.
	_, pending := loginPassword(t, ta, "bob", testkit.UserPassword)
	checkResponse(t, loginCode(t, ta, pending, secrets[len(secrets)-1]), 303, nil, nil, nil)
	for _, u := range []model.User{ta.Admin, bob} {
		stored := reloadUser(t, ta, u.ID)
		secrets = append(secrets, base64.StdEncoding.EncodeToString(stored.TOTPSecret), fmt.Sprintf("%x", stored.TOTPSecret))
		secrets = append(secrets, stored.RecoveryHashes...)
	}
	for _, path := range routes {
		path = regexp.MustCompile(`:id<int>`).ReplaceAllString(path, fmt.Sprint(bob.ID))
		if strings.Contains(path, ":") {
			continue // needs an id of another kind (a token, a passkey)
		}
		r := ta.Do(t, request{Method: "GET", URL: path, Session: s, CSRFHeader: s.CSRF})
		if r.Status != 200 {
			t.Errorf("GET %s: status %d\n%s", path, r.Status, trimBody(r.Body))
		}
		if path == fmt.Sprintf("/api/v1/users/%d", bob.ID) && !strings.Contains(r.Body, `"two_factor":true`) {
			t.Errorf("GET %s does not show bob with 2FA on:\n%s", path, trimBody(r.Body))
		}
		t.Logf("checked GET %s (%d bytes)", path, len(r.Body))
		lower := strings.ToLower(r.Body)
		for _, sec := range secrets {
			if strings.Contains(r.Body, sec) || strings.Contains(lower, strings.ToLower(sec)) {
				t.Errorf("GET %s shows the secret %q", path, sec)
			}
		}
		for _, field := range []string{"totpsecret", "totp_secret", "recoveryhashes", "recovery_hashes", "totplaststep"} {
			if strings.Contains(lower, `"`+field+`"`) {
				t.Errorf("GET %s has a field %q", path, field)
			}
		}
	}
}

// groupsOfFour writes a secret in groups of four, as the dialog shows it.
func groupsOfFour(s string) string {
	var parts []string
	for len(s) > 4 {
		parts, s = append(parts, s[:4]), s[4:]
	}
	return strings.Join(append(parts, s), " ")
}
