package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// userRoleSet sets a user's role from the row's role select (admins only;
// never the last enabled admin).
func (h *Handler) userRoleSet(c *fiber.Ctx) error {
	role := c.FormValue("role")
	return h.userAdminChange(c, model.UserPatch{Role: &role})
}

// userDisabledSet disables (disabled=true) or enables a user from the
// row's Disable/Enable button (admins only; never the last enabled admin).
func (h *Handler) userDisabledSet(c *fiber.Ctx) error {
	var disabled bool
	switch c.FormValue("disabled") {
	case "true":
		disabled = true
	case "false":
	default:
		return errStatus(fiber.StatusBadRequest, "Send disabled=true or disabled=false.")
	}
	return h.userAdminChange(c, model.UserPatch{Disabled: &disabled})
}

// userAdminChange applies p to the :id user and answers the row (htmx) or
// the list.
func (h *Handler) userAdminChange(c *fiber.Ctx, p model.UserPatch) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	updated, err := h.store.UpdateUser(u.ID, p, h.actor(c))
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	c.Vary("HX-Request")
	toast(c, "Saved.")
	return c.Render("partials/user_row", h.row(c, updated))
}
