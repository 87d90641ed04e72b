package handlers

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// userRowHTML returns the <tr> of user id in a User tab answer.
func userRowHTML(t *testing.T, body string, id int) string {
	t.Helper()
	start := strings.Index(body, fmt.Sprintf(`<tr id="user-%d"`, id))
	if start < 0 {
		t.Fatalf("no row of user %d in %s", id, trimBody(body))
	}
	end := strings.Index(body[start:], "</tr>")
	return body[start : start+end]
}

// TestUserListLastLoginAndPasswordAge: the User tab shows each user's last
// login ("Never" until the first) and password age, as readable text with
// the exact time in the <time> element, and marks passwords older than
// 180 days and accounts unused for 90 days.
func TestUserListLastLoginAndPasswordAge(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	day := 24 * time.Hour
	old := testkit.AddUser(t, ta.Store, "old") // day 0, never signs in
	seen := testkit.AddUser(t, ta.Store, "seen")
	ta.Clock.Advance(95 * day)
	ta.Session(t, seen) // signs in on day 95
	ta.Clock.Advance(5 * day)
	newbie := testkit.AddUser(t, ta.Store, "newbie")
	if err := ta.Store.SetPassword(context.Background(), seen.ID, "seen-pass-100", "", model.CLIActor); err != nil {
		t.Fatal(err)
	}
	ta.Clock.Advance(89 * day) // day 189
	s := ta.Session(t, ta.Admin)
	r := ta.Do(t, request{URL: "/settings/users", Session: s})
	wantAnswer(t, r, 200, "<th>Last Login</th>", "<th>Password Age</th>")

	for _, c := range []struct {
		name       string
		id         int
		want, not  []string
		passwordAt time.Time
	}{
		{"old", old.ID, []string{"Never", "189 days<", `data-testid="unused"`, `data-testid="password-old"`, "More than 90 days", "Older than 180 days"}, nil,
			old.CreatedAt},
		{"seen", seen.ID, []string{"94 days ago<", "89 days<", `data-testid="unused"`}, []string{`data-testid="password-old"`, "Never"},
			time.Time{}},
		{"newbie", newbie.ID, []string{"Never", "89 days<"}, []string{`data-testid="unused"`, `data-testid="password-old"`},
			newbie.CreatedAt},
		{"admin", ta.Admin.ID, []string{"just now<", "189 days<", `data-testid="password-old"`}, []string{`data-testid="unused"`, "Never"},
			ta.Admin.CreatedAt},
	} {
		row := userRowHTML(t, r.Body, c.id)
		for _, w := range c.want {
			if !strings.Contains(strings.ReplaceAll(row, "No sign-in for more", "More"), w) {
				t.Errorf("%s: row lacks %q:\n%s", c.name, w, row)
			}
		}
		for _, w := range c.not {
			if strings.Contains(row, w) {
				t.Errorf("%s: row has %q:\n%s", c.name, w, row)
			}
		}
		if !c.passwordAt.IsZero() {
			at := c.passwordAt.UTC()
			if want := fmt.Sprintf(`<time data-age datetime="%s" title="Set %s">`, at.Format(time.RFC3339), at.Format("2006-01-02 15:04 UTC")); !strings.Contains(row, want) {
				t.Errorf("%s: password age without its exact time %s:\n%s", c.name, want, row)
			}
		}
	}
	u := reloadUser(t, ta, seen.ID)
	row := userRowHTML(t, r.Body, seen.ID)
	if want := fmt.Sprintf(`<time datetime="%s" title="%s">94 days ago</time>`, u.LastLoginAt.UTC().Format(time.RFC3339),
		u.LastLoginAt.UTC().Format("2006-01-02 15:04 UTC")); !strings.Contains(row, want) {
		t.Errorf("last login: want %s in\n%s", want, row)
	}

	// The inline edit row keeps the columns in step with the header.
	r = ta.Do(t, request{URL: fmt.Sprintf("/settings/users/%d/edit?field=email", newbie.ID), Session: s, HTMX: true})
	wantAnswer(t, r, 200, `data-testid="last-login" data-label="Last Login">Never`, `data-testid="password-age"`)
}

// TestTwoFactorHint: a signed-in user without 2FA sees a hint with a link
// that opens their 2FA dialog; with 2FA on, the hint is gone.
func TestTwoFactorHint(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	bob := testkit.CreateMember(t, ta.Store, "bob")
	for _, c := range []struct {
		u    model.User
		htmx bool
	}{{ta.Admin, false}, {bob, false}, {bob, true}} {
		r := ta.Do(t, request{URL: "/settings/users", Session: ta.Session(t, c.u), HTMX: c.htmx})
		wantAnswer(t, r, 200, `data-testid="twofactor-hint"`, "Your account has no two-factor authentication.",
			fmt.Sprintf(`hx-get="/settings/users/%d/2fa"`, c.u.ID), "Turn on 2FA")
	}
	testkit.EnableTwoFactor(t, ta.Store, bob)
	r := ta.Do(t, request{URL: "/settings/users", Session: ta.Session(t, reloadUser(t, ta, bob.ID))})
	wantAnswer(t, r, 200, `<tr id="user-`)
	if strings.Contains(r.Body, "twofactor-hint") {
		t.Error("the 2FA hint is shown to a user with 2FA")
	}
}

