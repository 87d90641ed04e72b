package handlers

import (
	"encoding/json"
	"net/url"
	"strconv"
	"testing"
)

// TestToasts: saves and deletes sent by htmx answer with the toast's
// message in HX-Trigger (JSON, ASCII only, the other events kept); plain
// forms get none, their next page says what happened.
func TestToasts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	addPasskey(t, f)
	sess := f.ta.Session(t, f.ta.Admin)
	for _, c := range []struct {
		name, method, url string
		form              url.Values
		toast             string
		others            []string
	}{
		{"token created", "POST", "/settings/users/{bob}/tokens", url.Values{"expires_at": {"2031-01-01T00:00"}, "tz_offset": {"0"}}, "Token * created.", nil},
		{"token modified", "PUT", "/settings/users/{bob}/tokens/{tid}", url.Values{"ips": {""}, "expires_at": {"2031-01-01T00:00"}, "tz_offset": {"0"}}, "Token {tid} modified.", nil},
		{"token deleted", "DELETE", "/settings/users/{bob}/tokens/{tid}", nil, "Token {tid} deleted.", nil},
		{"passkey deleted", "POST", "/settings/users/{bob}/passkeys/{pid}/delete", nil, "Passkey laptop deleted.", []string{"gh-users-changed"}},
		{"user saved", "PUT", "/settings/users/{bob}", url.Values{"email": {"bobby@example.com"}}, "Saved.", nil},
		{"user created", "POST", "/settings/users", url.Values{"username": {"dora"}, "password": {"horse-battery1"}, "email": {"dora@example.com"}}, "User dora created.", []string{"gh-dialog-close"}},
		{"user deleted", "DELETE", "/settings/users/{bob}", nil, "User bob deleted.", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.ta.Do(t, request{Method: c.method, URL: f.expand(c.url), Session: sess, CSRF: true, HTMX: true, Form: c.form})
			if r.Status >= 300 {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			raw := r.Header.Get("HX-Trigger")
			for _, b := range []byte(raw) {
				if b >= 0x80 {
					t.Fatalf("HX-Trigger %q is not ASCII", raw)
				}
			}
			var m map[string]string
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				t.Fatalf("HX-Trigger %q: %v", raw, err)
			}
			want := f.expand(c.toast)
			if got := m[toastEvent]; got != want && !(want == "Token * created." && len(got) > 15) {
				t.Errorf("toast %q, want %q", got, want)
			}
			for _, e := range c.others {
				if _, ok := m[e]; !ok {
					t.Errorf("the event %s was lost: %q", e, raw)
				}
			}
		})
	}
	t.Run("plain form", func(t *testing.T) {
		r := f.ta.Do(t, request{Method: "POST", URL: "/settings/users/" + strconv.Itoa(f.ta.Admin.ID) + "/tokens", Session: sess, CSRFField: sess.CSRF,
			Form: url.Values{"expires_at": {"2031-01-01T00:00"}, "tz_offset": {"0"}}})
		if r.Status != 201 || r.Header.Get("HX-Trigger") != "" {
			t.Errorf("status %d, HX-Trigger %q", r.Status, r.Header.Get("HX-Trigger"))
		}
	})
	t.Run("non-ASCII escaped", func(t *testing.T) {
		if got := asciiJSON("{\"gh-toast\":\"Passkey caf\u00e9 \U0001F511 deleted…\"}"); got != `{"gh-toast":"Passkey caf\u00e9 \ud83d\udd11 deleted\u2026"}` {
			t.Errorf("asciiJSON = %s", got)
		}
		var m map[string]string
		if err := json.Unmarshal([]byte(asciiJSON(`{"a":"café 🔑"}`)), &m); err != nil || m["a"] != "café 🔑" {
			t.Errorf("round trip: %q %v", m["a"], err)
		}
	})
}
