package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// tokenDelete deletes a token (htmx asks with hx-confirm first); it stops
// working at once.
func (h *Handler) tokenDelete(c *fiber.Ctx) error {
	u, t, err := h.tokenParam(c)
	if err != nil {
		return err
	}
	me, _ := currentUser(c)
	if err := h.store.DeleteToken(u.ID, t.ID, model.ActorFor(me, h.clientIP(c).String())); err != nil {
		return err
	}
	return h.renderTokens(c, fiber.StatusOK, u, h.newTokenForm(), nil, "Token "+t.ID+" deleted.")
}
