package handlers

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

func TestUserList(t *testing.T) {
	t.Parallel()
	vary := map[string]string{"Vary": "HX-Request"}
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "full page", Method: "GET", URL: "/settings/users", Session: true, Setup: addBob, WantStatus: 200, WantHeaders: vary,
			Want: []string{"<!doctype html>", "<h1>Users</h1>", "Create User", `id="users"`,
				`<tr id="user-1"`, "admin@example.com", `<tr id="user-2"`, "bob@example.com",
				"Change Password", "Delete User", "2FA", ">Off</span>",
				`<span class="badge">you</span>`, `id="flash"`},
			After: func(t *testing.T, ta *testApp, r *response) {
				if created := ta.Clock.Now().Format("2006-01-02 15:04 UTC"); !strings.Contains(r.Body, created) {
					t.Errorf("creation time %s not shown", created)
				}
			}},
		{Name: "htmx fragment", Method: "GET", URL: "/settings/users", HTMX: true, Session: true, Setup: addBob, WantStatus: 200, WantHeaders: vary,
			Want:    []string{`<div id="users"`, `<tr id="user-2"`, "bob@example.com"},
			NotWant: []string{"<!doctype html>", "<html", "Signed in as"}},
		{Name: "history restore wants the page", Method: "GET", URL: "/settings/users", HTMX: true, Session: true,
			Headers: map[string]string{"HX-History-Restore-Request": "true"}, WantStatus: 200, WantHeaders: vary,
			Want: []string{"<!doctype html>", `<div id="users"`}},
	})
}

func TestUserNew(t *testing.T) {
	t.Parallel()
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "page", Method: "GET", URL: "/settings/users/new", Session: true, WantStatus: 200,
			Want: []string{"<!doctype html>", `id="create-user-form"`, `name="username"`, `name="password"`, `name="email"`, `name="_csrf"`}},
		{Name: "dialog fragment", Method: "GET", URL: "/settings/users/new", HTMX: true, Session: true, WantStatus: 200,
			Want: []string{`id="create-user-form"`, `hx-post="/settings/users"`}, NotWant: []string{"<!doctype html>"}},
	})
}

