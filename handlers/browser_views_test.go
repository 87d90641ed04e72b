package handlers_test

// The panel's pages and dialogs, one row each, walked by the accessibility
// (axe-core, light and dark), phone layout and screenshot tests. A new
// page or dialog is one more row in uiViews.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers"
	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// uiFixture is the panel the views are shown on: the admin "admin", the
// member "mia", the admin "tara" with 2FA on and the member "otto" with an
// access token; clock is the panel's.
type uiFixture struct {
	store       *model.Store
	clock       *testkit.Clock
	base        string
	mia, tara   model.User
	otto        model.User // holds an access token; the password-done view changes his password
	ottoToken   string     // the ID of otto's access token
	adminID     int
	taraSecret  string
	browserRoot *browsertest.UI
}

// uiView is one page or dialog: who signs in ("" for nobody), the page to
// load, and what a person then does to reach the view (open a dialog); the
// view is ready when ready matches a shown element.
type uiView struct {
	name  string
	as    string
	path  string
	open  func(b *browsertest.UI, f *uiFixture)
	ready string
}

// dialogOpen waits for the shared dialog to be open on a fragment with
// selector.
func dialogOpen(b *browsertest.UI, selector string) {
	b.T.Helper()
	b.WaitJS("the dialog to open", `(s) => document.getElementById("dialog").open && !!document.querySelector("#dialog " + s)`, selector)
	b.Settle()
}

