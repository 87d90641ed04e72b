package handlers

import (
	"html"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTokenExpiryTimeZoneWithoutJavaScript: without JavaScript nothing
// tells the server the browser's time zone, so the form must show which
// zone it reads the Expiration Time in, let the person choose another,
// and never guess when no zone was sent.
func TestTokenExpiryTimeZoneWithoutJavaScript(t *testing.T) {
	t.Parallel()
	a := newTokenUIApp(t)
	page := a.Do(t, request{URL: a.expand("/settings/users/{bob}/tokens"), Session: a.sess})
	shown := html.UnescapeString(page.Body)
	for _, want := range []string{`<label for="token-tz">Time zone</label>`, `<select id="token-tz" name="tz_offset"`,
		`<option value="0" selected>UTC</option>`, `<option value="-120">UTC+02:00</option>`, `<option value="300">UTC−05:00</option>`} {
		if !strings.Contains(shown, want) {
			t.Errorf("the form lacks %s", want)
		}
	}
	if strings.Contains(page.Body, `type="hidden" name="tz_offset"`) {
		t.Error("the time zone is a hidden field a person without JavaScript cannot see")
	}
	before := len(a.tokens(t))
	missing := a.Do(t, request{Method: "POST", URL: a.expand("/settings/users/{bob}/tokens"), Session: a.sess, CSRFField: a.sess.CSRF,
		Form: url.Values{"ips": {""}, "expires_at": {"2031-02-03T04:05"}}})
	if missing.Status != 422 || !strings.Contains(missing.Body, `data-field="tz_offset"`) ||
		!strings.Contains(missing.Body, `<select id="token-tz" name="tz_offset" aria-invalid="true"`) {
		t.Errorf("an Expiration Time without a time zone: status %d, want 422 with the Time zone field marked", missing.Status)
	}
	if len(a.tokens(t)) != before {
		t.Fatal("a token was created from a time without a time zone")
	}
	chosen := a.Do(t, request{Method: "POST", URL: a.expand("/settings/users/{bob}/tokens"), Session: a.sess, CSRFField: a.sess.CSRF,
		Form: url.Values{"ips": {""}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"-120"}}})
	if chosen.Status != 201 {
		t.Fatalf("create with UTC+02:00 chosen: status %d", chosen.Status)
	}
	found := false
	for _, tok := range a.tokens(t) {
		found = found || tok.ExpiresAt.Equal(time.Date(2031, 2, 3, 2, 5, 0, 0, time.UTC))
	}
	if !found {
		t.Error("04:05 at UTC+02:00 was not stored as 02:05 UTC")
	}
}
