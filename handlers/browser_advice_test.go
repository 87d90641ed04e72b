package handlers_test

import (
	"fmt"
	"testing"

	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
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
