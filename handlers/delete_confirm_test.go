package handlers

import (
	"net/url"
	"strings"
	"testing"
)

// TestDeleteConfirmPages: Delete of a token or a passkey, and End Session,
// are GET forms to a confirmation page without JavaScript (htmx asks with
// hx-confirm and sends the change itself): the page names what goes,
// changes nothing, and its form posts to the delete route with the CSRF
// field.
func TestDeleteConfirmPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addPasskey(t, f)
	addSession(t, f)
	sess := f.ta.Session(t, f.ta.Admin)
	for _, c := range []struct{ dialog, page, want, action string }{
		{"/settings/users/{bob}/tokens", "/settings/users/{bob}/tokens/{tid}/delete", "Delete token <code>{tid}</code> of <strong>bob</strong>?",
			`action="/settings/users/{bob}/tokens/{tid}/delete"`},
		{"/settings/users/{bob}/passkeys", "/settings/users/{bob}/passkeys/{pid}/delete", "Delete the passkey <strong>laptop</strong> of <strong>bob</strong>?",
			`action="/settings/users/{bob}/passkeys/{pid}/delete"`},
		{"/settings/users/{bob}/sessions", "/settings/users/{bob}/sessions/{sid}/delete", "End the session of <strong>bob</strong> in",
			`action="/settings/users/{bob}/sessions/{sid}/delete"`},
	} {
		before := f.ta.Snapshot(t)
		d := f.ta.Do(t, request{URL: f.expand(c.dialog), Session: sess, HTMX: true})
		if want := `<form method="get" action="` + f.expand(c.page) + `"`; !strings.Contains(d.Body, want) {
			t.Errorf("%s: the Delete form is not %s", c.dialog, want)
		}
		if !strings.Contains(d.Body, "hx-confirm=") {
			t.Errorf("%s: the Delete form does not ask with hx-confirm", c.dialog)
		}
		r := f.ta.Do(t, request{URL: f.expand(c.page), Session: sess})
		if r.Status != 200 || !strings.Contains(r.Body, f.expand(c.want)) || !strings.Contains(r.Body, `<form method="post" `+f.expand(c.action)) ||
			!strings.Contains(r.Body, `name="_csrf" value="`+sess.CSRF+`"`) {
			t.Errorf("GET %s: status %d, want 200 with %q and a POST form\n%s", c.page, r.Status, f.expand(c.want), r.Body)
		}
		if f.ta.Snapshot(t) != before {
			t.Errorf("GET %s changed something", c.page)
		}
	}
	if r := f.ta.Do(t, request{URL: f.expand("/settings/users/{bob}/tokens/nope/delete"), Session: sess}); r.Status != 404 {
		t.Errorf("unknown token: %d", r.Status)
	}
	if r := f.ta.Do(t, request{URL: f.expand("/settings/users/{bob}/passkeys/nope/delete"), Session: sess}); r.Status != 404 {
		t.Errorf("unknown passkey: %d", r.Status)
	}
	if r := f.ta.Do(t, request{URL: f.expand("/settings/users/{bob}/sessions/0123456789abcdef0123/delete"), Session: sess}); r.Status != 404 ||
		!strings.Contains(r.Body, "already ended") {
		t.Errorf("unknown session: %d", r.Status)
	}
	// From the Sessions view: the view's address goes along, and only it.
	for back, want := range map[string]string{"/settings/sessions?user=bob": `name="back" value="/settings/sessions?user=bob"`,
		"https://evil.example/": `href="/settings/users/` + f.expand("{bob}") + `/sessions" data-testid="cancel-end"`} {
		r := f.ta.Do(t, request{URL: f.expand("/settings/users/{bob}/sessions/{sid}/delete") + "?back=" + url.QueryEscape(back), Session: sess})
		if !strings.Contains(r.Body, want) || strings.Contains(r.Body, "evil") {
			t.Errorf("back %q: the page lacks %s", back, want)
		}
	}
}
