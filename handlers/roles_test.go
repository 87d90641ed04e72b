package handlers

import (
	"fmt"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestDisableTakesEffectAtOnce: an admin disables bob while bob has an
// open session, an access token, a passkey and a password login waiting
// for its second factor; each is refused at its next request, and
// enabling bob lets the password and the token in again.
func TestDisableTakesEffectAtOnce(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t)
	bob := testkit.CreateMember(t, ta.Store, "bob")
	_, codes := testkit.EnableTwoFactor(t, ta.Store, bob)
	bobS := ta.Session(t, bob)
	value, _ := ta.Token(t, bob)
	d := newPasskeyDevice(virtualwebauthn.AuthenticatorOptions{})
	d.register(t, ta, bobS, "laptop")
	_, pending := loginPassword(t, ta, "bob", testkit.UserPassword)
	if pending == nil {
		t.Fatal("the password login did not wait for the second factor")
	}
	_, passkeyOpts := loginOptions(t, ta, "")
	wantAnswer(t, ta.Do(t, request{URL: "/api/v1/me", Session: bobS, CSRF: true}), 200)

	admin := ta.Session(t, ta.Admin)
	r := ta.Do(t, request{Method: "PATCH", URL: fmt.Sprintf("/api/v1/users/%d", bob.ID), Session: admin, CSRF: true,
		Body: map[string]any{"disabled": true}})
	wantAnswer(t, r, 200)
	if r.JSON["disabled"] != true {
		t.Fatalf("PATCH answered disabled = %v", r.JSON["disabled"])
	}

	wantAnswer(t, ta.Do(t, request{URL: "/api/v1/me", Session: bobS, CSRF: true}), 401)
	if ta.SessionAlive(t, bobS) {
		t.Error("disabling left bob's session")
	}
	wantAnswer(t, ta.Do(t, request{URL: "/api/v1/me", Token: value}), 401)
	if r := loginCode(t, ta, pending, codes[0]); r.Status == 303 || r.Cookie(sessionCookie) != nil {
		t.Errorf("the half-finished 2FA login went on: %d", r.Status)
	}
	if r := loginFinish(t, ta, d.assert(passkeyOpts)); r.Status < 400 || r.Cookie(sessionCookie) != nil {
		t.Errorf("the passkey login started before disabling went on: %d", r.Status)
	}
	if r := d.login(t, ta); r.Status < 400 || r.Cookie(sessionCookie) != nil {
		t.Errorf("a new passkey login of a disabled user: %d", r.Status)
	}
	if r := ta.Do(t, request{Method: "POST", URL: "/login", Form: loginForm("bob", testkit.UserPassword)}); r.Cookie(pendingCookie) != nil || r.Cookie(sessionCookie) != nil {
		t.Errorf("a disabled user's password went on to the next step: %d", r.Status)
	}
	if len(ta.AuditEvents(t, model.EventUserDisabled)) != 1 {
		t.Error("the disable was not audited")
	}

	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: fmt.Sprintf("/api/v1/users/%d", bob.ID), Session: admin, CSRF: true,
		Body: map[string]any{"disabled": false}}), 200)
	wantAnswer(t, ta.Do(t, request{URL: "/api/v1/me", Token: value}), 200)
	if _, pending := loginPassword(t, ta, "bob", testkit.UserPassword); pending == nil {
		t.Error("enabled bob's password is refused")
	}
}