func TestUserCreate(t *testing.T) {
	t.Parallel()
	form := func(username, password, email string) url.Values {
		return url.Values{"username": {username}, "password": {password}, "email": {email}}
	}
	good := form("carol", "carol-pass-1", "carol@example.com")
	created := func(t *testing.T, ta *testApp, r *response) {
		u := storedUser(t, ta, "carol")
		if u.Email != "carol@example.com" || !passwordWorks(t, ta, "carol", "carol-pass-1") {
			t.Errorf("stored user = %+v", u)
		}
	}
	invalid := func(field, msg string) []string {
		return []string{`data-field="` + field + `">` + msg}
	}
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "plain success", Method: "POST", URL: "/settings/users", Form: good, Session: true, CSRF: "field",
			WantStatus: 303, WantHeaders: map[string]string{"Location": "/settings/users"}, After: created},
		{Name: "htmx success", Method: "POST", URL: "/settings/users", Form: good, Session: true, HTMX: true,
			WantStatus:  201,
			WantHeaders: map[string]string{"HX-Trigger": "gh-dialog-close", "HX-Retarget": "#users", "HX-Reswap": "outerHTML"},
			Want:        []string{`<div id="users"`, `<tr id="user-2" data-username="carol"`, "User carol created.", "carol@example.com"},
			NotWant:     []string{"carol-pass-1", "<!doctype html>"}, After: created},
		{Name: "bad username", Method: "POST", URL: "/settings/users", Form: form("ab", "carol-pass-1", "carol@example.com"),
			Session: true, HTMX: true, WantStatus: 422, Unchanged: true,
			Want: append(invalid("username", "username must be 3 to 32 characters long"),
				`value="ab"`, `value="carol@example.com"`, `aria-invalid="true"`),
			NotWant: []string{"carol-pass-1", `data-field="password"`, `data-field="email"`}},
		{Name: "username with space", Method: "POST", URL: "/settings/users", Form: form("car ol", "carol-pass-1", "carol@example.com"),
			Session: true, HTMX: true, WantStatus: 422, Unchanged: true,
			Want: invalid("username", "username may contain only letters a-z, digits, &#39;_&#39; and &#39;-&#39;")},
		{Name: "short password", Method: "POST", URL: "/settings/users", Form: form("carol", "a1b2c3d", "carol@example.com"),
			Session: true, HTMX: true, WantStatus: 422, Unchanged: true,
			Want:    append(invalid("password", "password must be 8 to 20 characters long"), `value="carol"`),
			NotWant: []string{"a1b2c3d"}},
		{Name: "one class password", Method: "POST", URL: "/settings/users", Form: form("carol", "abcdefghij", "carol@example.com"),
			Session: true, HTMX: true, WantStatus: 422, Unchanged: true,
			Want: invalid("password", "password must mix at least two of: letters, digits, special characters")},
		{Name: "long password", Method: "POST", URL: "/settings/users", Form: form("carol", "abcdefghij0123456789x", "carol@example.com"),
			Session: true, HTMX: true, WantStatus: 422, Unchanged: true,
			Want: invalid("password", "password must be 8 to 20 characters long")},
		{Name: "bad email", Method: "POST", URL: "/settings/users", Form: form("carol", "carol-pass-1", "Carol <carol@example.com>"),
			Session: true, HTMX: true, WantStatus: 422, Unchanged: true,
			Want: append(invalid("email", "email must be a valid address such as name@example.com"), `value="Carol &lt;carol@example.com&gt;"`)},
		{Name: "all empty", Method: "POST", URL: "/settings/users", Session: true, HTMX: true, WantStatus: 422, Unchanged: true,
			Want: []string{invalid("username", "username is required")[0], invalid("password", "password is required")[0], invalid("email", "email is required")[0]}},
		{Name: "plain invalid shows the page", Method: "POST", URL: "/settings/users", Form: form("carol", "x", "carol@example.com"),
			Session: true, CSRF: "field", WantStatus: 422, Unchanged: true,
			Want: append(invalid("password", "password must be 8 to 20 characters long"), "<!doctype html>", `value="carol"`)},
		{Name: "taken username", Method: "POST", URL: "/settings/users", Form: form("admin", "carol-pass-1", "carol@example.com"),
			Session: true, HTMX: true, WantStatus: 409, Unchanged: true,
			Want: invalid("username", "this username is already taken")},
		{Name: "taken username ignoring case", Method: "POST", URL: "/settings/users", Form: form("ADMIN", "carol-pass-1", "carol@example.com"),
			Session: true, HTMX: true, WantStatus: 409, Unchanged: true,
			Want: append(invalid("username", "this username is already taken"), `value="ADMIN"`)},
		{Name: "taken username plain", Method: "POST", URL: "/settings/users", Form: form("Bob", "carol-pass-1", "carol@example.com"),
			Session: true, CSRF: "field", Setup: addBob, WantStatus: 409, Unchanged: true,
			Want: invalid("username", "this username is already taken")},
	})
}

