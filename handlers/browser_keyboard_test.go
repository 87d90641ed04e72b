package handlers_test

// Keyboard-only walks through every dialog: Tab to the control that opens
// it and press Enter, type, press Enter for the primary action, Escape
// closes, and the focus comes back to the opener.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/input"
	"github.com/go-rod/rod/lib/proto"

	"github.com/gatehouse-panel/gatehouse/handlers"
	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

const (
	isOpen   = `() => document.getElementById("dialog").open`
	isClosed = `() => !document.getElementById("dialog").open`
	maxTabs  = 60
)

// openByKeyboard tabs to opener, presses Enter and waits for the dialog
// to open with the focus inside it.
func openByKeyboard(b *browsertest.UI, opener string) {
	b.T.Helper()
	b.TabTo(opener, maxTabs)
	visibleFocus(b)
	b.Enter()
	b.WaitJS("the dialog to open", isOpen)
	b.WaitJS("the focus to move into the dialog", `() => document.getElementById("dialog").contains(document.activeElement)`)
}

// escapeCloses presses Escape and waits for the dialog to close and the
// focus to return to opener.
func escapeCloses(b *browsertest.UI, opener string) {
	b.T.Helper()
	b.Escape()
	b.WaitJS("Escape to close the dialog", isClosed)
	focusBack(b, opener)
}

// visibleFocus fails the test when the focused element shows no focus
// ring (:focus-visible) to a keyboard user.
func visibleFocus(b *browsertest.UI) {
	b.T.Helper()
	if got := b.Eval(`() => { const s = getComputedStyle(document.activeElement); return s.outlineStyle + " " + s.outlineWidth }`); strings.HasPrefix(got, "none") || strings.HasSuffix(got, " 0px") {
		b.T.Errorf("the focused %s shows no focus ring (outline %s)", b.Focused(), got)
	}
}

func focusBack(b *browsertest.UI, opener string) {
	b.T.Helper()
	b.WaitJS("the focus to return to "+opener, `(s) => document.activeElement === document.querySelector(s)`, opener)
}

