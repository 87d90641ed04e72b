package handlers

import (
	"net/http"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// matrixReadToken creates the read-scoped token of the matrix's read-token
// column for u: every method but GET is refused before any handler runs.
func matrixReadToken(t testing.TB, ta *testApp, u model.User) string {
	t.Helper()
	value, _, err := ta.Store.CreateToken(u.ID, model.NewToken{Scope: model.TokenScopeRead,
		ExpiresAt: ta.Clock.Now().Add(24 * time.Hour)}, model.CLIActor)
	if err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	return value
}

// The permission rules (permission.go) by the name of their middleware.
const (
	permPublic      = "public" // no sign-in needed
	permAnyUser     = "anyUser"
	permAdminOnly   = "adminOnly"
	permSelfOrAdmin = "selfOrAdmin"
	permSelfOnly    = "selfOnly"
)

// permissions is the matrix's declaration of every route's rule; a route
// missing here, or declaring another rule in routes.go, fails
// TestPermissionMatrix.
var permissions = map[string]string{
	"GET /healthz":                                             permPublic,
	"GET /assets/:hash/*":                                      permPublic,
	"GET /":                                                    permPublic,
	"GET /login":                                               permPublic,
	"POST /login":                                              permPublic,
	"POST /login/passkey/options":                              permPublic,
	"POST /login/passkey":                                      permPublic,
	"GET /api/openapi.json":                                    permPublic,
	"GET /api/v1/me":                                           permAnyUser,
	"POST /api/v1/reauth":                                      permAnyUser,
	"GET /api/v1/users":                                        permAnyUser, // a member's list holds only themselves
	"POST /api/v1/users":                                       permAdminOnly,
	"GET /api/v1/users/:id<int>":                               permSelfOrAdmin,
	"PATCH /api/v1/users/:id<int>":                             permSelfOrAdmin, // role and disabled: admins only, in the handler
	"PUT /api/v1/users/:id<int>/password":                      permSelfOrAdmin,
	"DELETE /api/v1/users/:id<int>":                            permAdminOnly,
	"DELETE /api/v1/users/:id<int>/2fa":                        permSelfOrAdmin,
	"GET /api/v1/users/:id<int>/tokens":                        permSelfOrAdmin,
	"POST /api/v1/users/:id<int>/tokens":                       permSelfOrAdmin,
	"PATCH /api/v1/users/:id<int>/tokens/:tid":                 permSelfOrAdmin,
	"DELETE /api/v1/users/:id<int>/tokens/:tid":                permSelfOrAdmin,
	"GET /api/v1/users/:id<int>/passkeys":                      permSelfOrAdmin,
	"DELETE /api/v1/users/:id<int>/passkeys/:pid":              permSelfOrAdmin,
	"GET /api/v1/users/:id<int>/sessions":                      permSelfOrAdmin,
	"DELETE /api/v1/users/:id<int>/sessions":                   permSelfOrAdmin,
	"DELETE /api/v1/users/:id<int>/sessions/:sid":              permSelfOrAdmin,
	"GET /api/v1/audit":                                        permAnyUser, // a member reads only their own events
	"POST /logout":                                             permAnyUser,
	"GET /settings/reauth":                                     permAnyUser,
	"POST /settings/reauth":                                    permAnyUser,
	"POST /settings/reauth/passkey/options":                    permAnyUser,
	"POST /settings/reauth/passkey":                            permAnyUser,
	"GET /settings/security":                                   permAdminOnly,
	"GET /settings/users":                                      permAnyUser, // a member's table holds only their row
	"POST /settings/users":                                     permAdminOnly,
	"GET /settings/users/new":                                  permAdminOnly,
	"GET /settings/users/:id<int>":                             permSelfOrAdmin,
	"PUT /settings/users/:id<int>":                             permSelfOrAdmin,
	"POST /settings/users/:id<int>":                            permSelfOrAdmin,
	"POST /settings/users/:id<int>/role":                       permAdminOnly,
	"POST /settings/users/:id<int>/disabled":                   permAdminOnly,
	"GET /settings/users/:id<int>/edit":                        permSelfOrAdmin,
	"GET /settings/users/:id<int>/password":                    permSelfOrAdmin,
	"PUT /settings/users/:id<int>/password":                    permSelfOrAdmin,
	"POST /settings/users/:id<int>/password":                   permSelfOrAdmin,
	"POST /settings/users/:id<int>/passkeys-and-tokens/delete": permSelfOrAdmin,
	"GET /settings/users/:id<int>/delete":                      permAdminOnly,
	"DELETE /settings/users/:id<int>":                          permAdminOnly,
	"GET /settings/users/:id<int>/2fa":                         permSelfOnly,
	"POST /settings/users/:id<int>/2fa":                        permSelfOnly,
	"POST /settings/users/:id<int>/2fa/cancel":                 permSelfOnly,
	"DELETE /settings/users/:id<int>/2fa":                      permSelfOrAdmin,
	"POST /settings/users/:id<int>/2fa/off":                    permSelfOrAdmin,
	"POST /settings/users/:id<int>/recovery-codes":             permSelfOnly,
	"POST /settings/users/:id<int>/delete":                     permAdminOnly,
	"GET /settings/users/:id<int>/tokens":                      permSelfOrAdmin,
	"POST /settings/users/:id<int>/tokens":                     permSelfOrAdmin,
	"GET /settings/users/:id<int>/tokens/:tid/edit":            permSelfOrAdmin,
	"PUT /settings/users/:id<int>/tokens/:tid":                 permSelfOrAdmin,
	"POST /settings/users/:id<int>/tokens/:tid":                permSelfOrAdmin,
	"GET /settings/users/:id<int>/tokens/:tid/delete":          permSelfOrAdmin,
	"DELETE /settings/users/:id<int>/tokens/:tid":              permSelfOrAdmin,
	"POST /settings/users/:id<int>/tokens/:tid/delete":         permSelfOrAdmin,
	"GET /settings/users/:id<int>/passkeys":                    permSelfOrAdmin,
	// passkeyOwnUser refuses anyone but the user, naming them.
	"POST /settings/users/:id<int>/passkeys/options":     permAnyUser,
	"POST /settings/users/:id<int>/passkeys":             permAnyUser,
	"GET /settings/users/:id<int>/passkeys/:pid/delete":  permSelfOrAdmin,
	"DELETE /settings/users/:id<int>/passkeys/:pid":      permSelfOrAdmin,
	"POST /settings/users/:id<int>/passkeys/:pid/delete": permSelfOrAdmin,
	"GET /settings/users/:id<int>/sessions":              permSelfOrAdmin,
	"GET /settings/sessions":                             permAnyUser, // a member sees only their own
	"GET /settings/audit":                                permAnyUser, // a member sees only their own events
	"POST /settings/users/:id<int>/sessions/delete":      permSelfOrAdmin,
	"GET /settings/users/:id<int>/sessions/:sid/delete":  permSelfOrAdmin,
	"POST /settings/users/:id<int>/sessions/:sid/delete": permSelfOrAdmin,
}

// ownOnlyInHandler are the routes declared anyUser whose handler still
// refuses everyone but the user named by :id.
var ownOnlyInHandler = map[string]bool{
	"POST /settings/users/:id<int>/passkeys/options": true,
	"POST /settings/users/:id<int>/passkeys":         true,
}

// matrixActors are the columns of the permission matrix.
var matrixActors = []string{"admin on self", "admin on other", "member on self", "member on other",
	"read token", "write token", "disabled session", "disabled token"}

// matrixRoutes returns the routes of the table with the permission rule
// each declares, keyed "METHOD path", failing the test for a route the
// permissions map does not name or names with another rule.
func matrixRoutes(t *testing.T, ta *testApp) []string {
	t.Helper()
	var keys []string
	seen := map[string]bool{}
	for _, r := range ta.App.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "CONNECT" || r.Method == "TRACE" || r.Method == "OPTIONS" {
			continue
		}
		declared, handler := permPublic, false
		for _, h := range r.Handlers {
			name := runtime.FuncForPC(reflect.ValueOf(h).Pointer()).Name()
			handler = handler || !strings.HasSuffix(name, ".problemAnswers")
			for _, p := range []string{permAnyUser, permAdminOnly, permSelfOrAdmin, permSelfOnly} {
				if strings.HasSuffix(name, "."+p+"-fm") {
					declared = p
				}
			}
		}
		key := r.Method + " " + r.Path
		if !handler || seen[key] || (strings.HasSuffix(r.Path, "/*") && strings.HasPrefix(r.Path, "/api/")) {
			continue // group marks and the API's catch-all (401, 404, 405)
		}
		seen[key] = true
		want, ok := permissions[key]
		switch {
		case !ok:
			t.Errorf("%s has no permission entry: declare its rule in routes.go and in permissions", key)
		case want != declared:
			t.Errorf("%s declares %s in routes.go; the matrix says %s", key, declared, want)
		default:
			keys = append(keys, key)
		}
	}
	for key := range permissions {
		if !seen[key] {
			t.Errorf("the matrix names %s, which is no route", key)
		}
	}
	return keys
}

