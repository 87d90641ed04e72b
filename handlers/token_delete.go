package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// tokenDeleteConfirm is the confirmation page of Delete for browsers
// without JavaScript: the dialog's Delete is a GET form to this page, which
// htmx replaces with a DELETE after hx-confirm.
func (h *Handler) tokenDeleteConfirm(c *fiber.Ctx) error {
	u, t, err := h.tokenParam(c)
	if err != nil {
		return err
	}
	return h.render(c, fiber.StatusOK, "pages/token_delete", "", fiber.Map{"Title": "Delete Token", "U": u, "T": t})
}

// tokenDelete deletes a token (htmx asks with hx-confirm first, the page
// of tokenDeleteConfirm without JavaScript); it stops working at once.
func (h *Handler) tokenDelete(c *fiber.Ctx) error {
	u, t, err := h.tokenParam(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteToken(u.ID, t.ID, h.actor(c)); err != nil {
		return err
	}
	toast(c, "Token "+t.ID+" deleted.")
	return h.renderTokens(c, fiber.StatusOK, u, h.newTokenForm(), nil, "Token "+t.ID+" deleted.")
}
