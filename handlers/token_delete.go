package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// tokenDelete deletes a token (htmx asks with hx-confirm first); it stops
// working at once.
func (h *Handler) tokenDelete(c *fiber.Ctx) error {
	u, t, err := h.tokenParam(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteToken(u.ID, t.ID, h.actor(c)); err != nil {
		return err
	}
	return h.renderTokens(c, fiber.StatusOK, u, h.newTokenForm(), nil, "Token "+t.ID+" deleted.")
}