// TestPermissionMatrix sends every route of the table as each actor and
// wants the answer its rule gives: allowed (neither 401 nor 403, nor a
// redirect to the login page), 403, or 401 (signed out). Each cell runs
// on a fresh app, so an allowed change cannot spoil the next cell.
func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	routes := matrixRoutes(t, newTestApp(t))
	cells := 0
	for _, key := range routes {
		perm := permissions[key]
		if perm == permPublic {
			continue
		}
		method, path, _ := strings.Cut(key, " ")
		api := strings.HasPrefix(path, "/api/")
		for _, actor := range matrixActors {
			cells++
			t.Run(key+"/"+actor, func(t *testing.T) {
				t.Parallel()
				want := expectedAnswer(key, perm, method, api, actor)
				ta := newAPIApp(t)
				member := testkit.CreateMember(t, ta.Store, "bob")
				self, other := ta.Admin, member
				var r request
				switch actor {
				case "admin on self", "admin on other":
					r.Session = ta.Session(t, ta.Admin)
					if actor == "admin on other" {
						self, other = member, ta.Admin
					}
				case "member on self", "member on other":
					r.Session = ta.Session(t, member)
					self, other = member, ta.Admin
					if actor == "member on other" {
						self, other = ta.Admin, member
					}
				case "read token", "write token":
					self = member
					if actor == "read token" {
						r.Token = matrixReadToken(t, ta, member)
					} else {
						r.Token, _ = ta.Token(t, member)
					}
				case "disabled session", "disabled token":
					carol := testkit.CreateMember(t, ta.Store, "carol")
					sess := ta.Session(t, carol)
					value, _ := ta.Token(t, carol)
					disabled := true
					if _, err := ta.Store.UpdateUser(carol.ID, model.UserPatch{Disabled: &disabled}, model.CLIActor); err != nil {
						t.Fatal(err)
					}
					self = carol
					if actor == "disabled session" {
						r.Session = sess
					} else {
						r.Token = value
					}
				}
				_ = other
				if r.Session != nil {
					r.CSRFHeader = r.Session.CSRF
				}
				r.Method = method
				r.URL = strings.NewReplacer(":id<int>", strconv.Itoa(self.ID), ":tid", "t0123456789", ":pid", "p0123456789",
					":sid", "0123456789abcdef0123", ":hash", "0").Replace(path)
				if api && method != "GET" && method != "DELETE" {
					r.Body = map[string]any{}
				}
				got := answerKind(ta.Do(t, r), api)
				if got != want {
					t.Errorf("%s as %s: %s; want %s", key, actor, got, want)
				}
			})
		}
	}
	t.Logf("permission matrix: %d routes with a rule × %d actors = %d cells (plus %d public routes)",
		cells/len(matrixActors), len(matrixActors), cells, len(routes)-cells/len(matrixActors))
}