// uiViews lists every page and dialog of the panel.
var uiViews = []uiView{
	{name: "login", path: "/login", ready: "#username"},
	{name: "login-2fa", path: "/login", ready: "#code", open: func(b *browsertest.UI, f *uiFixture) {
		b.SubmitLogin("tara", testkit.UserPassword)
	}},
	{name: "users-admin", as: "admin", path: "/settings/users", ready: "table.users"},
	{name: "users-member", as: "mia", path: "/settings/users", ready: "table.users"},
	{name: "security", as: "admin", path: "/settings/security", ready: "main .security"},
	{name: "sessions-view", as: "admin", path: "/settings/sessions", ready: "#session-view table"},
	{name: "sessions-view-member", as: "mia", path: "/settings/sessions", ready: "#session-view table"},
	{name: "audit-view", as: "admin", path: "/settings/audit", ready: "#audit-view table"},
	{name: "audit-view-member", as: "mia", path: "/settings/audit", ready: "#audit-view table"},
	{name: "audit-view-errors", as: "admin", path: "/settings/audit?since=yesterday", ready: "#audit-view .field-error"},
	{name: "token-delete-page", as: "admin", path: "/settings/users/{otto}/tokens/{otto-token}/delete", ready: "main form"},
	{name: "inline-edit", as: "admin", path: "/settings/users", ready: "input[data-inline]", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[data-field=username]`, f.mia.ID))
	}},
	{name: "reauth-page", as: "admin", path: "/settings/reauth", ready: "#reauth-password"},
	{name: "error-page", as: "admin", path: "/settings/users/9999/tokens", ready: "main .error", open: func(b *browsertest.UI, f *uiFixture) {
		b.AllowConsole(`status of 404 .*/settings/users/9999/tokens`)
	}},
	{name: "delete-page", as: "admin", path: "/settings/users/{mia}/delete", ready: "main form"},
	{name: "create-user", as: "admin", path: "/settings/users", ready: "#dialog #new-username", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(`a[href="/settings/users/new"]`)
		dialogOpen(b, "#create-user-form")
	}},
	{name: "create-user-errors", as: "admin", path: "/settings/users", ready: "#dialog .field-error", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(`a[href="/settings/users/new"]`)
		dialogOpen(b, "#create-user-form")
		b.Fill("#new-username", "x")
		b.Click(`#create-user-form button.primary`)
		b.WaitSwappedText(`#create-user-form .field-error`, "")
	}},
	{name: "change-password", as: "admin", path: "/settings/users", ready: "#dialog #change-password", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[href$="/password"]`, f.adminID))
		dialogOpen(b, "#password-form")
	}},
	{name: "password-done", as: "admin", path: "/settings/users", ready: "#dialog [data-testid=remaining-tokens]", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[href$="/password"]`, f.otto.ID))
		dialogOpen(b, "#password-form")
		b.Fill("#change-password", "otto-Pass-43")
		b.Click(`#password-form button.primary`)
		b.WaitSwappedText(`#password-done`, "Password changed")
	}},
	{name: "step-up-dialog", as: "admin", path: "/settings/users", ready: "#dialog #reauth-password", open: func(b *browsertest.UI, f *uiFixture) {
		f.clock.Advance(handlers.DefaultConfig().StepUp + time.Minute)
		b.Click(fmt.Sprintf(`#user-%d a[href$="/password"]`, f.adminID))
		dialogOpen(b, "#password-form")
		b.Fill("#change-password", "new-Pass-42")
		b.Click(`#password-form button.primary`)
		b.WaitFocus("#dialog #reauth-password")
	}},
	{name: "2fa-enroll", as: "admin", path: "/settings/users", ready: "#dialog #enroll-code", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[data-testid=twofactor]`, f.adminID))
		dialogOpen(b, "#twofactor")
		b.WaitJS("the QR code to load", `() => { const i = document.querySelector('img[data-testid="qr"]'); return i.complete && i.naturalWidth > 0 }`)
	}},
	{name: "2fa-manage", as: "tara", path: "/settings/users", ready: "#dialog #twofactor", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[data-testid=twofactor]`, f.tara.ID))
		dialogOpen(b, "#twofactor")
	}},
	{name: "2fa-recovery-codes", as: "tara", path: "/settings/users", ready: "#dialog #recovery-codes", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[data-testid=twofactor]`, f.tara.ID))
		dialogOpen(b, "#twofactor")
		b.ConfirmClick(`#twofactor form[hx-post$="/recovery-codes"] button`, "new recovery codes")
	}},
	{name: "tokens", as: "admin", path: "/settings/users", ready: "#dialog #tokens", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[data-testid=access-tokens]`, f.adminID))
		dialogOpen(b, "#tokens")
	}},
	{name: "token-created", as: "admin", path: "/settings/users", ready: "#dialog [data-testid=token-created]", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[data-testid=access-tokens]`, f.adminID))
		dialogOpen(b, "#tokens")
		b.Click(`#token-form button.primary`)
		b.WaitSwappedText(`[data-testid=token-created]`, "Copy the new token now")
	}},
	{name: "token-modify", as: "admin", path: "/settings/users", ready: "#dialog #token-form h3 code", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[data-testid=access-tokens]`, f.adminID))
		dialogOpen(b, "#tokens")
		b.Click(`#tokens [data-testid=modify]`)
		b.WaitSwappedText(`#token-form h3`, "Modify token")
	}},
	{name: "passkeys", as: "admin", path: "/settings/users", ready: "#dialog #passkeys", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[data-testid=passkeys]`, f.adminID))
		dialogOpen(b, "#passkeys")
	}},
	{name: "sessions", as: "admin", path: "/settings/users", ready: "#dialog #sessions", open: func(b *browsertest.UI, f *uiFixture) {
		b.Click(fmt.Sprintf(`#user-%d a[data-testid=sessions]`, f.adminID))
		dialogOpen(b, "#sessions")
	}},
}

