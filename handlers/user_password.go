package handlers

import (
	"fmt"
	"strings"

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
	// A password change ends the other sessions but not the passkeys
	// and access tokens, which sign in without the password: someone who
	// changes a leaked password is shown them, with a way to remove them.
	passkeys, err := h.store.Passkeys(u.ID)
	if err != nil {
		return err
	}
	tokens, err := h.store.Tokens(u.ID)
	if err != nil {
		return err
	}
	now := h.now()
	live := tokens[:0]
	for _, t := range tokens {
		if !t.Expired(now) {
			live = append(live, t)
		}
	}
	if len(passkeys) > 0 || len(live) > 0 {
		c.Set("HX-Trigger", "gh-users-changed")
		return h.render(c, fiber.StatusOK, "pages/user_password_done", "partials/user_password_done", fiber.Map{
			"Title": "Password changed", "U": u, "Passkeys": passkeys, "Tokens": live,
		})
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	// The list refreshes too: it shows the password's age.
	c.Set("HX-Trigger", "gh-dialog-close, gh-users-changed")
	toast(c, "Password of "+u.Username+" changed.")
	c.Set("HX-Retarget", "#flash")
	c.Set("HX-Reswap", "innerHTML")
	return c.Render("partials/flash", fiber.Map{"Flash": "Password of " + u.Username + " changed."})
}

// userRemovePasskeysAndTokens deletes every passkey and access token of a
// user: the "remove them too" of the password change's confirmation.
func (h *Handler) userRemovePasskeysAndTokens(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	passkeys, tokens, err := h.store.RemovePasskeysAndTokens(u.ID, h.actor(c))
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	c.Set("HX-Trigger", "gh-dialog-close, gh-users-changed")
	c.Set("HX-Retarget", "#flash")
	c.Set("HX-Reswap", "innerHTML")
	var removed []string
	if passkeys > 0 {
		removed = append(removed, plural(passkeys, "passkey"))
	}
	if tokens > 0 || passkeys == 0 {
		removed = append(removed, plural(tokens, "access token"))
	}
	return c.Render("partials/flash", fiber.Map{
		"Flash": "Removed " + strings.Join(removed, " and ") + " of " + u.Username + ".",
	})
}

// plural says n things: "1 passkey", "2 passkeys".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
