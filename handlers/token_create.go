package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// tokenCreate creates an access token from the dialog's form and shows its
// value once. Invalid input answers 422 with a message at each field and
// saves nothing.
func (h *Handler) tokenCreate(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	form, ips, exp, expErr := tokenFormInput(c)
	if v, _ := model.AsValidation(expErr); v != nil && v.Fields["tz_offset"] != "" {
		// Nothing to create from; report the white list too.
		if _, ipErr := model.ParseIPList(ips); ipErr != nil {
			expErr = mergeValidation(ipErr, expErr)
		}
		return h.tokenInvalid(c, u, form, expErr)
	}
	if form.Scope == "" {
		// A form without the choice gets the dialog's proposal, the
		// least privilege; the API and the CLI default to write instead.
		form.Scope = model.TokenScopeRead
	}
	me, _ := currentUser(c)
	value, t, err := h.store.CreateToken(u.ID, model.NewToken{IPs: ips, ExpiresAt: exp, Scope: form.Scope, CreatedBy: me.ID},
		h.actor(c))
	if expErr != nil {
		err = mergeValidation(err, expErr)
	}
	if _, ok := model.AsValidation(err); ok {
		return h.tokenInvalid(c, u, form, err)
	}
	if err != nil {
		return err
	}
	toast(c, "Token "+t.ID+" created.")
	return h.renderTokens(c, fiber.StatusCreated, u, h.newTokenForm(), &tokenCreated{ID: t.ID, Value: value},
		"Token "+t.ID+" created.")
}