// TestRolesThroughTheAPI: only admins set roles and the disabled flag; the
// last enabled admin stays one (409); a member sees only themselves in the
// user list and only their own audit events.
func TestRolesThroughTheAPI(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t)
	bob := testkit.CreateMember(t, ta.Store, "bob")
	carol := testkit.CreateMember(t, ta.Store, "carol")
	admin := ta.Session(t, ta.Admin)
	bobS := ta.Session(t, bob)
	user := func(id int) string { return fmt.Sprintf("/api/v1/users/%d", id) }

	// A member may not promote themselves, nor disable anyone.
	before := ta.Snapshot(t)
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: user(bob.ID), Session: bobS, CSRF: true, Body: map[string]any{"role": "admin"}}), 403)
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: user(bob.ID), Session: bobS, CSRF: true, Body: map[string]any{"disabled": true}}), 403)
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: user(carol.ID), Session: bobS, CSRF: true, Body: map[string]any{"email": "x@example.com"}}), 403)
	if after := ta.Snapshot(t); after != before {
		t.Fatalf("a refused request changed something:\n%s\n%s", before, after)
	}
	// But may change their own email.
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: user(bob.ID), Session: bobS, CSRF: true, Body: map[string]any{"email": "bob2@example.com"}}), 200)

	// The only admin can neither step down nor disable themselves.
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: user(ta.Admin.ID), Session: admin, CSRF: true, Body: map[string]any{"role": "member"}}), 409, "enabled admin")
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: user(ta.Admin.ID), Session: admin, CSRF: true, Body: map[string]any{"disabled": true}}), 409)
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: user(bob.ID), Session: admin, CSRF: true, Body: map[string]any{"role": "root"}}), 422)
	r := ta.Do(t, request{Method: "PATCH", URL: user(bob.ID), Session: admin, CSRF: true, Body: map[string]any{"role": "admin"}})
	wantAnswer(t, r, 200)
	if r.JSON["role"] != "admin" {
		t.Fatalf("role after PATCH: %v", r.JSON["role"])
	}
	if got := len(ta.AuditEvents(t, model.EventRoleChanged)); got != 1 {
		t.Errorf("%d role_changed events, want 1", got)
	}

	// last_login_at is null until the first sign-in; created users are members.
	r = ta.Do(t, request{URL: user(carol.ID), Session: admin, CSRF: true})
	wantAnswer(t, r, 200)
	if r.JSON["last_login_at"] != nil || r.JSON["role"] != "member" || r.JSON["password_changed_at"] == nil {
		t.Errorf("carol as the API shows her: %v", r.JSON)
	}

	// A member's list and audit log hold only themselves.
	carolS := ta.Session(t, carol)
	r = ta.Do(t, request{URL: "/api/v1/users", Session: carolS, CSRF: true})
	wantAnswer(t, r, 200)
	if items, _ := r.JSON["items"].([]any); len(items) != 1 || r.JSON["total"] != float64(1) {
		t.Fatalf("carol's user list: %v", r.JSON)
	}
	wantAnswer(t, ta.Do(t, request{URL: fmt.Sprintf("/api/v1/audit?user=%d", ta.Admin.ID), Session: carolS, CSRF: true}), 403)
	r = ta.Do(t, request{URL: "/api/v1/audit", Session: carolS, CSRF: true})
	wantAnswer(t, r, 200)
	items, _ := r.JSON["items"].([]any)
	if len(items) == 0 {
		t.Fatal("carol sees none of her own events")
	}
	for _, it := range items {
		ev := it.(map[string]any)
		if ev["actor_id"] != float64(carol.ID) && ev["target_id"] != float64(carol.ID) {
			t.Errorf("carol sees an event not hers: %v", ev)
		}
	}
	// Admins see everyone.
	r = ta.Do(t, request{URL: "/api/v1/users", Session: admin, CSRF: true})
	if r.JSON["total"] != float64(3) {
		t.Errorf("the admin's user list: %v", r.JSON)
	}
}

