package handlers_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"github.com/gatehouse-panel/gatehouse/handlers"
	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestBrowserTwoFactor drives 2FA through Chromium like a person: turn it
// on from the switch of the own row (QR code, URL, secret; a code from
// oathtool), log out, log in with the password and the code of the next
// time step, then with a recovery code, and turn 2FA off again with the
// password. Console errors and CSP violations fail the test.
func TestBrowserTwoFactor(t *testing.T) {
	t.Parallel()
	testkit.Need(t, "oathtool")
	testkit.Need(t, "zbarimg")

	// The panel's clock: the current minute when the test starts (so that
	// cookies the browser keeps are not expired by its wall clock), then
	// moved only by the test, so a TOTP time step never changes under the
	// test's feet.
	clock := testkit.NewClock()
	store, base := startBrowserApp(t, testkit.WithClock(clock))
	b := browsertest.New(t, base)
	// No request may carry a password or a code in its URL.
	var mu sync.Mutex
	var leaks []string
	go b.Page.EachEvent(func(e *proto.NetworkRequestWillBeSent) {
		if strings.Contains(e.Request.URL, "password=") || strings.Contains(e.Request.URL, "code=") {
			mu.Lock()
			leaks = append(leaks, e.Request.Method+" "+e.Request.URL)
			mu.Unlock()
		}
	})()

	admin, err := store.UserByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf("#user-%d", admin.ID)
	sw := row + ` a[data-testid="twofactor"]`
	dialogOpen := `() => document.getElementById("dialog").open`
	dialogClosed := `() => !document.getElementById("dialog").open`

	b.Navigate("/login")
	b.Login("admin", testkit.AdminPassword)
	if got := b.Text(sw); got != "Off" {
		t.Errorf("the 2FA switch shows %q, want Off", got)
	}

	// 1. Open the dialog and cancel: nothing changes.
	b.Click(sw)
	b.WaitJS("the 2FA dialog to open", dialogOpen)
	b.El(`img[data-testid="qr"]`)
	b.Click(`#twofactor button[hx-post$="/2fa/cancel"]`)
	b.WaitJS("Cancel to close the dialog", dialogClosed)
	if u, _ := store.User(admin.ID); u.TwoFactor {
		t.Fatal("Cancel turned 2FA on")
	}

	// 2. Turn it on: QR code, URL and secret; read the secret like a person
	// typing it into an app.
	b.Click(sw)
	b.WaitJS("the 2FA dialog to open", dialogOpen)
	b.WaitFocus("#enroll-code")
	b.WaitJS("the QR code to load", `() => { const i = document.querySelector('img[data-testid="qr"]'); return i.complete && i.naturalWidth >= 200 }`)
	secret := b.Text(`[data-testid="secret"]`)
	otpURL := b.Value("#otpauth-url")
	if !strings.HasPrefix(otpURL, "otpauth://totp/Gatehouse:admin?") || !strings.Contains(otpURL, "secret="+strings.ReplaceAll(secret, " ", "")) {
		t.Errorf("the dialog shows the URL %q and the secret %q", otpURL, secret)
	}
	for i, g := range strings.Fields(secret) {
		if len(g) != 4 && i != len(strings.Fields(secret))-1 {
			t.Errorf("secret %q is not in groups of four", secret)
		}
	}
	// The QR code the browser shows decodes (zbarimg) to the URL shown.
	src := b.Eval(`() => document.querySelector('img[data-testid="qr"]').getAttribute("src")`)
	png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(src, "data:image/png;base64,"))
	if err != nil {
		t.Fatalf("QR src %.40q: %v", src, err)
	}
	if got := testkit.DecodeQR(t, png); got != otpURL {
		t.Errorf("the QR code holds %q, the dialog shows %q", got, otpURL)
	}
	b.Click(`button[data-copy="#otpauth-url"]`)
	b.WaitText(`button[data-copy="#otpauth-url"]`, "Copied")
	b.Screenshot("2fa-enroll.png")

	// A wrong code: a message, the dialog stays, 2FA stays off.
	code := testkit.Oathtool(t, secret, clock.Now())
	wrong := []byte(code)
	for i := range wrong {
		wrong[i] = '0' + (wrong[i]-'0'+5)%10
	}
	b.Fill("#enroll-code", string(wrong))
	b.Click(`#twofactor button.primary[type=submit]`)
	b.WaitText(`#twofactor .field-error[data-field=code]`, "That code is not right")
	b.WaitJS("the dialog to stay open", dialogOpen)
	if u, _ := store.User(admin.ID); u.TwoFactor {
		t.Fatal("a wrong code turned 2FA on")
	}
	// The right code, from oathtool.
	b.Fill("#enroll-code", code)
	b.Click(`#twofactor button.primary[type=submit]`)
	b.WaitJS("ten recovery codes", `() => document.querySelectorAll("#recovery-codes li").length === 10`)
	b.Screenshot("2fa-recovery-codes.png")
	codes := strings.Fields(b.Text("#recovery-codes"))
	if len(codes) != 10 {
		t.Fatalf("recovery codes %q", codes)
	}
	// Copy without clipboard access (a denied permission): the codes get
	// selected for copying by hand, and no error reaches the console.
	b.Eval(`() => { Object.defineProperty(navigator, "clipboard", {configurable: true, value: {writeText: () => Promise.reject(new DOMException("denied", "NotAllowedError"))}}); return "" }`)
	b.Click(`button[data-copy="#recovery-codes"]`)
	b.WaitText(`button[data-copy="#recovery-codes"]`, "Ctrl+C")
	if sel := b.Eval(`() => window.getSelection().toString()`); !strings.Contains(sel, codes[0]) || !strings.Contains(sel, codes[9]) {
		t.Errorf("after a refused copy the selection is %q, want the codes", sel)
	}
	// The list behind the dialog already shows the switch on.
	b.WaitJS("the switch to turn on", `(s) => { const e = document.querySelector(s); return e && e.getAttribute("aria-checked") === "true" }`, sw)
	b.Click(`#twofactor a[data-close-dialog]`)
	b.WaitJS("Done to close the dialog", dialogClosed)
	b.WaitText(sw, "On")
	b.WaitText(row+` [data-testid="recovery-left"]`, "10 recovery codes left")
	if u, _ := store.User(admin.ID); !u.TwoFactor {
		t.Fatal("2FA is not on in the store")
	}

	// 3. Log out; log in with the password and the NEXT step's code (the
	// enrolment's step is used up).
	b.SubmitPage(`form.logout button[type=submit]`)
	b.El("#username")
	b.SubmitLogin("admin", testkit.AdminPassword)
	b.WaitFocus("#code")
	b.Fill("#code", code)
	b.SubmitPage(`form[action="/login"] button[type=submit]`)
	b.WaitText("#login-error", "Invalid code")
	clock.Advance(30 * time.Second)
	b.Fill("#code", testkit.Oathtool(t, secret, clock.Now()))
	b.SubmitPage(`form[action="/login"] button[type=submit]`)
	b.WaitText(`[data-testid=me]`, "admin")
	b.El("table.users")

	// 4. Log out; log in with a recovery code.
	b.SubmitPage(`form.logout button[type=submit]`)
	b.El("#username")
	b.SubmitLogin("admin", testkit.AdminPassword)
	b.Fill("#code", codes[4])
	b.SubmitPage(`form[action="/login"] button[type=submit]`)
	b.WaitText(`[data-testid=me]`, "admin")
	b.WaitText(row+` [data-testid="recovery-left"]`, "9 recovery codes left")

	// 5. Past the step-up window, turn 2FA off from the switch: the
	// dialog asks for the password inline, then turns 2FA off without
	// another click.
	clock.Advance(handlers.DefaultConfig().StepUp)
	b.Click(sw)
	b.WaitJS("the 2FA dialog to open", dialogOpen)
	b.Click(`#twofactor button.danger[type=submit]`)
	b.WaitFocus("#dialog #reauth-password")
	b.Fill("#reauth-password", "wrong-pass-1")
	b.Click(`#reauth button[type=submit]`)
	b.WaitText(`#reauth [data-field="password"]`, "That password is not right.")
	b.Fill("#reauth-password", testkit.AdminPassword)
	b.Click(`#reauth button[type=submit]`)
	b.WaitJS("the dialog to close", dialogClosed)
	b.WaitText("#flash", "Two-factor authentication of admin is off.")
	b.WaitText(sw, "Off")
	b.WaitJS("the switch to turn off", `(s) => document.querySelector(s).getAttribute("aria-checked") === "false"`, sw)
	if u, _ := store.User(admin.ID); u.TwoFactor || len(u.TOTPSecret) != 0 {
		t.Errorf("2FA still on in the store: %+v", u)
	}
	for _, want := range []string{model.EventTwoFactorEnabled, model.EventRecoveryCodeUsed, model.EventTwoFactorDisabled} {
		if n := countAudit(t, store, want); n != 1 {
			t.Errorf("%d %s events, want 1", n, want)
		}
	}

	b.CheckConsole()
	mu.Lock()
	defer mu.Unlock()
	for _, l := range leaks {
		t.Errorf("a secret went into a URL: %s", l)
	}
}