func TestUserInlineEdit(t *testing.T) {
	t.Parallel()
	emailUnchanged := func(t *testing.T, ta *testApp, r *response) {
		if u := storedUser(t, ta, "bob"); u.Email != "bob@example.com" {
			t.Errorf("stored email changed to %q", u.Email)
		}
	}
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "edit username fragment", Method: "GET", URL: "/settings/users/2/edit?field=username", HTMX: true, Session: true, Setup: addBob,
			WantStatus: 200, WantHeaders: map[string]string{"Vary": "HX-Request"},
			Want:    []string{`<tr id="user-2" data-username="bob" class="editing">`, `hx-put="/settings/users/2"`, `name="username" value="bob"`, "bob@example.com"},
			NotWant: []string{"<!doctype html>", `name="email"`}},
		{Name: "edit email fragment", Method: "GET", URL: "/settings/users/2/edit?field=email", HTMX: true, Session: true, Setup: addBob,
			WantStatus: 200, Want: []string{`class="editing"`, `name="email" value="bob@example.com"`, `type="email"`}},
		{Name: "edit without JavaScript", Method: "GET", URL: "/settings/users/2/edit?field=email", Session: true, Setup: addBob,
			WantStatus: 200, Want: []string{"<!doctype html>", `class="editing"`, `action="/settings/users/2"`, `<noscript><button type="submit">Save</button>`, `<tr id="user-1"`}},
		{Name: "edit without field", Method: "GET", URL: "/settings/users/2/edit", HTMX: true, Session: true, Setup: addBob, WantStatus: 400},
		{Name: "edit other field", Method: "GET", URL: "/settings/users/2/edit?field=password", HTMX: true, Session: true, Setup: addBob, WantStatus: 400},
		{Name: "row fragment (cancel)", Method: "GET", URL: "/settings/users/2", HTMX: true, Session: true, Setup: addBob,
			WantStatus: 200, WantHeaders: map[string]string{"Vary": "HX-Request"},
			Want: []string{`<tr id="user-2" data-username="bob">`, "bob@example.com"}, NotWant: []string{"editing"}},
		{Name: "row without htmx", Method: "GET", URL: "/settings/users/2", Session: true, Setup: addBob,
			WantStatus: 303, WantHeaders: map[string]string{"Location": "/settings/users", "Vary": "HX-Request"}},

		{Name: "put username", Method: "PUT", URL: "/settings/users/2", Form: url.Values{"username": {"bobby"}}, HTMX: true, Session: true, Setup: addBob,
			WantStatus: 200, WantHeaders: map[string]string{"HX-Trigger": ""},
			Want:    []string{`<tr id="user-2" data-username="bobby">`, ">bobby</a>"},
			NotWant: []string{"editing"},
			After: func(t *testing.T, ta *testApp, r *response) {
				wantNoUser(t, ta, "bob")
				if u := storedUser(t, ta, "bobby"); u.ID != 2 || u.Email != "bob@example.com" {
					t.Errorf("stored = %+v", u)
				}
				if !passwordWorks(t, ta, "bobby", testkit.UserPassword) {
					t.Errorf("password lost in rename")
				}
			}},
		{Name: "put own username", Method: "PUT", URL: "/settings/users/1", Form: url.Values{"username": {"root"}}, HTMX: true, Session: true,
			WantStatus: 200, WantHeaders: map[string]string{"HX-Trigger": "gh-me-changed"}, Want: []string{">root</a>"}},
		{Name: "put username case change", Method: "PUT", URL: "/settings/users/2", Form: url.Values{"username": {"Bob"}}, HTMX: true, Session: true, Setup: addBob,
			WantStatus: 200, Want: []string{`data-username="Bob"`}},
		{Name: "put taken username", Method: "PUT", URL: "/settings/users/2", Form: url.Values{"username": {"Admin"}}, HTMX: true, Session: true, Setup: addBob,
			WantStatus: 422, Unchanged: true,
			Want: []string{`class="editing"`, `name="username" value="Admin"`, "this username is already taken", `aria-invalid="true"`}},
		{Name: "put bad username", Method: "PUT", URL: "/settings/users/2", Form: url.Values{"username": {"b"}}, HTMX: true, Session: true, Setup: addBob,
			WantStatus: 422, Unchanged: true, Want: []string{`class="editing"`, `value="b"`, "username must be 3 to 32 characters long"}},
		{Name: "put email", Method: "PUT", URL: "/settings/users/2", Form: url.Values{"email": {"robert@example.org"}}, HTMX: true, Session: true, Setup: addBob,
			WantStatus: 200, Want: []string{`<tr id="user-2"`, "robert@example.org"}, NotWant: []string{"editing"},
			After: func(t *testing.T, ta *testApp, r *response) {
				if u := storedUser(t, ta, "bob"); u.Email != "robert@example.org" {
					t.Errorf("stored email = %q", u.Email)
				}
			}},
		{Name: "put bad email", Method: "PUT", URL: "/settings/users/2", Form: url.Values{"email": {"not-an-email"}}, HTMX: true, Session: true, Setup: addBob,
			WantStatus: 422, Unchanged: true, WantHeaders: map[string]string{"Vary": "HX-Request"},
			Want: []string{`<tr id="user-2" data-username="bob" class="editing">`, `name="email" value="not-an-email"`,
				`data-original="bob@example.com"`, `<p class="field-error" id="user-2-error" role="alert">email must be a valid address such as name@example.com</p>`},
			NotWant: []string{"<!doctype html>"}, After: emailUnchanged},
		{Name: "put empty email", Method: "PUT", URL: "/settings/users/2", Form: url.Values{"email": {""}}, HTMX: true, Session: true, Setup: addBob,
			WantStatus: 422, Unchanged: true, Want: []string{"email is required"}, After: emailUnchanged},
		{Name: "put nothing", Method: "PUT", URL: "/settings/users/2", Form: url.Values{"other": {"x"}}, HTMX: true, Session: true, Setup: addBob,
			WantStatus: 400, Unchanged: true},
		{Name: "post fallback email", Method: "POST", URL: "/settings/users/2", Form: url.Values{"email": {"robert@example.org"}}, Session: true, CSRF: "field", Setup: addBob,
			WantStatus: 303, WantHeaders: map[string]string{"Location": "/settings/users"},
			After: func(t *testing.T, ta *testApp, r *response) {
				if u := storedUser(t, ta, "bob"); u.Email != "robert@example.org" {
					t.Errorf("stored email = %q", u.Email)
				}
			}},
		{Name: "post fallback bad email", Method: "POST", URL: "/settings/users/2", Form: url.Values{"email": {"nope"}}, Session: true, CSRF: "field", Setup: addBob,
			WantStatus: 422, Unchanged: true,
			Want:  []string{"<!doctype html>", `class="editing"`, `value="nope"`, "email must be a valid address", `<tr id="user-1"`},
			After: emailUnchanged},
	})
}