// TestRolesInTheUserTab: a member's User tab holds only their own row,
// without the admin controls; an admin sees every row with the role
// select and Disable/Enable, which set the role and the flag.
func TestRolesInTheUserTab(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	bob := testkit.CreateMember(t, ta.Store, "bob")
	bobS := ta.Session(t, bob)
	r := ta.Do(t, request{URL: "/settings/users", Session: bobS})
	checkResponse(t, r, 200, []string{`id="user-` + fmt.Sprint(bob.ID) + `"`, `data-testid="role">member<`},
		[]string{`id="user-` + fmt.Sprint(ta.Admin.ID) + `"`, `data-testid="role-select"`, "Disable", "Delete User", "Create User"}, nil)

	admin := ta.Session(t, ta.Admin)
	r = ta.Do(t, request{URL: "/settings/users", Session: admin})
	checkResponse(t, r, 200, []string{`id="user-` + fmt.Sprint(bob.ID) + `"`, `id="user-` + fmt.Sprint(ta.Admin.ID) + `"`,
		`data-testid="role-select"`, "Disable", "Create User"}, nil, nil)

	row := fmt.Sprintf("/settings/users/%d", bob.ID)
	r = ta.Do(t, request{Method: "POST", URL: row + "/role", Session: admin, HTMX: true, CSRFHeader: admin.CSRF,
		Form: map[string][]string{"role": {"admin"}}})
	checkResponse(t, r, 200, []string{`data-testid="role">admin<`}, nil, nil)
	r = ta.Do(t, request{Method: "POST", URL: row + "/disabled", Session: admin, HTMX: true, CSRFHeader: admin.CSRF,
		Form: map[string][]string{"disabled": {"true"}}})
	checkResponse(t, r, 200, []string{`data-testid="disabled"`, ">Enable<"}, nil, nil)
	if ta.SessionAlive(t, bobS) {
		t.Error("disabling from the User tab left bob's session")
	}
	if u := reloadUser(t, ta, bob.ID); !u.Disabled || u.Role != model.RoleAdmin {
		t.Fatalf("bob after the row's controls: %+v", u)
	}
	// The last enabled admin: admin cannot step down now that bob is disabled.
	r = ta.Do(t, request{Method: "POST", URL: fmt.Sprintf("/settings/users/%d/role", ta.Admin.ID), Session: admin, HTMX: true,
		CSRFHeader: admin.CSRF, Form: map[string][]string{"role": {"member"}}})
	if r.Status != 409 {
		t.Errorf("demoting the last enabled admin from the User tab: %d", r.Status)
	}
	r = ta.Do(t, request{Method: "POST", URL: row + "/disabled", Session: admin, HTMX: true, CSRFHeader: admin.CSRF,
		Form: map[string][]string{"disabled": {"false"}}})
	checkResponse(t, r, 200, []string{">Disable<"}, []string{`data-testid="disabled"`}, nil)
}

// TestCreateUserRole: the Create User dialog offers the role; a new user
// is a member unless made an admin.
func TestCreateUserRole(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t)
	admin := ta.Session(t, ta.Admin)
	checkResponse(t, ta.Do(t, request{URL: "/settings/users/new", Session: admin, HTMX: true}), 200, []string{`name="role"`}, nil, nil)
	for name, role := range map[string]string{"erin": "", "fred": "admin"} {
		r := ta.Do(t, request{Method: "POST", URL: "/settings/users", Session: admin, HTMX: true, CSRFHeader: admin.CSRF,
			Form: map[string][]string{"username": {name}, "password": {"Passw0rd-ok"}, "email": {name + "@example.com"}, "role": {role}}})
		checkResponse(t, r, 201, nil, nil, nil)
		want := role
		if want == "" {
			want = model.RoleMember
		}
		if u, err := ta.Store.UserByName(name); err != nil || u.Role != want {
			t.Errorf("%s: role %q (%v), want %q", name, u.Role, err, want)
		}
	}
	r := ta.Do(t, request{Method: "POST", URL: "/settings/users", Session: admin, HTMX: true, CSRFHeader: admin.CSRF,
		Form: map[string][]string{"username": {"gina"}, "password": {"Passw0rd-ok"}, "email": {"gina@example.com"}, "role": {"root"}}})
	checkResponse(t, r, 422, []string{`data-field="role"`, `<option value="member">`}, nil, nil)
}
