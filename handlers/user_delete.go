package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// userDeleteConfirm is the confirmation page for browsers without
// JavaScript (htmx asks with hx-confirm instead).
func (h *Handler) userDeleteConfirm(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "pages/user_delete", "", fiber.Map{"Title": "Delete User", "U": u})
}

// userDelete deletes a user with its sessions. The last user is refused
// with 409. Deleting oneself ends the own session too.
func (h *Handler) userDelete(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	me, _ := currentUser(c)
	err = h.store.DeleteUser(u.ID, h.actor(c))
	if errors.Is(err, model.ErrLastUser) && !isHTMX(c) {
		return h.renderList(c, fiber.StatusConflict, nil, fiber.Map{"Error": "The last user cannot be deleted: create another user first."})
	}
	if err != nil {
		return err
	}
	if u.ID == me.ID {
		h.clearSessionCookie(c)
		if isHTMX(c) {
			c.Set("HX-Redirect", "/login")
			return c.Status(fiber.StatusOK).SendString("")
		}
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	toast(c, "User "+u.Username+" deleted.")
	// An empty answer replaces the row (hx-target="closest tr").
	// SendStatus would send the body "OK", which htmx would put in its place.
	return c.Status(fiber.StatusOK).SendString("")
}
