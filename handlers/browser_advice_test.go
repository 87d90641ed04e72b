package handlers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/launcher/flags"

	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestBrowserPasswordRuleWhileTyping: in Create User and Change Password,
// the parts of the password rule turn met while typing, in a list that
// screen readers hear (aria-live), and the server still decides.
func TestBrowserPasswordRuleWhileTyping(t *testing.T) {
	t.Parallel()
	store, base := startBrowserApp(t)
	b := browsertest.New(t, base)
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot("password-rule-failure.png")
		}
	})
	admin, err := store.UserByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	b.Navigate("/login")
	b.Login("admin", testkit.AdminPassword)

	// met returns the parts marked met in the rule box of input id.
	met := func(id string) string {
		return b.Eval(`(id) => Array.from(document.querySelectorAll("#" + id + "-rule li.met")).map(li => li.dataset.part).join(" ")`, id)
	}
	wantMet := func(id, typed, want string) {
		t.Helper()
		b.FillExactly("#"+id, typed)
		b.WaitJS(fmt.Sprintf("%q to mark %q met", typed, want),
			`(id, want) => Array.from(document.querySelectorAll("#" + id + "-rule li.met")).map(li => li.dataset.part).join(" ") === want`, id, want)
		if got := met(id); got != want {
			t.Errorf("%s after %q: met %q, want %q", id, typed, got, want)
		}
	}

	b.Click(`a[data-dialog][hx-get="/settings/users/new"]`)
	b.WaitJS("the Create User dialog to open", `() => document.getElementById("dialog").open`)
	b.El("#new-password")
	if got := b.Eval(`() => String(document.querySelector("#new-password-rule .rule-parts").hidden)`); got != "true" {
		t.Errorf("the parts are shown before typing (hidden = %s)", got)
	}
	if got := b.Eval(`() => document.querySelector("#new-password-rule .rule-parts").getAttribute("aria-live")`); got != "polite" {
		t.Errorf("the parts are no live region: aria-live = %q", got)
	}
	wantMet("new-password", "abc", "letter")
	wantMet("new-password", "abc1", "letter digit classes")
	wantMet("new-password", "abc12345", "length letter digit classes")
	wantMet("new-password", "abc 12345", "length letter digit other classes")
	wantMet("new-password", "12345678", "length digit")
	wantMet("new-password", "ünïcödé9", "length letter digit classes") // letters beyond ASCII, as Go's unicode.IsLetter
	wantMet("new-password", "abcdefgh", "length letter")               // one kind only
	for part, want := range map[string]string{"letter": ": met", "digit": ": not met"} {
		if got := b.Eval(`(p) => document.querySelector("#new-password-rule li[data-part=" + p + "] [data-state].visually-hidden").textContent`, part); got != want {
			t.Errorf("the %s part tells screen readers %q, want %q", part, got, want)
		}
	}
	b.Screenshot("password-rule.png")
	b.Eval(`() => { document.getElementById("dialog").close(); return "" }`)
	b.WaitJS("the dialog to close", `() => !document.getElementById("dialog").open`)

	b.Click(fmt.Sprintf(`#user-%d a[hx-get="/settings/users/%d/password"]`, admin.ID, admin.ID))
	b.WaitJS("the Change Password dialog to open", `() => document.getElementById("dialog").open`)
	b.El("#change-password")
	wantMet("change-password", "pass", "letter")
	wantMet("change-password", "pass-word", "length letter other classes")
	b.CheckConsole()
}

