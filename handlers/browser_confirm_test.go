package handlers_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestBrowserTokenDeleteAsksWithoutJavaScript: with JavaScript off, Delete
// in the Access Tokens page must not delete at once: it opens a
// confirmation page naming the token, whose Cancel keeps it and whose
// Delete Token deletes it.
func TestBrowserTokenDeleteAsksWithoutJavaScript(t *testing.T) {
	t.Parallel()
	store, base := startBrowserApp(t)
	admin, err := store.UserByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	_, tok, err := store.CreateToken(admin.ID, model.NewToken{ExpiresAt: time.Now().Add(24 * time.Hour)}, model.CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, base)
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot("token-delete-nojs-failure.png")
		}
	})
	b.Navigate("/login")
	b.Login("admin", testkit.AdminPassword)
	withoutScripts(t, b)
	tokens := fmt.Sprintf("/settings/users/%d/tokens", admin.ID)
	b.Navigate(tokens)
	row := fmt.Sprintf("#token-%s", tok.ID)
	b.SubmitPage(row + " [data-testid=delete]")
	b.WaitText("main h1", "Delete Token")
	b.WaitText("main", tok.ID)
	if _, err := store.Token(admin.ID, tok.ID); err != nil {
		t.Fatalf("Delete without JavaScript deleted the token without asking: %v", err)
	}
	b.SubmitPage("main [data-testid=cancel-delete]")
	b.El(row)
	b.SubmitPage(row + " [data-testid=delete]")
	b.SubmitPage("main [data-testid=confirm-delete]")
	b.WaitText("#tokens [data-testid=token-flash]", "deleted")
	if _, err := store.Token(admin.ID, tok.ID); err == nil {
		t.Fatal("the confirmed Delete kept the token")
	}
}

// withoutScripts keeps every script of the panel from loading (rod itself
// needs the page's script engine, so it stays on): the pages are what a
// browser without JavaScript gets.
func withoutScripts(t *testing.T, b *browsertest.UI) {
	t.Helper()
	if err := (proto.NetworkEnable{}).Call(b.Page); err != nil {
		t.Fatal(err)
	}
	if err := (proto.NetworkSetBlockedURLs{Urls: []string{"*.js"}}).Call(b.Page); err != nil {
		t.Fatalf("block the scripts: %v", err)
	}
}

// TestBrowserSessionEndAsksWithoutJavaScript: with JavaScript off, End
// Session in the Sessions view opens a confirmation page; confirmed, the
// session ends and the view comes back with its filter.
func TestBrowserSessionEndAsksWithoutJavaScript(t *testing.T) {
	t.Parallel()
	store, base := startBrowserApp(t)
	bob := testkit.CreateMember(t, store, "bob")
	if _, _, err := store.CreateSession(bob.ID, "203.0.113.9", "curl/8.0", model.ActorFor(bob, ""), "password"); err != nil {
		t.Fatal(err)
	}
	b := browsertest.New(t, base)
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot("session-end-nojs-failure.png")
		}
	})
	b.Navigate("/login")
	b.Login("admin", testkit.AdminPassword)
	withoutScripts(t, b)
	b.Navigate("/settings/sessions?user=bob")
	b.SubmitPage("#session-view [data-testid=end-session]")
	b.WaitText("main h1", "End Session")
	b.WaitText("main", "End the session of bob in curl")
	if live, _ := store.LiveSessionsOf(bob.ID, model.SessionPolicy{Idle: time.Hour, Max: time.Hour}); len(live) != 1 {
		t.Fatal("End Session without JavaScript ended the session without asking")
	}
	b.SubmitPage("main [data-testid=confirm-end]")
	b.WaitText("#session-view [data-testid=no-sessions]", "bob has no open sessions")
	if u := b.URL(); u != base+"/settings/sessions?user=bob" {
		t.Errorf("back at %s, want the view with its filter", u)
	}
}
