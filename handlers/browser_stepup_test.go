package handlers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers"
	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestBrowserStepUp drives the step-up rule in Chromium as a person meets
// it: past the window after signing in, changing the own password asks
// for the current one inline in the dialog, then changes it without
// another click, and lists the access token that still works, which one
// click removes; adding a passkey asks again (a new window) and then
// registers it without another click; and that passkey then confirms a
// later change in place of the password.
func TestBrowserStepUp(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock()
	store, base := startBrowserApp(t, testkit.WithClock(clock))
	b := browsertest.New(t, base)
	admin, err := store.UserByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := store.CreateToken(admin.ID, model.NewToken{ExpiresAt: clock.Now().Add(24 * time.Hour)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf("#user-%d", admin.ID)
	dialogClosed := `() => !document.getElementById("dialog").open`

	b.Navigate("/login")
	b.Login("admin", testkit.AdminPassword)
	window := handlers.DefaultConfig().StepUp
	clock.Advance(window)

	// The password: asked inline, then the change goes through.
	b.Click(row + ` a[hx-get$="/password"]`)
	b.WaitFocus("#change-password")
	b.Fill("#change-password", "admin-pass-2")
	b.Click(`#password-form button[type=submit]`)
	b.WaitFocus("#dialog #reauth-password")
	if err := func() error { _, err := store.Authenticate(context.Background(), "admin", "admin-pass-2"); return err }(); err == nil {
		t.Fatal("the password changed before the re-authentication")
	}
	b.Fill("#reauth-password", testkit.AdminPassword)
	b.Click(`#reauth button[type=submit]`)
	b.WaitText(`#password-done [data-testid=remaining-tokens]`, tok.ID)
	b.Screenshot("stepup-password-done.png")
	if _, err := store.Authenticate(context.Background(), "admin", "admin-pass-2"); err != nil {
		t.Fatalf("the password did not change after the re-authentication: %v", err)
	}
	// Remove them too: no new prompt within the window.
	b.Click(`#password-done button.danger[type=submit]`)
	b.WaitJS("the dialog to close", dialogClosed)
	b.WaitText("#flash", "Removed 1 access token of admin.")
	if list, _ := store.Tokens(admin.ID); len(list) != 0 {
		t.Errorf("admin keeps %d tokens", len(list))
	}

	// A passkey, past a new window: asked, then registered.
	b.AddVirtualAuthenticator()
	clock.Advance(window)
	b.Click(row + ` a[data-testid=passkeys]`)
	b.WaitFocus("#passkey-name")
	b.Fill("#passkey-name", "laptop")
	b.Click(`#passkey-register button[data-testid=add-passkey]`)
	b.WaitFocus("#dialog #reauth-password")
	b.Fill("#reauth-password", "admin-pass-2")
	b.Click(`#reauth button[type=submit]`)
	b.WaitText(`#passkeys tr[data-passkey-name="laptop"] [data-testid=passkey-name]`, "laptop")
	if list, _ := store.Passkeys(admin.ID); len(list) != 1 {
		t.Errorf("admin has %d passkeys, want 1", len(list))
	}
	b.Click(`#passkeys a[data-close-dialog]`)
	b.WaitJS("the dialog to close", dialogClosed)

	// Past another window, the passkey confirms it is the user: the
	// password change carries on and lists the passkey.
	clock.Advance(window)
	b.Click(row + ` a[hx-get$="/password"]`)
	b.WaitFocus("#change-password")
	b.Fill("#change-password", "admin-pass-3")
	b.Click(`#password-form button[type=submit]`)
	b.WaitFocus("#dialog #reauth-password")
	b.Click("#reauth-passkey")
	b.WaitText(`#password-done [data-testid=remaining-passkeys]`, "laptop")
	if _, err := store.Authenticate(context.Background(), "admin", "admin-pass-3"); err != nil {
		t.Fatalf("the password did not change after the passkey re-authentication: %v", err)
	}
	b.CheckConsole()
}
