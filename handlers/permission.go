package handlers

import "github.com/gofiber/fiber/v2"

// The permission rules of the panel, one per route, declared in the route
// table (routes.go) next to stepUp. An admin manages every user; a member
// manages only their own account. A refusal is 403 in the form of the
// route's group (a page or problem+json) and happens before the handler,
// so a refused request changes nothing. The CLI is not an HTTP caller: it
// may do everything, audited as the CLI.

// errForbidden refuses a request the caller's role does not allow.
var errForbidden = errStatus(fiber.StatusForbidden, "Your role does not allow this: only admins manage other users.")

// errOthersSecret refuses, even to admins, what would show or set someone
// else's second factor or passkey: an admin may turn those off, never
// enrol them for another person.
var errOthersSecret = errStatus(fiber.StatusForbidden, "Only the user themselves can set up their two-factor authentication, recovery codes or passkeys.")

// adminOnly lets only admins through: creating users.
func (h *Handler) adminOnly(c *fiber.Ctx) error {
	if me, _ := currentUser(c); !me.IsAdmin() {
		return errForbidden
	}
	return c.Next()
}

// selfOrAdmin lets through the user named by :id acting on their own
// account, and admins acting on anyone's.
func (h *Handler) selfOrAdmin(c *fiber.Ctx) error {
	me, _ := currentUser(c)
	if id, err := c.ParamsInt("id"); me.IsAdmin() || (err == nil && id == me.ID) {
		return c.Next()
	}
	return errForbidden
}

// selfOnly lets through only the user named by :id: enrolling a second
// factor, new recovery codes and passkeys show or bind secrets that are
// that person's alone.
func (h *Handler) selfOnly(c *fiber.Ctx) error {
	me, _ := currentUser(c)
	if id, err := c.ParamsInt("id"); err == nil && id == me.ID {
		return c.Next()
	}
	return errOthersSecret
}

// anyUser marks a route that every signed-in user may call; what it
// answers depends on the caller (own account, own rows, own events).
func (h *Handler) anyUser(c *fiber.Ctx) error { return c.Next() }