// TestBrowserPasskeyAdviceAtHostName: a panel served over plain HTTP at a
// host name (panel.test, which Chromium maps to the loopback; unlike
// *.localhost it is no secure context) offers no passkey button on the
// login page, and its Passkeys dialog says that passkeys need HTTPS and how
// to serve it at that name, without sending anyone to localhost or
// talking about IP addresses.
func TestBrowserPasskeyAdviceAtHostName(t *testing.T) {
	t.Parallel()
	_, base := startBrowserAppAt(t, "panel.test")
	b := browsertest.New(t, base, func(l *launcher.Launcher) {
		l.Set(flags.Flag("host-resolver-rules"), "MAP panel.test 127.0.0.1")
	})
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot("passkey-advice-failure.png")
		}
	})
	b.Navigate("/login")
	b.El("#username")
	if got := b.Eval(`() => String(window.isSecureContext)`); got != "false" {
		t.Fatalf("http://panel.test is a secure context (%s): the test needs one that is not", got)
	}
	if got := b.Eval(`() => String(document.querySelectorAll("#passkey-login, #passkey-login-box").length)`); got != "0" {
		t.Errorf("the login page offers a passkey button that cannot work here (%s elements)", got)
	}
	b.Login("admin", testkit.AdminPassword)
	b.Click(`[data-testid=passkeys]`)
	b.WaitJS("the Passkeys dialog to open", `() => document.getElementById("dialog").open`)
	b.WaitSwappedText(`[data-testid=passkeys-unavailable]`, "Passkeys need HTTPS")
	text := b.Text(`[data-testid=passkeys-unavailable]`)
	for _, want := range []string{"plain HTTP only at localhost", "--domain panel.test", "--public-url https://panel.test", "--trusted-proxy"} {
		if !strings.Contains(text, want) {
			t.Errorf("the advice lacks %q: %s", want, text)
		}
	}
	for _, not := range []string{"IP address", "http://localhost"} {
		if strings.Contains(text, not) {
			t.Errorf("the advice has %q: %s", not, text)
		}
	}
	if got := b.Eval(`() => String(!!document.getElementById("passkey-register"))`); got != "false" {
		t.Error("the dialog offers to add a passkey")
	}
	b.Screenshot("passkey-advice.png")
	// No CheckConsole: at an untrustworthy origin Chromium logs that it
	// ignores Cross-Origin-Opener-Policy, which is this test's premise.
}

// TestBrowserSecurityPage: an admin opens the Security page from the
// navigation, sees an old password, changes it through the page's own
// link, and the summary refreshes without it; then the same for a token
// without an IP White List, deleted in its dialog.
func TestBrowserSecurityPage(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	store, base := startBrowserApp(t, testkit.WithClock(clock))
	bob := testkit.AddUser(t, store, "bob")
	clock.Advance(200 * 24 * time.Hour) // both passwords are old now
	b := browsertest.New(t, base)
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot("security-failure.png")
		}
	})
	b.Navigate("/login")
	b.Login("admin", testkit.AdminPassword)
	b.WaitText(fmt.Sprintf(`#user-%d [data-testid=password-old]`, bob.ID), "old")
	b.SubmitPage(`[data-testid=nav-security]`)
	b.WaitText(`[data-testid=security-passwords] h2`, "Passwords older than 180 days: 2")
	b.Screenshot("security.png")

	b.Click(fmt.Sprintf(`[data-testid=security-passwords] a[hx-get="/settings/users/%d/password"]`, bob.ID))
	b.WaitJS("the Change Password dialog to open", `() => document.getElementById("dialog").open`)
	b.FillExactly("#change-password", "bob-pass-new1")
	b.Click(`#password-form button[type=submit]`)
	b.WaitJS("the dialog to close", `() => !document.getElementById("dialog").open`)
	b.WaitSwappedText(`[data-testid=security-passwords] h2`, "Passwords older than 180 days: 1")
	if strings.Contains(b.Text(`[data-testid=security-passwords]`), "bob") {
		t.Error("bob's new password is still listed as old")
	}

	// bob's new token has no IP White List: delete it from its dialog.
	_, tok, err := store.CreateToken(bob.ID, model.NewToken{ExpiresAt: clock.Now().Add(24 * time.Hour)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	b.Navigate("/settings/security")
	b.WaitText(`[data-testid=security-open-tokens] h2`, "without an IP White List: 1")
	b.Click(fmt.Sprintf(`[data-testid=security-open-tokens] a[hx-get="/settings/users/%d/tokens"]`, bob.ID))
	b.WaitJS("the Access Tokens dialog to open", `() => document.getElementById("dialog").open`)
	b.ConfirmClick(fmt.Sprintf(`#token-%s [data-testid=delete]`, tok.ID), tok.ID)
	b.WaitJS("the token to go", `(id) => !document.getElementById("token-" + id)`, tok.ID)
	b.Click(`#tokens [data-close-dialog]`)
	b.WaitSwappedText(`[data-testid=security-open-tokens] h2`, "without an IP White List: 0")
	b.CheckConsole()
}
