package handlers_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
)

// TestBrowserSessions: from the user's row, the Sessions dialog shows this
// browser marked and the other sessions with browser, OS and address;
// End Session removes one, Log Out Everywhere Else the rest, and this
// browser stays signed in.
func TestBrowserSessions(t *testing.T) {
	store, base := startBrowserApp(t)
	b := browsertest.New(t, base)
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot("sessions-failure.png")
		}
	})
	admin, err := store.UserByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	_, phone, err := store.CreateSession(admin.ID, "198.51.100.4",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		model.ActorFor(admin, "198.51.100.4"), "password")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.CreateSession(admin.ID, "203.0.113.7", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		model.ActorFor(admin, "203.0.113.7"), "password"); err != nil {
		t.Fatal(err)
	}
	b.Navigate("/login")
	b.Login("admin", "admin-pass-1")

	b.Click(fmt.Sprintf(`#user-%d [data-testid=sessions]`, admin.ID))
	b.WaitJS("the Sessions dialog to open", `() => document.getElementById("dialog").open`)
	b.WaitSwappedText("#sessions h2", "Sessions of admin")
	b.WaitSwappedText("#sessions tr.current", "this session")
	b.WaitSwappedText("#sessions tr.current", "127.0.0.1")
	phoneRow := "#session-" + store.SessionPublicID(phone.ID)
	b.WaitSwappedText(phoneRow, "Safari on iOS")
	b.WaitSwappedText(phoneRow, "198.51.100.4")
	b.WaitSwappedText("#sessions table.sessions", "Firefox on Linux")
	b.Screenshot("sessions-dialog.png")

	b.ConfirmClick(phoneRow+" [data-testid=end-session]", "End this session of admin?")
	b.WaitSwappedText("[data-testid=session-flash]", "Session ended.")
	b.WaitJS("the ended session's row to go", `(s) => !document.querySelector(s)`, phoneRow)
	if ss, _ := store.SessionsOf(admin.ID); len(ss) != 2 {
		t.Fatalf("%d sessions after End Session, want 2", len(ss))
	}

	b.ConfirmClick("[data-testid=end-other-sessions]", "Sign out every other browser")
	b.WaitSwappedText("[data-testid=session-flash]", "1 session ended.")
	b.WaitJS("only this session to be left", `() => document.querySelectorAll("#sessions tbody tr").length === 1 && !!document.querySelector("#sessions tr.current")`)
	ss, _ := store.SessionsOf(admin.ID)
	if len(ss) != 1 || !strings.Contains(ss[0].UserAgent, "Chrome") {
		t.Fatalf("left after Log Out Everywhere Else: %+v", ss)
	}
	b.Navigate("/settings/users")
	if u := b.URL(); strings.Contains(u, "/login") {
		t.Fatalf("this browser was signed out: %s", u)
	}
}
