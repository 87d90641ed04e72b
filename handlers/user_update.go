package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

func editField(c *fiber.Ctx) (string, bool) {
	switch f := c.Query("field"); f {
	case "username", "email":
		return f, true
	}
	return "", false
}

// userEdit turns one cell of a row into an input (inline edit).
func (h *Handler) userEdit(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	field, ok := editField(c)
	if !ok {
		return errStatus(fiber.StatusBadRequest, "Choose username or email to edit.")
	}
	r := h.row(c, u)
	r.Field = field
	if field == "username" {
		r.Value = u.Username
	} else {
		r.Value = u.Email
	}
	if isHTMX(c) {
		c.Vary("HX-Request")
		return c.Render("partials/user_row_edit", r)
	}
	return h.renderList(c, fiber.StatusOK, &r, fiber.Map{})
}

// userUpdate saves one inline-edited field. A refused value answers 422
// with the row still in edit mode, the typed value and the message; the
// stored value stays unchanged.
func (h *Handler) userUpdate(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	var p model.UserPatch
	var field, value string
	if v, ok := formField(c, "username"); ok {
		field, value = "username", v
		p.Username = &value
	} else if v, ok := formField(c, "email"); ok {
		field, value = "email", v
		p.Email = &value
	} else {
		return errStatus(fiber.StatusBadRequest, "Nothing to change: send username or email.")
	}
	me, _ := currentUser(c)
	updated, err := h.store.UpdateUser(u.ID, p, h.actor(c))
	if v, ok := model.AsValidation(err); ok {
		r := h.row(c, u)
		r.Field, r.Value, r.Error = field, value, v.Fields[field]
		if isHTMX(c) {
			c.Vary("HX-Request")
			c.Status(fiber.StatusUnprocessableEntity)
			return c.Render("partials/user_row_edit", r)
		}
		return h.renderList(c, fiber.StatusUnprocessableEntity, &r, fiber.Map{})
	}
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	c.Vary("HX-Request")
	r := h.row(c, updated)
	if updated.ID == me.ID {
		// The header shows the acting user's name: refresh the page.
		c.Set("HX-Trigger", "gh-me-changed")
	}
	toast(c, "Saved.")
	return c.Render("partials/user_row", r)
}