// TestBrowserKeyboardDialogs walks each dialog with the keyboard alone.
func TestBrowserKeyboardDialogs(t *testing.T) {
	t.Parallel()
	f := newUIFixture(t)
	own := fmt.Sprintf("#user-%d ", f.adminID)

	t.Run("create-user", func(t *testing.T) {
		b := f.browserRoot.Sibling(t)
		f.login(b, "admin")
		opener := `a[href="/settings/users/new"]`
		openByKeyboard(b, opener)
		b.WaitFocus("#new-username")
		escapeCloses(b, opener)

		// A refused form: the errors are announced and tied to their fields.
		openByKeyboard(b, opener)
		b.WaitFocus("#new-username")
		b.Type("x")
		b.Enter()
		b.WaitSwappedText(`#create-user-form .field-error[data-field=username]`, "")
		b.WaitJS("the error to be announced and described", `() => {
			const i = document.getElementById("new-username"), e = document.querySelector("#create-user-form .field-error[data-field=username]");
			return e.getAttribute("role") === "alert" && i.getAttribute("aria-invalid") === "true" && i.getAttribute("aria-describedby") === e.id }`)
		// Fill it in by typing; Enter creates the user.
		b.TabTo("#new-username", maxTabs)
		b.Ctrl(input.KeyA)
		b.Type("kim")
		b.Press(input.Tab)
		b.Type("kim-Pass-42")
		b.Press(input.Tab)
		b.Type("kim@example.com")
		b.Enter()
		b.WaitJS("Enter to create the user and close the dialog", isClosed)
		b.WaitText("table.users", "kim")
		focusBack(b, opener)
		if _, err := f.store.UserByName("kim"); err != nil {
			t.Errorf("kim was not created: %v", err)
		}
		b.CheckConsole()
	})

	t.Run("change-password", func(t *testing.T) {
		pat := testkit.CreateMember(t, f.store, "pat")
		b := f.browserRoot.Sibling(t)
		f.login(b, "pat")
		opener := fmt.Sprintf(`#user-%d a[href$="/password"]`, pat.ID)
		openByKeyboard(b, opener)
		b.WaitFocus("#change-password")
		escapeCloses(b, opener)
		openByKeyboard(b, opener)
		b.WaitFocus("#change-password")
		b.Type("pat-Pass-43")
		b.Enter()
		b.WaitJS("Enter to change the password and close the dialog", isClosed)
		focusBack(b, opener)
		if u, _ := f.store.User(pat.ID); u.PasswordHash == pat.PasswordHash {
			t.Error("the password did not change")
		}
		b.CheckConsole()
	})

	t.Run("step-up", func(t *testing.T) {
		sam := testkit.CreateMember(t, f.store, "sam")
		b := f.browserRoot.Sibling(t)
		f.login(b, "sam")
		f.clock.Advance(handlers.DefaultConfig().StepUp + time.Minute)
		opener := fmt.Sprintf(`#user-%d a[href$="/password"]`, sam.ID)
		openByKeyboard(b, opener)
		b.WaitFocus("#change-password")
		b.Type("sam-Pass-44")
		b.Enter()
		b.WaitFocus("#dialog #reauth-password")
		b.Type(testkit.UserPassword)
		b.Enter()
		b.WaitJS("Enter to confirm and the change to carry on", isClosed)
		focusBack(b, opener)
		b.CheckConsole()
	})

	t.Run("2fa-enroll", func(t *testing.T) {
		b := f.browserRoot.Sibling(t)
		f.login(b, "mia")
		opener := fmt.Sprintf(`#user-%d a[data-testid=twofactor]`, f.mia.ID)
		openByKeyboard(b, opener)
		b.WaitFocus("#enroll-code")
		escapeCloses(b, opener)
		openByKeyboard(b, opener)
		b.WaitFocus("#enroll-code")
		secret := strings.ReplaceAll(b.Text(`[data-testid="secret"]`), " ", "")
		b.Type(testkit.Oathtool(t, secret, f.clock.Now()))
		b.Enter()
		b.WaitJS("Enter to turn 2FA on (ten recovery codes)", `() => document.querySelectorAll("#recovery-codes li").length === 10`)
		b.WaitJS("the focus to stay in the dialog", `() => document.getElementById("dialog").contains(document.activeElement)`)
		if u, _ := f.store.User(f.mia.ID); !u.TwoFactor {
			t.Fatal("Enter did not turn 2FA on")
		}
		escapeCloses(b, opener)
		b.WaitText(opener, "On")
		b.CheckConsole()
	})

	t.Run("2fa-manage", func(t *testing.T) {
		b := f.browserRoot.Sibling(t)
		f.login(b, "tara")
		opener := fmt.Sprintf(`#user-%d a[data-testid=twofactor]`, f.tara.ID)
		openByKeyboard(b, opener)
		b.El("#twofactor [data-testid=recovery-left]")
		escapeCloses(b, opener)
		b.CheckConsole()
	})

	t.Run("tokens", func(t *testing.T) {
		b := f.browserRoot.Sibling(t)
		f.login(b, "admin")
		opener := own + `a[data-testid=access-tokens]`
		openByKeyboard(b, opener)
		b.TabTo("#token-ips", maxTabs)
		b.Type("203.0.113.0/24")
		// Ctrl+Enter sends the form from the multi-line field.
		b.Ctrl(input.Enter)
		b.WaitSwappedText(`[data-testid=token-created]`, "Copy the new token now")
		b.WaitFocus("#token-value")
		if v := b.Value("#token-value"); !strings.HasPrefix(v, "gh") && len(v) < 20 {
			t.Errorf("the new token field holds %q", v)
		}
		// Modify: Enter in the date field sends the form.
		b.TabTo(`#tokens [data-testid=modify]`, maxTabs)
		b.Enter()
		b.WaitSwappedText(`#token-form h3`, "Modify token")
		b.TabTo("#token-expires", maxTabs)
		b.Enter()
		b.WaitSwappedText(`[data-testid=token-flash]`, "")
		escapeCloses(b, opener)
		b.CheckConsole()
	})

	t.Run("passkeys", func(t *testing.T) {
		b := f.browserRoot.Sibling(t)
		f.login(b, "admin")
		b.AddVirtualAuthenticator()
		opener := own + `a[data-testid=passkeys]`
		openByKeyboard(b, opener)
		b.WaitFocus("#passkey-name")
		b.Type("keyboard")
		b.Enter()
		b.WaitText(`#passkeys tr[data-passkey-name="keyboard"]`, "keyboard")
		escapeCloses(b, own+`a[data-testid=passkeys]`)
		b.CheckConsole()
	})

	t.Run("sessions", func(t *testing.T) {
		b := f.browserRoot.Sibling(t)
		f.login(b, "admin")
		opener := own + `a[data-testid=sessions]`
		openByKeyboard(b, opener)
		b.El(`#sessions [data-testid=session-current]`)
		escapeCloses(b, opener)
		// Close is reached with Tab and pressed with Enter.
		openByKeyboard(b, opener)
		b.TabTo(`#sessions a[data-close-dialog]`, maxTabs)
		b.Enter()
		b.WaitJS("Enter on Close to close the dialog", isClosed)
		focusBack(b, opener)
		b.CheckConsole()
	})

	t.Run("delete-confirmation", func(t *testing.T) {
		victim := testkit.CreateMember(t, f.store, "gone")
		b := f.browserRoot.Sibling(t)
		f.login(b, "admin")
		link := fmt.Sprintf(`#user-%d a.danger`, victim.ID)
		b.TabTo(link, 4*maxTabs)
		wait, handle := b.Page.Timeout(browsertest.Wait).HandleDialog()
		go b.Enter()
		d := wait()
		if d.Type != proto.PageDialogTypeConfirm || !strings.Contains(d.Message, "gone") {
			t.Fatalf("Enter on Delete User asks %+v", d)
		}
		if err := handle(&proto.PageHandleJavaScriptDialog{Accept: true}); err != nil {
			t.Fatal(err)
		}
		b.WaitJS("the row to go", `(s) => !document.querySelector(s)`, fmt.Sprintf("#user-%d", victim.ID))
		b.CheckConsole()
	})
}

