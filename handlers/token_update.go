package handlers

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// tokenEdit shows the Modify form of a token in the dialog.
func (h *Handler) tokenEdit(c *fiber.Ctx) error {
	u, t, err := h.tokenParam(c)
	if err != nil {
		return err
	}
	form := formForExpiry(t.ExpiresAt)
	form.TID = t.ID
	form.IPs = strings.Join(t.IPs, "\n")
	form.Scope = t.Scope
	return h.renderTokens(c, fiber.StatusOK, u, form, nil, "")
}

// tokenUpdate saves the Modify form: the white list, the scope (kept
// when the form sends none), and the expiry when it was changed. The form shows whole minutes, so an expiry sent back
// unchanged (within its minute) keeps the stored value: an expired token
// can get a new white list without a new expiry.
func (h *Handler) tokenUpdate(c *fiber.Ctx) error {
	u, t, err := h.tokenParam(c)
	if err != nil {
		return err
	}
	form, ips, exp, expErr := tokenFormInput(c)
	form.TID = t.ID
	p := model.TokenPatch{IPs: &ips}
	if form.Scope != "" {
		p.Scope = &form.Scope
	} else {
		form.Scope = t.Scope
	}
	if expErr != nil {
		// Report the white list too, and save nothing.
		err := expErr
		if _, ipErr := model.ParseIPList(ips); ipErr != nil {
			err = mergeValidation(ipErr, err)
		}
		return h.tokenInvalid(c, u, form, err)
	}
	if !exp.Equal(t.ExpiresAt.UTC().Truncate(time.Minute)) {
		p.ExpiresAt = &exp
	}
	updated, err := h.store.UpdateToken(u.ID, t.ID, p, h.actor(c))
	if _, ok := model.AsValidation(err); ok {
		return h.tokenInvalid(c, u, form, err)
	}
	if err != nil {
		return err
	}
	toast(c, "Token "+updated.ID+" modified.")
	return h.renderTokens(c, fiber.StatusOK, u, h.newTokenForm(), nil, "Token "+updated.ID+" modified.")
}
