package handlers_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestBrowserDisabledPasskey: member bob registers a passkey in headless
// Chromium; disabling him ends the open page's session at once and his
// passkey no longer signs in; enabling him lets the same passkey in again.
func TestBrowserDisabledPasskey(t *testing.T) {
	t.Parallel()
	store, base := startBrowserApp(t)
	bob := testkit.CreateMember(t, store, "bob")
	b := browsertest.New(t, base)
	b.AddVirtualAuthenticator()
	b.WithoutPasskeyAutofill()

	b.Navigate("/login")
	b.El("#username")
	b.Login("bob", testkit.UserPassword)
	b.Click(`tr[data-username="bob"] a[data-testid=passkeys]`)
	b.WaitJS("the Passkeys dialog to open", `() => document.getElementById("dialog").open`)
	b.WaitFocus("#passkey-name")
	b.Fill("#passkey-name", "laptop")
	b.Click(`#passkey-register button[data-testid=add-passkey]`)
	b.WaitText(`tr[data-username="bob"] [data-testid=passkey-count]`, "1")

	set := func(disabled bool) {
		t.Helper()
		if _, err := store.UpdateUser(bob.ID, model.UserPatch{Disabled: &disabled}, model.CLIActor); err != nil {
			t.Fatal(err)
		}
	}
	set(true)
	// The open page's session ended with the disable.
	b.Navigate("/settings/users")
	b.El("#passkey-login")
	if u := b.URL(); !strings.Contains(u, "/login") {
		t.Fatalf("a disabled user's page still opens: %s", u)
	}
	// The passkey is refused.
	b.Click("#passkey-login")
	b.WaitJS("the passkey login to be refused", `() => document.getElementById("passkey-login-error").textContent.trim() !== ""`)
	if u := b.URL(); !strings.Contains(u, "/login") {
		t.Errorf("after a refused passkey login the browser is at %s", u)
	}
	if ss, _ := store.SessionsOf(bob.ID); len(ss) != 0 {
		t.Fatalf("a disabled user got a session: %+v", ss)
	}
	b.Screenshot("disabled-passkey-refused.png")

	set(false)
	b.Navigate("/login")
	b.SubmitPage("#passkey-login")
	b.WaitText(`[data-testid=me]`, "bob")
}
