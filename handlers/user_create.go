package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// userNew shows the Create User form: a dialog for htmx, a page otherwise.
func (h *Handler) userNew(c *fiber.Ctx) error {
	return h.render(c, fiber.StatusOK, "pages/user_new", "partials/user_create_form", fiber.Map{"Title": "Create User"})
}

// userCreate creates a user. On success htmx gets the refreshed table and
// an event that closes the dialog; on invalid input the form comes back
// with a message at each field (422, or 409 for a taken username).
func (h *Handler) userCreate(c *fiber.Ctx) error {
	in := model.NewUser{
		Username: postField(c, "username"),
		Password: postField(c, "password"),
		Email:    postField(c, "email"),
		Role:     postField(c, "role"),
	}
	_, err := h.store.CreateUser(c.UserContext(), in, h.actor(c))
	if v, ok := model.AsValidation(err); ok {
		status := fiber.StatusUnprocessableEntity
		if errors.Is(err, model.ErrConflict) {
			status = fiber.StatusConflict
		}
		data := fiber.Map{"Title": "Create User", "Errors": v.Fields, "Username": in.Username, "Email": in.Email, "Role": in.Role}
		return h.render(c, status, "pages/user_new", "partials/user_create_form", data)
	}
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	c.Set("HX-Trigger", "gh-dialog-close")
	toast(c, "User "+in.Username+" created.")
	c.Set("HX-Retarget", "#users")
	c.Set("HX-Reswap", "outerHTML")
	return h.renderList(c, fiber.StatusCreated, nil, fiber.Map{"Flash": "User " + in.Username + " created."})
}
