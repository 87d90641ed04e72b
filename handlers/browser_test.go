package handlers_test

import (
	"fmt"
	"testing"

	"github.com/go-rod/rod/lib/input"

	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestBrowserUserTab drives the real panel in headless Chromium through
// clicks and keys, the way a person uses it: log in, create a user in the
// dialog, edit inline, see validation messages, change a password, delete
// users, and see that the last user cannot be deleted. Console errors (CSP
// violations, JavaScript exceptions) fail the test.
func TestBrowserUserTab(t *testing.T) {
	t.Parallel()

	store, base := startBrowserApp(t)
	b := browsertest.New(t, base)

	// 1. Log in: a wrong password first, then the right one.
	b.Navigate("/login")
	b.El("#username")
	b.Screenshot("login.png")
	b.SubmitLogin("admin", "wrong-password-1")
	b.WaitText("#login-error", "Invalid username or password")
	if got := b.Value("#username"); got != "admin" {
		t.Errorf("after a failed login the username field holds %q, want admin", got)
	}
	b.Login("admin", testkit.AdminPassword)

	// 2. Create a user through the dialog; a bad submission first.
	b.Click(`a[data-dialog][hx-get="/settings/users/new"]`)
	b.WaitJS("the Create User dialog to open", `() => document.getElementById("dialog").open`)
	b.El("#new-username")
	b.WaitFocus("#new-username")
	b.Fill("#new-username", "carol")
	b.Fill("#new-password", "short")
	b.Fill("#new-email", "carol@example.com")
	b.Click(`#create-user-form button[type=submit]`)
	b.WaitText(`#create-user-form .field-error[data-field=password]`, "")
	if got := b.Value("#new-username"); got != "carol" {
		t.Errorf("after a refused Create User the username field holds %q, want carol", got)
	}
	if got := b.Value("#new-email"); got != "carol@example.com" {
		t.Errorf("after a refused Create User the email field holds %q", got)
	}
	b.WaitJS("the password field marked invalid", `() => document.querySelector("#new-password").getAttribute("aria-invalid") === "true"`)
	b.WaitJS("the dialog to stay open", `() => document.getElementById("dialog").open`)
	b.Screenshot("create-user-error.png")
	if _, err := store.UserByName("carol"); err == nil {
		t.Fatal("a refused Create User stored the user")
	}
	b.Fill("#new-password", "carol-pass-1")
	b.Click(`#create-user-form button[type=submit]`)
	b.WaitJS("the Create User dialog to close", `() => !document.getElementById("dialog").open`)
	b.WaitText(`tr[data-username="carol"] a[data-field=email]`, "carol@example.com")
	b.WaitText("#flash", "User carol created.")
	carol, err := store.UserByName("carol")
	if err != nil || carol.Email != "carol@example.com" {
		t.Fatalf("stored carol = %+v, %v", carol, err)
	}
	row := fmt.Sprintf("#user-%d", carol.ID)
	b.Screenshot("users.png")

	// 3. Rename inline: click, type, Enter → exactly one PUT.
	putURL := fmt.Sprintf("%s/settings/users/%d", base, carol.ID)
	b.Click(row + " a[data-field=username]")
	b.WaitFocus(row + " input[data-inline][name=username]")
	b.Fill(row+" input[data-inline][name=username]", "carla")
	b.Press(input.Enter)
	b.WaitText(row+":not(.editing) a[data-field=username]", "carla")
	b.Settle()
	if n := b.Puts(putURL); n != 1 {
		t.Errorf("one inline rename sent %d PUT requests, want 1", n)
	}
	if n := countAudit(t, store, model.EventUserRenamed); n != 1 {
		t.Errorf("one inline rename recorded %d %s events, want 1", n, model.EventUserRenamed)
	}
	if u, _ := store.User(carol.ID); u.Username != "carla" {
		t.Errorf("stored username after rename = %q, want carla", u.Username)
	}

	// Escape cancels: the value stays, nothing is sent.
	sent := b.Puts(putURL)
	b.Click(row + " a[data-field=username]")
	b.WaitFocus(row + " input[data-inline][name=username]")
	b.Fill(row+" input[data-inline][name=username]", "never-saved")
	b.Press(input.Escape)
	b.WaitText(row+":not(.editing) a[data-field=username]", "carla")
	b.Settle()
	if n := b.Puts(putURL) - sent; n != 0 {
		t.Errorf("Escape sent %d PUT requests, want none", n)
	}
	if u, _ := store.User(carol.ID); u.Username != "carla" {
		t.Errorf("stored username after Escape = %q, want carla", u.Username)
	}

	// 4. A bad email inline: message, highlighted input, old value kept.
	sent = b.Puts(putURL)
	b.Click(row + " a[data-field=email]")
	emailInput := row + " input[data-inline][name=email]"
	b.WaitFocus(emailInput)
	b.Fill(emailInput, "not-an-email")
	b.Press(input.Enter)
	b.WaitText(row+".editing .field-error", "")
	b.WaitJS("the email input marked invalid", `(s) => { const i = document.querySelector(s); return i && i.getAttribute("aria-invalid") === "true" }`, emailInput)
	if got := b.Value(emailInput); got != "not-an-email" {
		t.Errorf("after a refused email the input holds %q, want the typed value", got)
	}
	if u, _ := store.User(carol.ID); u.Email != "carol@example.com" {
		t.Errorf("a refused email changed the stored one to %q", u.Email)
	}
	b.Screenshot("inline-error.png")
	b.WaitFocus(emailInput)
	b.Press(input.Escape)
	b.WaitText(row+":not(.editing) a[data-field=email]", "carol@example.com")
	b.Settle()
	if n := b.Puts(putURL) - sent; n != 1 {
		t.Errorf("a refused inline email edit and Escape sent %d PUT requests, want 1", n)
	}
	b.Navigate("/settings/users")
	b.WaitText(row+" a[data-field=email]", "carol@example.com")
	if n := countAudit(t, store, model.EventEmailChanged); n != 0 {
		t.Errorf("a refused email recorded %d %s events", n, model.EventEmailChanged)
	}

	// 5. Change the own password in the dialog, log out, log in again.
	admin, err := store.UserByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	b.Click(fmt.Sprintf(`#user-%d a[hx-get$="/password"]`, admin.ID))
	b.WaitJS("the Change Password dialog to open", `() => document.getElementById("dialog").open`)
	b.WaitFocus("#change-password")
	b.Fill("#change-password", "admin-pass-2")
	b.Click(`#password-form button[type=submit]`)
	b.WaitJS("the Change Password dialog to close", `() => !document.getElementById("dialog").open`)
	b.WaitText("#flash", "Password of admin changed.")
	b.SubmitPage(`form.logout button[type=submit]`)
	b.El("#username")
	b.SubmitLogin("admin", testkit.AdminPassword)
	b.WaitText("#login-error", "Invalid username or password")
	b.Login("admin", "admin-pass-2")

	// 6. Delete carla (confirm), then try to delete the last user.
	b.ConfirmClick(row+` a[hx-delete]`, "carla")
	b.WaitJS("carla's row to disappear", `(s) => !document.querySelector(s)`, row)
	if _, err := store.User(carol.ID); err == nil {
		t.Error("carla is still stored after Delete User")
	}
	adminRow := fmt.Sprintf("#user-%d", admin.ID)
	b.ConfirmClick(adminRow+` a[hx-delete]`, "admin")
	b.WaitText("#flash .error", "last user cannot be deleted")
	b.El(adminRow + " a[data-field=username]")
	if users, err := store.Users(); err != nil || len(users) != 1 {
		t.Errorf("users after refusing to delete the last one: %v, %v", users, err)
	}

	b.CheckConsole()
}