// newUIFixture starts the panel with the users the views need, an access
// token of the admin, a second session of the admin, and one Chromium.
func newUIFixture(t *testing.T) *uiFixture {
	t.Helper()
	testkit.Need(t, "chromium")
	clock := testkit.NewClock()
	store, base := startBrowserApp(t, testkit.WithClock(clock))
	f := &uiFixture{store: store, clock: clock, base: base}
	admin, err := store.UserByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	f.adminID = admin.ID
	f.mia = testkit.CreateMember(t, store, "mia")
	f.tara = testkit.AddUser(t, store, "tara")
	e, _ := testkit.EnableTwoFactor(t, store, f.tara)
	f.taraSecret = e.Secret
	f.otto = testkit.CreateMember(t, store, "otto")
	_, tok, err := store.CreateToken(f.otto.ID, model.NewToken{ExpiresAt: clock.Now().Add(30 * 24 * time.Hour)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	f.ottoToken = tok.ID
	if _, err := os.Stat(browsertest.AxePath()); err != nil {
		t.Fatalf("axe-core is missing (run scripts/fetch-assets.sh): %v", err)
	}
	f.browserRoot = browsertest.New(t, base)
	return f
}

// show opens view v in a new tab of the fixture's Chromium for t; before
// runs first (a phone size, a theme).
func (f *uiFixture) show(t *testing.T, v uiView, before func(b *browsertest.UI)) *browsertest.UI {
	t.Helper()
	b := f.browserRoot.Sibling(t)
	if before != nil {
		before(b)
	}
	if v.as != "" {
		f.login(b, v.as)
	}
	b.Navigate(strings.NewReplacer("{mia}", fmt.Sprint(f.mia.ID), "{otto}", fmt.Sprint(f.otto.ID), "{otto-token}", f.ottoToken).Replace(v.path))
	if v.open != nil {
		v.open(b, f)
	}
	b.El(v.ready)
	b.Settle()
	return b
}

// login signs b in as name (with a fresh TOTP step for tara).
func (f *uiFixture) login(b *browsertest.UI, name string) {
	b.T.Helper()
	b.Navigate("/login")
	switch name {
	case "admin":
		b.Login("admin", testkit.AdminPassword)
	case "tara":
		b.SubmitLogin("tara", testkit.UserPassword)
		f.clock.Advance(30 * time.Second)
		b.Fill("#code", testkit.Oathtool(b.T, f.taraSecret, f.clock.Now()))
		b.SubmitPage(`form[action="/login"] button[type=submit]`)
		b.El("table.users")
	default:
		b.Login(name, testkit.UserPassword)
	}
}

// TestBrowserAxe runs axe-core on every page and dialog in the light and
// the dark theme: no violation of a WCAG 2.1 A or AA rule is allowed.
func TestBrowserAxe(t *testing.T) {
	t.Parallel()
	f := newUIFixture(t)
	// axe-core goes in through the DevTools protocol, which the panel's
	// Content Security Policy does not govern; the policy still stops
	// any inline script the page itself would add.
	t.Run("csp-still-holds", func(t *testing.T) {
		b := f.show(t, viewNamed(t, "login"), nil)
		b.AllowConsole(`Content Security Policy`)
		if r := b.Axe(); r.Passes == 0 {
			t.Fatal("axe-core ran no rule")
		}
		if ran := b.Eval(`() => { const s = document.createElement("script"); s.textContent = "window.inlineRan = true"; document.head.appendChild(s); return String(!!window.inlineRan) }`); ran != "false" {
			t.Error("an inline script ran: the Content Security Policy does not hold")
		}
	})
	var table []string
	for _, v := range uiViews {
		t.Run(v.name, func(t *testing.T) {
			b := f.show(t, v, nil)
			for _, theme := range []browsertest.Theme{browsertest.Light, browsertest.Dark} {
				b.EmulateTheme(theme)
				r := b.Axe()
				line := fmt.Sprintf("axe %-20s %-5s rules passed %2d, violations %d", v.name, theme, r.Passes, len(r.Violations))
				t.Log(line)
				table = append(table, line)
				if len(r.Violations) > 0 {
					t.Errorf("%s (%s theme): %d WCAG 2.1 A/AA violations:%s", v.name, theme, len(r.Violations), r)
				}
			}
			b.CheckConsole()
		})
	}
	t.Logf("axe-core %s results:\n%s", strings.Join(browsertest.AxeTags, ","), strings.Join(table, "\n"))
}

// TestBrowserPhone shows every page and dialog on a 390×844 phone: no
// element may reach past the screen's right edge unless it sits in a box
// that scrolls by itself, the header's Log out stays on screen, and
// axe-core finds nothing there either.
func TestBrowserPhone(t *testing.T) {
	t.Parallel()
	f := newUIFixture(t)
	for _, v := range uiViews {
		t.Run(v.name, func(t *testing.T) {
			b := f.show(t, v, func(b *browsertest.UI) { b.EmulatePhone() })
			if w := b.Eval(`() => String(screen.width)`); w != fmt.Sprint(browsertest.PhoneWidth) {
				t.Fatalf("screen.width is %s, want %d", w, browsertest.PhoneWidth)
			}
			for _, e := range b.Overflow() {
				t.Errorf("%s: past the right edge of a %d px screen: %s", v.name, browsertest.PhoneWidth, e)
			}
			if v.as != "" {
				if right := b.Eval(`() => { const e = document.querySelector("form.logout button"); return e ? String(e.getBoundingClientRect().right <= screen.width) : "none" }`); right != "true" {
					t.Errorf("%s: Log out is not on the screen (%s)", v.name, right)
				}
			}
			if r := b.Axe(); len(r.Violations) > 0 {
				t.Errorf("%s on a phone: %d WCAG 2.1 A/AA violations:%s", v.name, len(r.Violations), r)
			}
			b.Screenshot("phone-" + v.name + ".png")
			b.CheckConsole()
		})
	}
}

// viewNamed is the row of uiViews called name.
func viewNamed(t *testing.T, name string) uiView {
	t.Helper()
	for _, v := range uiViews {
		if v.name == name {
			return v
		}
	}
	t.Fatalf("no view %q in uiViews", name)
	return uiView{}
}

// TestBrowserDarkTheme shows the User tab in both themes: the page's
// background and text colours must differ between them. Screenshots of
// both are kept in artifacts/.
func TestBrowserDarkTheme(t *testing.T) {
	t.Parallel()
	f := newUIFixture(t)
	b := f.show(t, viewNamed(t, "users-admin"), nil)
	colours := map[browsertest.Theme]string{}
	for _, theme := range []browsertest.Theme{browsertest.Light, browsertest.Dark} {
		b.EmulateTheme(theme)
		colours[theme] = b.Eval(`() => { const r = getComputedStyle(document.documentElement), c = getComputedStyle(document.querySelector(".card"));
			return [r.backgroundColor, r.color, c.backgroundColor, getComputedStyle(document.querySelector("table.users td")).color].join(" | ") }`)
		t.Logf("%s theme: page background | text | card | cell text = %s", theme, colours[theme])
		b.Screenshot("theme-" + string(theme) + ".png")
	}
	light := strings.Split(colours[browsertest.Light], " | ")
	dark := strings.Split(colours[browsertest.Dark], " | ")
	for i, what := range []string{"page background", "page text", "card background", "table text"} {
		if light[i] == dark[i] {
			t.Errorf("the %s is %s in both themes", what, light[i])
		}
	}
	b.CheckConsole()
}

// TestBrowserScreenshots makes the README's screenshots at desktop size
// (1280×800): into artifacts/ always, and into the folder named by
// GATEHOUSE_SCREENSHOTS (docs/screenshots, from the repository root) when
// it is set, so that a run on purpose refreshes the committed ones.
func TestBrowserScreenshots(t *testing.T) {
	t.Parallel()
	f := newUIFixture(t)
	shots := []struct {
		file, view string
		theme      browsertest.Theme
	}{
		{"login.png", "login", browsertest.Light},
		{"users-light.png", "users-admin", browsertest.Light},
		{"users-dark.png", "users-admin", browsertest.Dark},
		{"token-created.png", "token-created", browsertest.Light},
		{"passkeys.png", "passkeys", browsertest.Light},
		{"sessions.png", "sessions", browsertest.Light},
	}
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir != "" && !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir) // the tests run in handlers/
	}
	for _, s := range shots {
		t.Run(strings.TrimSuffix(s.file, ".png"), func(t *testing.T) {
			b := f.show(t, viewNamed(t, s.view), func(b *browsertest.UI) { b.EmulateTheme(s.theme) })
			b.Screenshot("readme-" + s.file)
			// At a desktop size nothing zooms out: the page must not be
			// wider than the window.
			if over := b.Eval(`() => String(document.documentElement.scrollWidth - window.innerWidth)`); over != "0" && !strings.HasPrefix(over, "-") {
				t.Errorf("%s: the page is %s px wider than the window", s.view, over)
			}
			if dir != "" {
				b.ScreenshotTo(filepath.Join(dir, s.file))
			}
			b.CheckConsole()
		})
	}
}
