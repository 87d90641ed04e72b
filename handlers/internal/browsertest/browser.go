// Package browsertest drives the panel in headless Chromium for tests: one
// tab with helpers that wait for what a person would see and fail the test
// with a clear message, and the passkey walk-through that the browser
// tests of package handlers and the HTTPS end-to-end test of package
// server share.
package browsertest

import (
	"context"
	"errors"
	"fmt"
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

	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// Wait bounds every single wait, so that a broken UI fails in
// seconds instead of hanging until the test binary's timeout.
const Wait = 10 * time.Second

// UI is one Chromium tab on the panel, with helpers that wait for
// what a person would see and fail the test with a clear message.
type UI struct {
	// T is the test the tab belongs to, Base the panel's URL and Page
	// the tab, for what the helpers do not cover.
	T    *testing.T
	Base string
	Page *rod.Page

	browser *rod.Browser // the Chromium the tab runs in, for Sibling

	mu      sync.Mutex
	console []string         // console errors, exceptions, CSP violations
	allowed []*regexp.Regexp // console lines a test provokes on purpose
	putReqs map[string]int   // PUT requests by URL
}

// expectedNetworkError matches the console lines Chromium writes for
// answers the test provokes on purpose: a refused login (401), a refused
// form (422), the refused deletion of the last user (409) and a change
// that asks for a re-authentication first (403, the step-up rule).
var expectedNetworkError = regexp.MustCompile(`status of (401|403|409|422) `)

// New starts Chromium with one tab on the panel at base; it ends with the
// test. Each option may change the launcher (flags, environment) before
// Chromium starts. Chromium is the installed one (testkit.Need): rod must
// never download a browser.
func New(t *testing.T, base string, opts ...func(*launcher.Launcher)) *UI {
	t.Helper()
	chromium := testkit.Need(t, "chromium")
	l := launcher.New().
		Bin(chromium).
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
		t.Fatalf("launch %s: %v", chromium, err)
	}
	t.Cleanup(l.Cleanup) // waits for the exit and removes the profile
	t.Cleanup(l.Kill)

	// A backstop for the whole test; each wait has its own Wait.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	browser := rod.New().ControlURL(controlURL).Context(ctx)
	if err := browser.Connect(); err != nil {
		t.Fatalf("connect to Chromium: %v", err)
	}
	t.Cleanup(func() { _ = browser.Close() })

	return open(t, base, browser)
}

// Sibling opens another tab in the same Chromium, in a fresh incognito
// context (its own cookies), for the subtest t: table-driven tests walk
// many views without starting a browser for each.
func (b *UI) Sibling(t *testing.T) *UI {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	incognito, err := b.browser.Context(ctx).Incognito()
	if err != nil {
		t.Fatalf("open an incognito context: %v", err)
	}
	t.Cleanup(func() { _ = incognito.Close() })
	return open(t, b.Base, incognito)
}

