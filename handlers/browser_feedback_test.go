package handlers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestBrowserViewsAndFeedback walks the Sessions and Audit Log views as an
// admin and checks the feedback a person gets: a page title per view and
// the favicon, relative times with the exact time on hover, the htmx
// filter that keeps the address, End Session with a confirmation and a
// toast, the request indicator, a toast inside the dialog after a token is
// deleted, and "Copied" on every copy button.
func TestBrowserViewsAndFeedback(t *testing.T) {
	t.Parallel()
	store, base := startBrowserApp(t)
	admin, err := store.UserByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	bob := testkit.CreateMember(t, store, "bob")
	if _, _, err := store.CreateSession(bob.ID, "203.0.113.9", "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0", model.ActorFor(bob, ""), "password"); err != nil {
		t.Fatal(err)
	}
	_, tok, err := store.CreateToken(admin.ID, model.NewToken{ExpiresAt: time.Now().AddDate(0, 2, 1)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, base)
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot("feedback-failure.png")
		}
	})
	if err := (proto.BrowserGrantPermissions{Origin: base,
		Permissions: []proto.BrowserPermissionType{proto.BrowserPermissionTypeClipboardReadWrite, proto.BrowserPermissionTypeClipboardSanitizedWrite},
	}).Call(b.Page.Browser()); err != nil {
		t.Fatalf("clipboard permission: %v", err)
	}
	b.Navigate("/login")
	b.Login("admin", testkit.AdminPassword)
	title := func(want string) {
		t.Helper()
		b.WaitJS("the title "+want, `(want) => document.title === want`, want)
	}
	title("Users · Gatehouse")
	icon := b.Eval(`async () => { const l = document.querySelector('link[rel=icon]'); const r = await fetch(l.href); return l.getAttribute("type") + " " + r.status + " " + r.headers.get("content-type") + " " + (await r.text()).slice(0, 4) }`)
	if icon != "image/svg+xml 200 image/svg+xml <svg" {
		t.Errorf("favicon: %s", icon)
	}

	// Sessions: both users, relative times with the exact one on hover.
	b.SubmitPage("[data-testid=nav-sessions]")
	title("Sessions · Gatehouse")
	b.WaitText("#session-view table", "bob")
	b.WaitJS("relative times", `() => [...document.querySelectorAll("#session-view time")].every(t =>
		t.hasAttribute("data-relative") && /^(just now|\d+ \w+ ago|\w+ ago|yesterday)$/.test(t.textContent) && t.title !== "" && !t.title.includes("ago"))`)
	b.Screenshot("sessions-view.png")

	// The filter by htmx: the address follows, the table is filtered.
	b.Fill("#session-filter-user", "bob")
	b.Click("#session-view form.filters button[type=submit]")
	b.WaitJS("the filtered address", `() => location.search === "?user=bob"`)
	b.WaitJS("only bob's session", `() => document.querySelectorAll("#session-view tr[data-session-id]").length === 1`)
	// A bad filter: the message at the field, the field marked.
	b.FillExactly("#session-filter-user", "nobody")
	b.Click("#session-view form.filters button[type=submit]")
	b.WaitSwappedText(`#session-view .field-error[data-field=user]`, `there is no user named "nobody"`)
	b.WaitJS("the field marked", `() => document.querySelector("#session-filter-user").getAttribute("aria-invalid") === "true"`)
	b.FillExactly("#session-filter-user", "bob")
	b.Click("#session-view form.filters button[type=submit]")
	b.WaitJS("only bob's session", `() => document.querySelectorAll("#session-view tr[data-session-id]").length === 1`)

	// End Session: asked first, then the row goes and a toast says so,
	// with the request indicator on while it runs.
	b.Eval(`() => { window.ghBusy = []; document.addEventListener("htmx:beforeSend", e =>
		window.ghBusy.push(e.detail.elt.getAttribute("aria-busy") + " " + document.documentElement.classList.contains("gh-busy"))); return "" }`)
	b.ConfirmClick("#session-view [data-testid=end-session]", "End this session of bob?")
	b.WaitSwappedText("#toast", "Session of bob ended.")
	b.WaitText("#session-view [data-testid=no-sessions]", "bob has no open sessions")
	// The end, then the view reloading itself: each with the indicator.
	if got := b.Eval(`() => window.ghBusy.join(",")`); !strings.HasPrefix(got, "true true") || strings.Contains(got, "false") {
		t.Errorf("request indicator while ending: %q, want aria-busy and the bar", got)
	}
	b.WaitJS("the toast to go after a few seconds", `() => document.querySelector("#toast").hidden`)
	if live, _ := store.LiveSessions(bob.ID, model.SessionPolicy{Idle: time.Hour, Max: time.Hour}); len(live) != 0 {
		t.Errorf("bob's session was not ended: %v", live)
	}

	// Audit Log: the filter, its address, the export links.
	b.SubmitPage("[data-testid=nav-audit]")
	title("Audit Log · Gatehouse")
	b.WaitText("#audit-view table", "session.ended")
	b.Fill("#audit-filter-event", "session.ended")
	b.Click("#audit-view form.filters button[type=submit]")
	b.WaitJS("the filtered address", `() => location.search === "?event=session.ended"`)
	b.WaitJS("only session.ended", `() => [...document.querySelectorAll("#audit-view [data-testid=audit-event]")].every(e => e.innerText.startsWith("session.ended"))`)
	if csv := b.Eval(`async () => { const a = document.querySelector("[data-testid=export-csv]"); const r = await fetch(a.href); return r.headers.get("content-disposition") + "\n" + await r.text() }`); !strings.HasPrefix(csv, "attachment;") || strings.Count(strings.TrimSpace(csv), "\n") != 2 || !strings.Contains(csv, "session.ended") {
		t.Errorf("CSV export of the filter:\n%s", csv)
	}
	b.Screenshot("audit-view.png")

	// Access Tokens dialog: the expiry in relative time, the toast inside
	// the open dialog after the delete.
	b.SubmitPage("a.tab[href='/settings/users']")
	b.Click(fmt.Sprintf(`#user-%d [data-testid=access-tokens]`, admin.ID))
	b.WaitJS("the Access Tokens dialog to open", `() => document.getElementById("dialog").open`)
	row := fmt.Sprintf("#token-%s", tok.ID)
	b.WaitJS("the expiry in relative time", `(row) => { const t = document.querySelectorAll(row + " time")[1]; return !!t && t.textContent === "in 2 months" && t.title !== "" }`, row)
	b.ConfirmClick(row+" [data-testid=delete]", tok.ID)
	b.WaitSwappedText("#dialog #toast", "Token "+tok.ID+" deleted.")
	b.WaitSwappedText("#tokens [data-testid=no-tokens]", "create one below to call the API")

	// Every copy button says Copied, then its label again.
	b.Navigate(fmt.Sprintf("/settings/users/%d/2fa", admin.ID))
	n := b.Eval(`() => String(document.querySelectorAll("[data-copy]").length)`)
	if n != "2" {
		t.Errorf("%s copy buttons in the 2FA enrolment, want 2 (setup URL and secret)", n)
	}
	for _, sel := range []string{`[data-copy="#otpauth-url"]`, `[data-copy="#totp-secret"]`} {
		b.Click(sel)
		b.WaitSwappedText(sel, "Copied")
		b.WaitSwappedText("#toast", "Copied to the clipboard.")
		b.WaitJS(sel+" to say Copy again", `(s) => document.querySelector(s).textContent === "Copy"`, sel)
	}
	b.CheckConsole()
}