func TestUserPassword(t *testing.T) {
	t.Parallel()
	hashUnchanged := func(t *testing.T, ta *testApp, r *response) {
		if !passwordWorks(t, ta, "bob", testkit.UserPassword) {
			t.Errorf("password changed")
		}
	}
	changed := func(t *testing.T, ta *testApp, r *response) {
		if !passwordWorks(t, ta, "bob", "new-pass-12") || passwordWorks(t, ta, "bob", testkit.UserPassword) {
			t.Errorf("password not changed")
		}
	}
	pw := func(p string) url.Values { return url.Values{"password": {p}} }
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "form page", Method: "GET", URL: "/settings/users/2/password", Session: true, Setup: addBob, WantStatus: 200,
			Want: []string{"<!doctype html>", `id="password-form"`, "New password for <strong>bob</strong>", `name="_csrf"`, `hx-history="false"`}},
		{Name: "form fragment", Method: "GET", URL: "/settings/users/2/password", HTMX: true, Session: true, Setup: addBob, WantStatus: 200,
			Want: []string{`id="password-form"`, `hx-put="/settings/users/2/password"`}, NotWant: []string{"<!doctype html>"}},
		{Name: "htmx change", Method: "PUT", URL: "/settings/users/2/password", Form: pw("new-pass-12"), HTMX: true, Session: true, Setup: addBob,
			WantStatus: 200, WantHeaders: map[string]string{"HX-Trigger": "gh-dialog-close, gh-users-changed", "HX-Retarget": "#flash"},
			Want: []string{"Password of bob changed."}, NotWant: []string{"new-pass-12"}, After: changed},
		{Name: "plain change", Method: "POST", URL: "/settings/users/2/password", Form: pw("new-pass-12"), Session: true, CSRF: "field", Setup: addBob,
			WantStatus: 303, WantHeaders: map[string]string{"Location": "/settings/users"}, After: changed},
		{Name: "too short", Method: "PUT", URL: "/settings/users/2/password", Form: pw("a1"), HTMX: true, Session: true, Setup: addBob,
			WantStatus: 422, Unchanged: true, WantHeaders: map[string]string{"HX-Trigger": ""},
			Want: []string{`id="password-form"`, `data-field="password">password must be 8 to 20 characters long`}, NotWant: []string{`value="a1"`}, After: hashUnchanged},
		{Name: "one class", Method: "PUT", URL: "/settings/users/2/password", Form: pw("12345678901"), HTMX: true, Session: true, Setup: addBob,
			WantStatus: 422, Unchanged: true, Want: []string{"password must mix at least two of"}, After: hashUnchanged},
		{Name: "empty", Method: "PUT", URL: "/settings/users/2/password", HTMX: true, Session: true, Setup: addBob,
			WantStatus: 422, Unchanged: true, Want: []string{"password is required"}, After: hashUnchanged},
		{Name: "plain bad", Method: "POST", URL: "/settings/users/2/password", Form: pw("a1"), Session: true, CSRF: "field", Setup: addBob,
			WantStatus: 422, Unchanged: true, Want: []string{"<!doctype html>", "password must be 8 to 20 characters long"}, After: hashUnchanged},
	})
}