// TestBrowserKeyboardInlineEdit edits a username with the keyboard: Enter
// saves (one request), Escape cancels, and the focus returns to the field.
func TestBrowserKeyboardInlineEdit(t *testing.T) {
	t.Parallel()
	f := newUIFixture(t)
	b := f.browserRoot.Sibling(t)
	f.login(b, "admin")
	link := fmt.Sprintf(`#user-%d a[data-field=username]`, f.mia.ID)
	field := fmt.Sprintf(`#user-%d input[data-inline]`, f.mia.ID)

	b.TabTo(link, maxTabs)
	visibleFocus(b)
	b.Enter()
	b.WaitFocus(field)
	b.Ctrl(input.KeyA)
	b.Type("mira")
	if v := b.Value(field); v != "mira" {
		t.Fatalf("the field holds %q after typing mira over its text", v)
	}
	b.Enter()
	b.WaitJS("Enter to save the edit", `(s) => { const e = document.querySelector(s); return !!e && e.innerText === "mira" }`, link)
	focusBack(b, link)
	b.Settle()
	if n := b.Puts(fmt.Sprintf("%s/settings/users/%d", b.Base, f.mia.ID)); n != 1 {
		t.Errorf("Enter sent %d PUT requests, want 1", n)
	}
	if u, _ := f.store.User(f.mia.ID); u.Username != "mira" {
		t.Errorf("username %q after Enter, want mira", u.Username)
	}

	b.Enter()
	b.WaitFocus(field)
	b.Ctrl(input.KeyA)
	b.Type("nobody")
	b.Escape()
	b.WaitText(link, "mira")
	focusBack(b, link)
	if u, _ := f.store.User(f.mia.ID); u.Username != "mira" {
		t.Errorf("username %q after Escape, want mira", u.Username)
	}
	b.CheckConsole()
}
