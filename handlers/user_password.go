package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// userPasswordForm shows the Change Password form for a user.
func (h *Handler) userPasswordForm(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "pages/user_password", "partials/user_password_form", fiber.Map{"Title": "Change Password", "U": u})
}

// userPassword sets a user's password. Every other session of that user
// ends; the acting session stays.
func (h *Handler) userPassword(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	pw := postField(c, "password")
	sess, _ := currentSession(c)
	err = h.store.SetPassword(c.UserContext(), u.ID, pw, sess.ID, h.actor(c))
	if v, ok := model.AsValidation(err); ok {
		data := fiber.Map{"Title": "Change Password", "U": u, "Errors": v.Fields}
		return h.render(c, fiber.StatusUnprocessableEntity, "pages/user_password", "partials/user_password_form", data)
	}
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	c.Set("HX-Trigger", "gh-dialog-close")
	c.Set("HX-Retarget", "#flash")
	c.Set("HX-Reswap", "innerHTML")
	return c.Render("partials/flash", fiber.Map{"Flash": "Password of " + u.Username + " changed."})
}