func TestUserDelete(t *testing.T) {
	t.Parallel()
	gone := func(t *testing.T, ta *testApp, r *response) {
		wantNoUser(t, ta, "bob")
		if s, _ := ta.Store.SessionsOf(2); len(s) != 0 {
			t.Errorf("sessions of the deleted user remain: %d", len(s))
		}
	}
	withBobSession := func(t *testing.T, ta *testApp) {
		addBob(t, ta)
		ta.Session(t, storedUser(t, ta, "bob"))
	}
	lastMsg := "The last user cannot be deleted: create another user first."
	runScenarios(t, newTestApp, []scenario[*testApp]{
		{Name: "confirm page", Method: "GET", URL: "/settings/users/2/delete", Session: true, Setup: addBob, WantStatus: 200,
			Want: []string{"Delete <strong>bob</strong>", `action="/settings/users/2/delete"`, `name="_csrf"`, `href="/settings/users"`}},
		{Name: "htmx delete", Method: "DELETE", URL: "/settings/users/2", HTMX: true, Session: true, Setup: withBobSession,
			WantStatus: 200, WantHeaders: map[string]string{"HX-Redirect": ""},
			After: func(t *testing.T, ta *testApp, r *response) {
				if r.Body != "" {
					t.Errorf("body = %q, want empty", r.Body)
				}
				gone(t, ta, r)
			}},
		{Name: "plain delete", Method: "POST", URL: "/settings/users/2/delete", Session: true, CSRF: "field", Setup: withBobSession,
			WantStatus: 303, WantHeaders: map[string]string{"Location": "/settings/users"}, After: gone},
		{Name: "last user htmx", Method: "DELETE", URL: "/settings/users/1", HTMX: true, Session: true,
			WantStatus: 409, Unchanged: true, Want: []string{lastMsg}, WantHeaders: map[string]string{"HX-Retarget": "#flash"}},
		{Name: "last user plain", Method: "POST", URL: "/settings/users/1/delete", Session: true, CSRF: "field",
			WantStatus: 409, Unchanged: true, Want: []string{"<!doctype html>", lastMsg, `<tr id="user-1"`}},
		{Name: "self htmx", Method: "DELETE", URL: "/settings/users/1", HTMX: true, Session: true, Setup: addBob,
			WantStatus: 200, WantHeaders: map[string]string{"HX-Redirect": "/login"},
			After: func(t *testing.T, ta *testApp, r *response) {
				wantNoUser(t, ta, "admin")
				if c := r.Cookie(sessionCookie); c == nil || c.Value != "" {
					t.Errorf("session cookie not cleared: %v", c)
				}
				if s, _ := ta.Store.SessionsOf(1); len(s) != 0 {
					t.Errorf("own sessions remain")
				}
			}},
		{Name: "self plain", Method: "POST", URL: "/settings/users/1/delete", Session: true, CSRF: "field", Setup: addBob,
			WantStatus: 303, WantHeaders: map[string]string{"Location": "/login"},
			After: func(t *testing.T, ta *testApp, r *response) { wantNoUser(t, ta, "admin") }},
	})
}