// expectedAnswer is the matrix's cell: "allowed", "403" or "401".
func expectedAnswer(key, perm, method string, api bool, actor string) string {
	switch actor {
	case "disabled session", "disabled token":
		return "401"
	case "read token", "write token":
		if !api {
			return "401" // pages take sessions only
		}
		if key == "POST /api/v1/reauth" {
			return "403" // tokens never re-authenticate
		}
		if actor == "read token" && method != "GET" {
			return "403"
		}
		if perm == permAdminOnly {
			return "403"
		}
		return "allowed" // the member's token on the member's own account
	case "admin on self":
		return "allowed"
	case "admin on other":
		if perm == permSelfOnly || ownOnlyInHandler[key] {
			return "403"
		}
		return "allowed"
	case "member on self":
		if perm == permAdminOnly {
			return "403"
		}
		return "allowed"
	default: // member on other
		if perm == permAnyUser && !ownOnlyInHandler[key] {
			return "allowed"
		}
		return "403"
	}
}

// answerKind sorts an answer into the matrix's kinds: "403", "401" for
// the refusal of a caller who is not signed in (the API's 401, a page's
// redirect to the login page or its "session has ended"), else "allowed",
// whatever the handler then answered (a 404 for a made-up token id, a 401
// for a passkey ceremony never started).
func answerKind(r *response, api bool) string {
	switch {
	case r.Status == fiber.StatusForbidden:
		return "403"
	case r.Status == fiber.StatusUnauthorized && (api || strings.Contains(r.Body, "Your session has ended")),
		r.Status == http.StatusSeeOther && strings.HasPrefix(r.Header.Get("Location"), "/login?next="):
		return "401"
	}
	return "allowed"
}