// open makes a tab in browser at the desktop size and records its
// console errors and PUT requests.
func open(t *testing.T, base string, browser *rod.Browser) *UI {
	t.Helper()
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
	b := &UI{T: t, Base: base, Page: page, browser: browser, putReqs: map[string]int{}}
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

func (b *UI) addConsole(s string) {
	b.mu.Lock()
	b.console = append(b.console, s)
	b.mu.Unlock()
}

// Puts counts the PUT requests the page sent to url.
func (b *UI) Puts(url string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.putReqs[url]
}

// AllowConsole lets CheckConsole pass console lines that match pattern:
// what a test provokes on purpose (an error page answers 404).
func (b *UI) AllowConsole(pattern string) {
	b.mu.Lock()
	b.allowed = append(b.allowed, regexp.MustCompile(pattern))
	b.mu.Unlock()
}

// CheckConsole fails the test for every console error seen so far.
func (b *UI) CheckConsole() {
	b.T.Helper()
	b.Settle()
	b.mu.Lock()
	defer b.mu.Unlock()
next:
	for _, c := range b.console {
		for _, a := range b.allowed {
			if a.MatchString(c) {
				continue next
			}
		}
		b.T.Errorf("browser console: %s", c)
	}
}

// Settle lets the page finish what the last action started (requests,
// swaps, events) before the test counts something that must NOT happen.
func (b *UI) Settle() {
	b.T.Helper()
	b.WaitJS("htmx to finish its requests", `() => !document.querySelector(".htmx-request")`)
	time.Sleep(300 * time.Millisecond)
}

// Navigate loads path of the panel and waits for the page.
func (b *UI) Navigate(path string) {
	b.T.Helper()
	p := b.Page.Timeout(Wait)
	if err := p.Navigate(b.Base + path); err != nil {
		b.T.Fatalf("navigate to %s: %v", path, err)
	}
	if err := p.WaitLoad(); err != nil {
		b.T.Fatalf("load %s: %v", path, err)
	}
}

// El waits until selector matches a visible element.
func (b *UI) El(selector string) *rod.Element {
	b.T.Helper()
	p := b.Page.Timeout(Wait)
	el, err := p.Element(selector)
	if err == nil {
		err = el.WaitVisible()
	}
	if err != nil {
		b.T.Fatalf("waiting %s for %q on %s: %v", Wait, selector, b.URL(), err)
	}
	return el.Context(b.Page.GetContext())
}

// WaitText waits until selector's visible text contains want.
func (b *UI) WaitText(selector, want string) {
	b.T.Helper()
	b.El(selector)
	b.WaitJS(fmt.Sprintf("%q to show %q", selector, want),
		`(s, want) => { const e = document.querySelector(s); return !!e && e.innerText.includes(want) && e.innerText.trim() !== "" }`,
		selector, want)
}

// WaitJS waits until the function js returns true.
func (b *UI) WaitJS(what, js string, args ...any) {
	b.T.Helper()
	if err := b.Page.Timeout(Wait).Wait(rod.Eval(js, args...)); err != nil {
		b.T.Fatalf("waiting %s for %s on %s: %v", Wait, what, b.URL(), err)
	}
}

// WaitSwappedText waits until selector matches a shown element whose text
// contains want. Unlike WaitText it never holds on to an element found
// earlier: where every action swaps a whole fragment (a dialog), an
// element found just before a swap never becomes visible again.
func (b *UI) WaitSwappedText(selector, want string) {
	b.T.Helper()
	b.WaitJS(fmt.Sprintf("%q to show %q", selector, want),
		`(s, want) => { const e = document.querySelector(s); return !!e && e.isConnected && e.getClientRects().length > 0 && e.innerText.includes(want) }`,
		selector, want)
}

// WaitFocus waits until selector has the keyboard focus.
func (b *UI) WaitFocus(selector string) {
	b.T.Helper()
	b.El(selector)
	b.WaitJS(selector+" to have the focus", `(s) => document.activeElement === document.querySelector(s)`, selector)
}

// URL is the tab's address, or "?" when Chromium cannot tell.
func (b *UI) URL() string {
	info, err := b.Page.Info()
	if err != nil {
		return "?"
	}
	return info.URL
}

// Value is the value of the input selector.
func (b *UI) Value(selector string) string {
	b.T.Helper()
	v, err := b.El(selector).Property("value")
	if err != nil {
		b.T.Fatalf("value of %s: %v", selector, err)
	}
	return v.String()
}

// Click clicks selector once it is visible.
func (b *UI) Click(selector string) {
	b.T.Helper()
	if err := b.El(selector).Timeout(Wait).Click(proto.InputMouseButtonLeft, 1); err != nil {
		b.T.Fatalf("click %s: %v", selector, err)
	}
}

// Fill replaces the text of an input, as a person selecting all and typing.
func (b *UI) Fill(selector, text string) {
	b.T.Helper()
	el := b.El(selector).Timeout(Wait)
	if err := el.SelectAllText(); err != nil {
		b.T.Fatalf("select the text of %s: %v", selector, err)
	}
	if err := el.Input(text); err != nil {
		b.T.Fatalf("type into %s: %v", selector, err)
	}
}

// FillExactly fills an input as Fill does, and makes sure the field then
// holds exactly text (typing again if a swap raced the keys), so that a
// later failure is not a typing accident.
func (b *UI) FillExactly(selector, text string) {
	b.T.Helper()
	for range 3 {
		b.Fill(selector, text)
		if b.Value(selector) == text {
			return
		}
		b.T.Logf("%s holds %q after typing %q; typing again", selector, b.Value(selector), text)
	}
	b.T.Fatalf("%s does not take the text %q", selector, text)
}

// Press types keys into whatever has the focus.
func (b *UI) Press(keys ...input.Key) {
	b.T.Helper()
	if err := b.Page.Timeout(Wait).Keyboard.Type(keys...); err != nil {
		b.T.Fatalf("press %v: %v", keys, err)
	}
}

// SubmitPage clicks an element that loads a new page (a form's button, or
// one whose script navigates) and waits for it.
func (b *UI) SubmitPage(selector string) {
	b.T.Helper()
	el := b.El(selector)
	p := b.Page.Timeout(Wait)
	wait := p.WaitNavigation(proto.PageLifecycleEventNameLoad)
	if err := el.Timeout(Wait).Click(proto.InputMouseButtonLeft, 1); err != nil {
		b.T.Fatalf("click %s: %v", selector, err)
	}
	wait()
	if p.GetContext().Err() != nil {
		b.T.Fatalf("no new page loaded %s after clicking %s (now at %s)", Wait, selector, b.URL())
	}
}

// Login signs in with a password and waits for the user list.
func (b *UI) Login(username, password string) {
	b.T.Helper()
	b.SubmitLogin(username, password)
	b.WaitText(`[data-testid=me]`, username)
	b.El("table.users")
}

// SubmitLogin types a username and password into the login form and sends
// it, whatever the answer.
func (b *UI) SubmitLogin(username, password string) {
	b.T.Helper()
	b.Fill("#username", username)
	b.Fill("#password", password)
	b.SubmitPage(`form[action="/login"] button[type=submit]`)
}

// Text returns the visible text of selector, without surrounding space.
func (b *UI) Text(selector string) string {
	b.T.Helper()
	s, err := b.El(selector).Text()
	if err != nil {
		b.T.Fatalf("text of %s: %v", selector, err)
	}
	return strings.TrimSpace(s)
}

// Eval evaluates the JavaScript function js with args and returns its
// result as a string.
func (b *UI) Eval(js string, args ...any) string {
	b.T.Helper()
	r, err := b.Page.Timeout(Wait).Eval(js, args...)
	if err != nil {
		b.T.Fatalf("eval %s: %v", js, err)
	}
	return r.Value.Str()
}

// HTML returns the page's current HTML.
func (b *UI) HTML() string {
	b.T.Helper()
	html, err := b.Page.Timeout(Wait).HTML()
	if err != nil {
		b.T.Fatalf("page HTML: %v", err)
	}
	return html
}

// ConfirmClick clicks an element that asks with window.confirm (hx-confirm),
// checks that the question names want, and accepts it.
func (b *UI) ConfirmClick(selector, want string) {
	b.T.Helper()
	el := b.El(selector)
	p := b.Page.Timeout(Wait)
	wait, handle := p.HandleDialog()
	clicked := make(chan error, 1)
	// The click does not return while the dialog blocks the page.
	go func() { clicked <- el.Timeout(Wait).Click(proto.InputMouseButtonLeft, 1) }()
	d := wait()
	if p.GetContext().Err() != nil || d.Type != proto.PageDialogTypeConfirm {
		b.T.Fatalf("no confirmation dialog %s after clicking %s (got %+v)", Wait, selector, d)
	}
	if !strings.Contains(d.Message, want) {
		b.T.Errorf("the confirmation %q does not name %q", d.Message, want)
	}
	if err := handle(&proto.PageHandleJavaScriptDialog{Accept: true}); err != nil {
		b.T.Fatalf("accept the confirmation: %v", err)
	}
	if err := <-clicked; err != nil {
		b.T.Fatalf("click %s: %v", selector, err)
	}
}

// Screenshot saves the page as a test artifact in artifacts/ at the
// repository root.
func (b *UI) Screenshot(name string) {
	b.T.Helper()
	png, err := b.Page.Timeout(Wait).Screenshot(true, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
	if err != nil {
		b.T.Fatalf("screenshot %s: %v", name, err)
	}
	dir, err := artifactsDir()
	if err != nil {
		b.T.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.T.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.T.Fatal(err)
	}
	b.T.Logf("screenshot: %s", path)
}

// artifactsDir is artifacts/ at the repository root (beside go.mod),
// whichever package's test runs.
func artifactsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "artifacts"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
