package handlers_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/launcher/flags"
	"github.com/go-rod/rod/lib/proto"
	"github.com/go-rod/rod/lib/utils"

	"github.com/gatehouse-panel/gatehouse/handlers"
	"github.com/gatehouse-panel/gatehouse/model"
)

// chromiumPath is Debian's Chromium; rod must never download a browser.
const chromiumPath = "/usr/bin/chromium"

// browserWait bounds every single wait, so that a broken UI fails in
// seconds instead of hanging until the test binary's timeout.
const browserWait = 10 * time.Second

// TestBrowserUserTab drives the real panel in headless Chromium through
// clicks and keys, the way a person uses it: log in, create a user in the
// dialog, edit inline, see validation messages, change a password, delete
// users, and see that the last user cannot be deleted. Console errors (CSP
// violations, JavaScript exceptions) fail the test.
func TestBrowserUserTab(t *testing.T) {
	requireChromium(t)

	store, base := startBrowserApp(t)
	b := newBrowserUI(t, base)

	// 1. Log in: a wrong password first, then the right one.
	b.navigate("/login")
	b.el("#username")
	b.screenshot("login.png")
	b.submitLogin("admin", "wrong-password-1")
	b.waitText("#login-error", "Invalid username or password")
	if got := b.value("#username"); got != "admin" {
		t.Errorf("after a failed login the username field holds %q, want admin", got)
	}
	b.login("admin", "admin-pass-1")

	// 2. Create a user through the dialog; a bad submission first.
	b.click(`a[data-dialog][hx-get="/settings/users/new"]`)
	b.waitJS("the Create User dialog to open", `() => document.getElementById("dialog").open`)
	b.el("#new-username")
	b.waitFocus("#new-username")
	b.fill("#new-username", "carol")
	b.fill("#new-password", "short")
	b.fill("#new-email", "carol@example.com")
	b.click(`#create-user-form button[type=submit]`)
	b.waitText(`#create-user-form .field-error[data-field=password]`, "")
	if got := b.value("#new-username"); got != "carol" {
		t.Errorf("after a refused Create User the username field holds %q, want carol", got)
	}
	if got := b.value("#new-email"); got != "carol@example.com" {
		t.Errorf("after a refused Create User the email field holds %q", got)
	}
	b.waitJS("the password field marked invalid", `() => document.querySelector("#new-password").getAttribute("aria-invalid") === "true"`)
	b.waitJS("the dialog to stay open", `() => document.getElementById("dialog").open`)
	b.screenshot("create-user-error.png")
	if _, err := store.UserByName("carol"); err == nil {
		t.Fatal("a refused Create User stored the user")
	}
	b.fill("#new-password", "carol-pass-1")
	b.click(`#create-user-form button[type=submit]`)
	b.waitJS("the Create User dialog to close", `() => !document.getElementById("dialog").open`)
	b.waitText(`tr[data-username="carol"] a[data-field=email]`, "carol@example.com")
	b.waitText("#flash", "User carol created.")
	carol, err := store.UserByName("carol")
	if err != nil || carol.Email != "carol@example.com" {
		t.Fatalf("stored carol = %+v, %v", carol, err)
	}
	row := fmt.Sprintf("#user-%d", carol.ID)
	b.screenshot("users.png")

	// 3. Rename inline: click, type, Enter → exactly one PUT.
	putURL := fmt.Sprintf("%s/settings/users/%d", base, carol.ID)
	b.click(row + " a[data-field=username]")
	b.waitFocus(row + " input[data-inline][name=username]")
	b.fill(row+" input[data-inline][name=username]", "carla")
	b.press(input.Enter)
	b.waitText(row+":not(.editing) a[data-field=username]", "carla")
	b.settle()
	if n := b.puts(putURL); n != 1 {
		t.Errorf("one inline rename sent %d PUT requests, want 1", n)
	}
	if n := countAudit(t, store, model.EventUserRenamed); n != 1 {
		t.Errorf("one inline rename recorded %d %s events, want 1", n, model.EventUserRenamed)
	}
	if u, _ := store.User(carol.ID); u.Username != "carla" {
		t.Errorf("stored username after rename = %q, want carla", u.Username)
	}

	// Escape cancels: the value stays, nothing is sent.
	sent := b.puts(putURL)
	b.click(row + " a[data-field=username]")
	b.waitFocus(row + " input[data-inline][name=username]")
	b.fill(row+" input[data-inline][name=username]", "never-saved")
	b.press(input.Escape)
	b.waitText(row+":not(.editing) a[data-field=username]", "carla")
	b.settle()
	if n := b.puts(putURL) - sent; n != 0 {
		t.Errorf("Escape sent %d PUT requests, want none", n)
	}
	if u, _ := store.User(carol.ID); u.Username != "carla" {
		t.Errorf("stored username after Escape = %q, want carla", u.Username)
	}

	// 4. A bad email inline: message, highlighted input, old value kept.
	sent = b.puts(putURL)
	b.click(row + " a[data-field=email]")
	emailInput := row + " input[data-inline][name=email]"
	b.waitFocus(emailInput)
	b.fill(emailInput, "not-an-email")
	b.press(input.Enter)
	b.waitText(row+".editing .field-error", "")
	b.waitJS("the email input marked invalid", `(s) => { const i = document.querySelector(s); return i && i.getAttribute("aria-invalid") === "true" }`, emailInput)
	if got := b.value(emailInput); got != "not-an-email" {
		t.Errorf("after a refused email the input holds %q, want the typed value", got)
	}
	if u, _ := store.User(carol.ID); u.Email != "carol@example.com" {
		t.Errorf("a refused email changed the stored one to %q", u.Email)
	}
	b.screenshot("inline-error.png")
	b.waitFocus(emailInput)
	b.press(input.Escape)
	b.waitText(row+":not(.editing) a[data-field=email]", "carol@example.com")
	b.settle()
	if n := b.puts(putURL) - sent; n != 1 {
		t.Errorf("a refused inline email edit and Escape sent %d PUT requests, want 1", n)
	}
	b.navigate("/settings/users")
	b.waitText(row+" a[data-field=email]", "carol@example.com")
	if n := countAudit(t, store, model.EventEmailChanged); n != 0 {
		t.Errorf("a refused email recorded %d %s events", n, model.EventEmailChanged)
	}

	// 5. Change the own password in the dialog, log out, log in again.
	admin, err := store.UserByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	b.click(fmt.Sprintf(`#user-%d a[hx-get$="/password"]`, admin.ID))
	b.waitJS("the Change Password dialog to open", `() => document.getElementById("dialog").open`)
	b.waitFocus("#change-password")
	b.fill("#change-password", "admin-pass-2")
	b.click(`#password-form button[type=submit]`)
	b.waitJS("the Change Password dialog to close", `() => !document.getElementById("dialog").open`)
	b.waitText("#flash", "Password of admin changed.")
	b.submitPage(`form.logout button[type=submit]`)
	b.el("#username")
	b.submitLogin("admin", "admin-pass-1")
	b.waitText("#login-error", "Invalid username or password")
	b.login("admin", "admin-pass-2")

	// 6. Delete carla (confirm), then try to delete the last user.
	b.confirmClick(row+` a[hx-delete]`, "carla")
	b.waitJS("carla's row to disappear", `(s) => !document.querySelector(s)`, row)
	if _, err := store.User(carol.ID); err == nil {
		t.Error("carla is still stored after Delete User")
	}
	adminRow := fmt.Sprintf("#user-%d", admin.ID)
	b.confirmClick(adminRow+` a[hx-delete]`, "admin")
	b.waitText("#flash .error", "last user cannot be deleted")
	b.el(adminRow + " a[data-field=username]")
	if users, err := store.Users(); err != nil || len(users) != 1 {
		t.Errorf("users after refusing to delete the last one: %v, %v", users, err)
	}

	b.checkConsole()
}