// TestUserDeleteFlow: the list after a delete no longer shows the user,
// and the deleted user's row answers 404.
func TestUserDeleteFlow(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	testkit.AddUser(t, ta.Store, "bob")
	s := ta.Session(t, ta.Admin)
	r := ta.Do(t, request{Method: "DELETE", URL: "/settings/users/2", Session: s, CSRFHeader: s.CSRF, HTMX: true})
	checkResponse(t, r, 200, nil, nil, nil)
	r = ta.Do(t, request{Method: "GET", URL: "/settings/users", Session: s})
	checkResponse(t, r, 200, []string{"admin@example.com"}, []string{"bob@example.com", `id="user-2"`}, nil)
	r = ta.Do(t, request{Method: "DELETE", URL: "/settings/users/2", Session: s, CSRFHeader: s.CSRF, HTMX: true})
	checkResponse(t, r, 404, []string{"This user does not exist (any more)."}, nil, nil)
	r = ta.Do(t, request{Method: "GET", URL: "/settings/users/2/edit?field=email", Session: s, HTMX: true})
	checkResponse(t, r, 404, nil, nil, nil)
	// Now admin is the last user.
	r = ta.Do(t, request{Method: "DELETE", URL: "/settings/users/1", Session: s, CSRFHeader: s.CSRF, HTMX: true})
	checkResponse(t, r, 409, []string{"The last user cannot be deleted"}, nil, nil)
	if !ta.SessionAlive(t, s) {
		t.Errorf("refused delete ended the session")
	}
}

// TestFormFieldsFromBodyOnly checks that form values come from the request
// body: a query parameter neither overrides nor stands in for a field.
func TestFormFieldsFromBodyOnly(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	s := ta.Session(t, ta.Admin)
	// The body's email wins over the query's.
	r := ta.Do(t, request{Method: "PUT", URL: fmt.Sprintf("/settings/users/%d?email=evil@example.com", ta.Admin.ID),
		Form: url.Values{"email": {"good@example.com"}}, HTMX: true, Session: s, CSRFHeader: s.CSRF})
	if r.Status != 200 || storedUser(t, ta, "admin").Email != "good@example.com" {
		t.Fatalf("PUT with body and query email: status %d, stored %q", r.Status, storedUser(t, ta, "admin").Email)
	}
	// A field only in the query is no field at all.
	r = ta.Do(t, request{Method: "PUT", URL: fmt.Sprintf("/settings/users/%d?email=evil@example.com", ta.Admin.ID),
		Form: url.Values{}, HTMX: true, Session: s, CSRFHeader: s.CSRF})
	if r.Status != 400 || storedUser(t, ta, "admin").Email != "good@example.com" {
		t.Fatalf("PUT with query email only: status %d, stored %q", r.Status, storedUser(t, ta, "admin").Email)
	}
	// Login: the password in the query is ignored.
	r = ta.Do(t, request{Method: "POST", URL: "/login?password=" + url.QueryEscape(testkit.AdminPassword),
		Form: url.Values{"username": {"admin"}, "password": {"wrong-pass-1"}}})
	if r.Status != 401 {
		t.Fatalf("login with the right password in the query only: status %d, want 401", r.Status)
	}
}
