package handlers

import (
	"net/url"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
)

// TestTokenDialogScope: the dialog proposes read for a new token, shows
// each token's scope and creator, creates with the chosen scope (read when
// a plain form sends none) and the signed-in user as creator, and Modify
// changes the scope at once (the next API call sees it) or keeps it when
// the form sends none.
func TestTokenDialogScope(t *testing.T) {
	t.Parallel()
	created := func(t *testing.T, a *tokenUIApp, r *response) model.Token {
		t.Helper()
		m := tokenValueInPage.FindStringSubmatch(r.Body)
		if m == nil {
			t.Fatal("no token value in the page")
		}
		tok, _, err := a.Store.TokenByValue(m[1])
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	runScenarios(t, newTokenUIApp, []scenario[*tokenUIApp]{
		{Name: "create form proposes read; list shows scope and creator", Method: "GET", URL: "/settings/users/{bob}/tokens", Session: true,
			Unchanged: true, HTMX: true, WantStatus: 200,
			Want: []string{"<th>Scope</th>", "<th>Created By</th>", `<td data-testid="scope">Read and write</td>`, `<td data-testid="created-by">CLI</td>`,
				`value="read" data-testid="scope-read" checked`, `value="write" data-testid="scope-write">`}},
		{Name: "create read by default", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, HTMX: true,
			Form: url.Values{"scope": {"read"}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"0"}}, WantStatus: 201, Changed: true,
			Want: []string{`<td data-testid="scope">Read only</td>`, `<td data-testid="created-by">admin</td>`},
			After: func(t *testing.T, a *tokenUIApp, r *response) {
				tok := created(t, a, r)
				if tok.Scope != model.TokenScopeRead || tok.CreatedBy != a.Admin.ID {
					t.Errorf("stored scope %q created by %d", tok.Scope, tok.CreatedBy)
				}
			}},
		{Name: "plain form without a scope creates read", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true,
			Form: url.Values{"expires_at": {"2031-02-03T04:05"}, "tz_offset": {"0"}}, WantStatus: 201, Changed: true,
			After: func(t *testing.T, a *tokenUIApp, r *response) {
				if tok := created(t, a, r); tok.Scope != model.TokenScopeRead {
					t.Errorf("stored scope %q", tok.Scope)
				}
			}},
		{Name: "create write", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, HTMX: true,
			Form: url.Values{"scope": {"write"}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"0"}}, WantStatus: 201, Changed: true,
			After: func(t *testing.T, a *tokenUIApp, r *response) {
				if tok := created(t, a, r); tok.Scope != model.TokenScopeWrite {
					t.Errorf("stored scope %q", tok.Scope)
				}
			}},
		{Name: "create: bad scope saves nothing", Method: "POST", URL: "/settings/users/{bob}/tokens", Session: true, HTMX: true, Unchanged: true,
			Form: url.Values{"scope": {"admin"}, "expires_at": {"2031-02-03T04:05"}, "tz_offset": {"0"}}, WantStatus: 422,
			Want: []string{`data-field="scope">scope must be read or write`}},
		{Name: "modify form shows the scope", Method: "GET", URL: "/settings/users/{bob}/tokens/{tid}/edit", Session: true, Unchanged: true, HTMX: true,
			WantStatus: 200, Want: []string{`value="write" data-testid="scope-write" checked`}, NotWant: []string{`data-testid="scope-read" checked`}},
		{Name: "modify to read takes effect at once", Method: "PUT", URL: "/settings/users/{bob}/tokens/{tid}", Session: true, HTMX: true, Changed: true,
			Setup: func(t *testing.T, a *tokenUIApp) {
				// Cached by a lookup before the change.
				wantAnswer(t, a.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: a.value, ClientIP: "192.0.2.1"}), 200)
			},
			MakeForm: func(a *tokenUIApp) url.Values {
				return url.Values{"ips": {"192.0.2.0/24"}, "scope": {"read"}, "expires_at": {a.tok.ExpiresAt.UTC().Format(localLayout)}, "tz_offset": {"0"}}
			},
			WantStatus: 200, Want: []string{"modified.", `<td data-testid="scope">Read only</td>`},
			After: func(t *testing.T, a *tokenUIApp, r *response) {
				wantAnswer(t, a.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: a.value, ClientIP: "192.0.2.1"}), 200)
				wantAnswer(t, a.Do(t, request{Method: "DELETE", URL: a.expand("/api/v1/users/{bob}/tokens/{tid}"), Token: a.value, ClientIP: "192.0.2.1"}),
					403, "read-only")
				if got := a.tokens(t)[0]; got.Scope != model.TokenScopeRead || !got.ExpiresAt.Equal(a.tok.ExpiresAt) {
					t.Errorf("stored %q %v", got.Scope, got.ExpiresAt)
				}
			}},
		{Name: "modify without a scope keeps it", Method: "POST", URL: "/settings/users/{bob}/tokens/{tid}", Session: true, Changed: true,
			Form: url.Values{"ips": {""}, "expires_at": {"2030-06-01T12:00"}, "tz_offset": {"0"}}, WantStatus: 200,
			After: func(t *testing.T, a *tokenUIApp, r *response) {
				if got := a.tokens(t)[0]; got.Scope != model.TokenScopeWrite {
					t.Errorf("stored scope %q", got.Scope)
				}
			}},
	})
}