// requireChromium skips the test when Chromium is missing, or fails it in
// CI, where the browser tests must run.
func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser tests need Chromium at %s (CI must run them): %v", chromiumPath, err)
		}
		t.Skipf("browser tests skipped: Chromium not found at %s (apt-get install chromium); in CI (CI=true) this fails", chromiumPath)
	}
}

// startBrowserApp runs the real panel on a real listener with a fresh store
// and returns the store and the base URL (http://localhost:PORT: WebAuthn
// and our Origin check want a host name, not 127.0.0.1). Each option may
// change the store's options (a test clock). The handler is closed after
// the app shuts down, as Handler.Close asks: it writes the batched last
// uses of tokens before the store closes.
func startBrowserApp(t *testing.T, opts ...func(*model.Options)) (*model.Store, string) {
	t.Helper()
	o := model.Options{
		Create: true,
		Argon2: &model.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
	}
	for _, f := range opts {
		f(&o)
	}
	store, err := model.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, _, err := store.EnsureAdmin(context.Background(), "admin-pass-1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	audit := model.NewAuditBuffer(store, time.Second)
	go audit.Run(ctx)
	t.Cleanup(func() { cancel(); audit.Wait() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	uses := model.NewTokenUseBuffer(store)
	h, err := handlers.New(store, handlers.Config{PublicURL: base, Version: "test"}, audit, uses)
	if err != nil {
		t.Fatal(err)
	}
	// As in main: token last uses are written until the app has shut down
	// (the cleanup registered below runs first), then once more.
	usesCtx, stopUses := context.WithCancel(context.Background())
	go uses.Run(usesCtx)
	t.Cleanup(func() { stopUses(); uses.Wait() })
	app := h.App()
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	t.Cleanup(func() {
		_ = app.ShutdownWithTimeout(5 * time.Second)
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return store, base
}

func countAudit(t *testing.T, store *model.Store, action string) int {
	t.Helper()
	events, _, err := store.AuditEvents(model.AuditFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Action == action {
			n++
		}
	}
	return n
}

// browserUI is one Chromium tab on the panel, with helpers that wait for
// what a person would see and fail the test with a clear message.
type browserUI struct {
	t    *testing.T
	base string
	page *rod.Page

	mu      sync.Mutex
	console []string       // console errors, exceptions, CSP violations
	putReqs map[string]int // PUT requests by URL
}

// expectedNetworkError matches the console lines Chromium writes for
// answers the test provokes on purpose: a refused login (401), a refused
// form (422) and the refused deletion of the last user (409).
var expectedNetworkError = regexp.MustCompile(`status of (401|409|422) `)

// Each option may change the launcher (flags, environment) before Chromium
// starts.
func newBrowserUI(t *testing.T, base string, opts ...func(*launcher.Launcher)) *browserUI {
	t.Helper()
	l := launcher.New().
		Bin(chromiumPath).
		Headless(true).
		NoSandbox(true).
		UserDataDir(t.TempDir()).
		Set(flags.Flag("disable-gpu")).
		Set(flags.Flag("disable-quic")).
		Set(flags.Flag("no-first-run")).
		Set(flags.Flag("disable-background-networking")).
		Set(flags.Flag("disable-component-update")).
		Set(flags.Flag("disable-sync")).
		Set(flags.Flag("window-size"), "1280,800")
	for _, o := range opts {
		o(l)
	}
	controlURL, err := l.Launch()
	if err != nil {
		t.Fatalf("launch %s: %v", chromiumPath, err)
	}
	t.Cleanup(l.Cleanup) // waits for the exit and removes the profile
	t.Cleanup(l.Kill)

	// A backstop for the whole test; each wait has its own browserWait.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	browser := rod.New().ControlURL(controlURL).Context(ctx)
	if err := browser.Connect(); err != nil {
		t.Fatalf("connect to Chromium: %v", err)
	}
	t.Cleanup(func() { _ = browser.Close() })

	page, err := browser.Page(proto.TargetCreateTarget{URL: "about:blank"})
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	page = page.Sleeper(func() utils.Sleeper {
		return utils.BackoffSleeper(25*time.Millisecond, 200*time.Millisecond, nil)
	})
	if err := page.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 1280, Height: 800, DeviceScaleFactor: 1}); err != nil {
		t.Fatal(err)
	}
	b := &browserUI{t: t, base: base, page: page, putReqs: map[string]int{}}
	go page.EachEvent(
		func(e *proto.RuntimeConsoleAPICalled) {
			if e.Type != proto.RuntimeConsoleAPICalledTypeError && e.Type != proto.RuntimeConsoleAPICalledTypeAssert {
				return
			}
			var parts []string
			for _, a := range e.Args {
				if a.Description != "" {
					parts = append(parts, a.Description)
				} else {
					parts = append(parts, a.Value.String())
				}
			}
			b.addConsole("console." + string(e.Type) + ": " + strings.Join(parts, " "))
		},
		func(e *proto.RuntimeExceptionThrown) {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.addConsole("exception: " + msg)
		},
		func(e *proto.LogEntryAdded) {
			if e.Entry.Level != proto.LogLogEntryLevelError {
				return
			}
			if e.Entry.Source == proto.LogLogEntrySourceNetwork && expectedNetworkError.MatchString(e.Entry.Text) {
				return
			}
			b.addConsole(fmt.Sprintf("log (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL))
		},
		func(e *proto.NetworkRequestWillBeSent) {
			if e.Request.Method == "PUT" {
				b.mu.Lock()
				b.putReqs[e.Request.URL]++
				b.mu.Unlock()
			}
		},
	)()
	return b
}

func (b *browserUI) addConsole(s string) {
	b.mu.Lock()
	b.console = append(b.console, s)
	b.mu.Unlock()
}

func (b *browserUI) puts(url string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.putReqs[url]
}

// checkConsole fails the test for every console error seen so far.
func (b *browserUI) checkConsole() {
	b.t.Helper()
	b.settle()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.console {
		b.t.Errorf("browser console: %s", c)
	}
}

// settle lets the page finish what the last action started (requests,
// swaps, events) before the test counts something that must NOT happen.
func (b *browserUI) settle() {
	b.t.Helper()
	b.waitJS("htmx to finish its requests", `() => !document.querySelector(".htmx-request")`)
	time.Sleep(300 * time.Millisecond)
}

func (b *browserUI) navigate(path string) {
	b.t.Helper()
	p := b.page.Timeout(browserWait)
	if err := p.Navigate(b.base + path); err != nil {
		b.t.Fatalf("navigate to %s: %v", path, err)
	}
	if err := p.WaitLoad(); err != nil {
		b.t.Fatalf("load %s: %v", path, err)
	}
}

// el waits until selector matches a visible element.
func (b *browserUI) el(selector string) *rod.Element {
	b.t.Helper()
	p := b.page.Timeout(browserWait)
	el, err := p.Element(selector)
	if err == nil {
		err = el.WaitVisible()
	}
	if err != nil {
		b.t.Fatalf("waiting %s for %q on %s: %v", browserWait, selector, b.url(), err)
	}
	return el.Context(b.page.GetContext())
}

// waitText waits until selector's visible text contains want.
func (b *browserUI) waitText(selector, want string) {
	b.t.Helper()
	b.el(selector)
	b.waitJS(fmt.Sprintf("%q to show %q", selector, want),
		`(s, want) => { const e = document.querySelector(s); return !!e && e.innerText.includes(want) && e.innerText.trim() !== "" }`,
		selector, want)
}

// waitJS waits until the function js returns true.
func (b *browserUI) waitJS(what, js string, args ...any) {
	b.t.Helper()
	if err := b.page.Timeout(browserWait).Wait(rod.Eval(js, args...)); err != nil {
		b.t.Fatalf("waiting %s for %s on %s: %v", browserWait, what, b.url(), err)
	}
}

func (b *browserUI) waitFocus(selector string) {
	b.t.Helper()
	b.el(selector)
	b.waitJS(selector+" to have the focus", `(s) => document.activeElement === document.querySelector(s)`, selector)
}

func (b *browserUI) url() string {
	info, err := b.page.Info()
	if err != nil {
		return "?"
	}
	return info.URL
}

func (b *browserUI) value(selector string) string {
	b.t.Helper()
	v, err := b.el(selector).Property("value")
	if err != nil {
		b.t.Fatalf("value of %s: %v", selector, err)
	}
	return v.String()
}

func (b *browserUI) click(selector string) {
	b.t.Helper()
	if err := b.el(selector).Timeout(browserWait).Click(proto.InputMouseButtonLeft, 1); err != nil {
		b.t.Fatalf("click %s: %v", selector, err)
	}
}

// fill replaces the text of an input, as a person selecting all and typing.
func (b *browserUI) fill(selector, text string) {
	b.t.Helper()
	el := b.el(selector).Timeout(browserWait)
	if err := el.SelectAllText(); err != nil {
		b.t.Fatalf("select the text of %s: %v", selector, err)
	}
	if err := el.Input(text); err != nil {
		b.t.Fatalf("type into %s: %v", selector, err)
	}
}

// press types keys into whatever has the focus.
func (b *browserUI) press(keys ...input.Key) {
	b.t.Helper()
	if err := b.page.Timeout(browserWait).Keyboard.Type(keys...); err != nil {
		b.t.Fatalf("press %v: %v", keys, err)
	}
}

// submitPage clicks an element that loads a new page (a form's button, or
// one whose script navigates) and waits for it.
func (b *browserUI) submitPage(selector string) {
	b.t.Helper()
	el := b.el(selector)
	p := b.page.Timeout(browserWait)
	wait := p.WaitNavigation(proto.PageLifecycleEventNameLoad)
	if err := el.Timeout(browserWait).Click(proto.InputMouseButtonLeft, 1); err != nil {
		b.t.Fatalf("click %s: %v", selector, err)
	}
	wait()
	if p.GetContext().Err() != nil {
		b.t.Fatalf("no new page loaded %s after clicking %s (now at %s)", browserWait, selector, b.url())
	}
}

// login signs in with a password and waits for the user list.
func (b *browserUI) login(username, password string) {
	b.t.Helper()
	b.submitLogin(username, password)
	b.waitText(`[data-testid=me]`, username)
	b.el("table.users")
}

// submitLogin types a username and password into the login form and sends
// it, whatever the answer.
func (b *browserUI) submitLogin(username, password string) {
	b.t.Helper()
	b.fill("#username", username)
	b.fill("#password", password)
	b.submitPage(`form[action="/login"] button[type=submit]`)
}

// text returns the visible text of selector, without surrounding space.
func (b *browserUI) text(selector string) string {
	b.t.Helper()
	s, err := b.el(selector).Text()
	if err != nil {
		b.t.Fatalf("text of %s: %v", selector, err)
	}
	return strings.TrimSpace(s)
}

// confirmClick clicks an element that asks with window.confirm (hx-confirm),
// checks that the question names want, and accepts it.
func (b *browserUI) confirmClick(selector, want string) {
	b.t.Helper()
	el := b.el(selector)
	p := b.page.Timeout(browserWait)
	wait, handle := p.HandleDialog()
	clicked := make(chan error, 1)
	// The click does not return while the dialog blocks the page.
	go func() { clicked <- el.Timeout(browserWait).Click(proto.InputMouseButtonLeft, 1) }()
	d := wait()
	if p.GetContext().Err() != nil || d.Type != proto.PageDialogTypeConfirm {
		b.t.Fatalf("no confirmation dialog %s after clicking %s (got %+v)", browserWait, selector, d)
	}
	if !strings.Contains(d.Message, want) {
		b.t.Errorf("the confirmation %q does not name %q", d.Message, want)
	}
	if err := handle(&proto.PageHandleJavaScriptDialog{Accept: true}); err != nil {
		b.t.Fatalf("accept the confirmation: %v", err)
	}
	if err := <-clicked; err != nil {
		b.t.Fatalf("click %s: %v", selector, err)
	}
}

// screenshot saves the page as a test artifact in artifacts/ at the
// repository root.
func (b *browserUI) screenshot(name string) {
	b.t.Helper()
	png, err := b.page.Timeout(browserWait).Screenshot(true, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join("..", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}