// TestSecurityPage: admins get the Security summary with its counts,
// names and a link to act on each finding; members get 403 and no link
// in the navigation.
func TestSecurityPage(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	day := 24 * time.Hour
	bob := testkit.CreateMember(t, ta.Store, "bob")
	carol := testkit.AddUser(t, ta.Store, "carol")
	testkit.EnableTwoFactor(t, ta.Store, carol)
	ta.Clock.Advance(200 * day)
	_, open := ta.Token(t, bob)
	_, far, err := func() (string, model.Token, error) {
		return ta.Store.CreateToken(carol.ID, model.NewToken{IPs: []string{"192.0.2.0/24"}, ExpiresAt: ta.Clock.Now().Add(400 * day)}, model.CLIActor)
	}()
	if err != nil {
		t.Fatal(err)
	}
	if err := ta.Store.SetPassword(context.Background(), carol.ID, "carol-pass-200", "", model.CLIActor); err != nil {
		t.Fatal(err)
	}
	s := ta.Session(t, ta.Admin)

	r := ta.Do(t, request{URL: "/settings/users", Session: s})
	wantAnswer(t, r, 200, `href="/settings/security"`, `data-testid="nav-security"`)
	r = ta.Do(t, request{URL: "/settings/security", Session: s})
	wantAnswer(t, r, 200, "<title>Security · Gatehouse</title>", "<h1>Security</h1>",
		"Without two-factor authentication: 2", "Passwords older than 180 days: 2", "Unused for 90 days: 2",
		"Access tokens without an IP White List: 1", "Access tokens expiring more than a year from now: 1",
		// admin: own 2FA dialog; bob: only he can, so his row.
		`hx-get="/settings/users/1/2fa"`, fmt.Sprintf(`href="/settings/users#user-%d"`, bob.ID),
		fmt.Sprintf(`hx-get="/settings/users/%d/password"`, bob.ID),
		fmt.Sprintf(`hx-get="/settings/users/%d/tokens"`, bob.ID), open.ID,
		fmt.Sprintf(`hx-get="/settings/users/%d/tokens"`, carol.ID), far.ID)
	sec := func(name string) string {
		i := strings.Index(r.Body, `data-testid="security-`+name+`"`)
		j := strings.Index(r.Body[i:], "</section>")
		return r.Body[i : i+j]
	}
	for _, c := range []struct {
		section   string
		want, not []string
	}{
		{"twofactor", []string{"admin", "bob"}, []string{"carol"}},
		{"passwords", []string{"admin", "bob"}, []string{"carol"}},
		{"unused", []string{"bob", "carol"}, []string{">admin<"}}, // admin signed in just now
		{"open-tokens", []string{"bob", open.ID}, []string{"carol"}},
		{"far-tokens", []string{"carol", far.ID}, []string{"bob"}},
	} {
		body := sec(c.section)
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q:\n%s", c.section, w, body)
			}
		}
		for _, w := range c.not {
			if strings.Contains(body, w) {
				t.Errorf("%s has %q:\n%s", c.section, w, body)
			}
		}
	}

	// htmx refreshes the summary after a change: the page without the layout.
	r = ta.Do(t, request{URL: "/settings/security", Session: s, HTMX: true})
	wantAnswer(t, r, 200, `id="security"`, `hx-trigger="gh-users-changed from:body, close from:#dialog"`, "Without two-factor authentication: 2")
	if strings.Contains(r.Body, "<html") {
		t.Error("the htmx answer carries the layout")
	}

	m := ta.Session(t, bob)
	wantAnswer(t, ta.Do(t, request{URL: "/settings/security", Session: m}), 403)
	wantAnswer(t, ta.Do(t, request{URL: "/settings/security", Session: m, HTMX: true}), 403)
	r = ta.Do(t, request{URL: "/settings/users", Session: m})
	if strings.Contains(r.Body, "/settings/security") {
		t.Error("a member's navigation links to the Security page")
	}
	wantAnswer(t, ta.Do(t, request{URL: "/settings/security"}), 303)
}

// TestSecurityPageClear: with nothing to act on, the page says so.
func TestSecurityPageClear(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	testkit.EnableTwoFactor(t, ta.Store, ta.Admin)
	r := ta.Do(t, request{URL: "/settings/security", Session: ta.Session(t, reloadUser(t, ta, ta.Admin.ID))})
	wantAnswer(t, r, 200, `data-testid="security-clear"`, "Nothing to act on.", "Without two-factor authentication: 0")
}

// TestPasswordRuleFields: every field where a new password is chosen
// carries the rule's numbers from the model (for app.js) and its text.
func TestPasswordRuleFields(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	rule := fmt.Sprintf(`data-min-len="%d" data-max-len="%d" data-min-classes="%d"`, model.PasswordMinLen, model.PasswordMaxLen, model.PasswordMinClasses)
	text := fmt.Sprintf("%d–%d characters with at least two of: letters, digits, special characters.", model.PasswordMinLen, model.PasswordMaxLen)
	for _, c := range []struct{ url, id string }{
		{"/settings/users/new", "new-password"},
		{"/settings/users/1/password", "change-password"},
	} {
		for _, htmx := range []bool{false, true} {
			r := ta.Do(t, request{URL: c.url, Session: s, HTMX: htmx})
			wantAnswer(t, r, 200, rule, text, `id="`+c.id+`-rule"`, `aria-describedby="`+c.id+`-rule"`,
				`data-password-input="`+c.id+`-rule"`, `aria-live="polite" data-testid="password-rule-parts" hidden`,
				fmt.Sprintf(`minlength="%d" maxlength="%d"`, model.PasswordMinLen, model.PasswordMaxLen))
		}
	}
	// A refused password keeps the rule under the field.
	r := ta.Do(t, request{Method: "PUT", URL: "/settings/users/1/password", Session: s, CSRF: true, HTMX: true,
		Form: url.Values{"password": {"abcdefgh"}}})
	wantAnswer(t, r, 422, "password must mix at least two of", rule)
}
