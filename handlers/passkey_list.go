package handlers

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// The Passkeys dialog of a user: the list (Name, Creation Time, Last Used)
// with delete per passkey, for every user (an admin may clean up another
// user's passkeys), and the form that registers a new passkey, on the
// acting user's own dialog only: a passkey is created on the device of the
// person who will use it. Every action answers with the whole dialog
// (#passkeys), so the list is always current.

// passkeyRow is one passkey in the list.
type passkeyRow struct {
	model.Passkey
	// Usable is false for a passkey bound to another RP ID than the one
	// the panel runs under now: browsers will not offer it here.
	Usable bool
}

// renderPasskeys renders the dialog of user u.
func (h *Handler) renderPasskeys(c *fiber.Ctx, status int, u model.User, flash, errMsg string) error {
	list, err := h.store.Passkeys(u.ID)
	if err != nil {
		return err
	}
	rows := make([]passkeyRow, len(list))
	for i, p := range list {
		rows[i] = passkeyRow{Passkey: p, Usable: h.rp != nil && h.rp.id != "" && p.RPID == h.rp.id}
	}
	me, _ := currentUser(c)
	available, why := h.passkeysAvailable(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "pages/passkey_list", "partials/passkey_dialog", fiber.Map{
		"Title": "Passkeys", "U": u, "Passkeys": rows, "Own": me.ID == u.ID,
		"Available": available, "Why": why, "RPID": h.rpID(), "Flash": flash, "Error": errMsg,
	})
}

// rpID is the RP ID the panel runs under, or "".
func (h *Handler) rpID() string {
	if h.rp == nil {
		return ""
	}
	return h.rp.id
}

// passkeyList opens the Passkeys dialog of a user (a page without
// JavaScript).
func (h *Handler) passkeyList(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	return h.renderPasskeys(c, fiber.StatusOK, u, "", "")
}

// passkeyDeleteConfirm is the confirmation page of Delete for browsers
// without JavaScript: the dialog's Delete is a GET form to this page, which
// htmx replaces with a POST after hx-confirm.
func (h *Handler) passkeyDeleteConfirm(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	list, err := h.store.Passkeys(u.ID)
	if err != nil {
		return err
	}
	for _, p := range list {
		if p.ID == c.Params("pid") {
			return h.render(c, fiber.StatusOK, "pages/passkey_delete", "", fiber.Map{"Title": "Delete Passkey", "U": u, "P": p})
		}
	}
	return h.renderPasskeys(c, fiber.StatusNotFound, u, "", "This passkey does not exist (any more).")
}

// passkeyDelete deletes one passkey of a user (htmx asks with hx-confirm
// first). It works for any user's passkeys and whether or not passkeys are
// available here, so stale passkeys can always be cleaned up.
func (h *Handler) passkeyDelete(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	pid := c.Params("pid")
	var name string
	list, err := h.store.Passkeys(u.ID)
	if err != nil {
		return err
	}
	for _, p := range list {
		if p.ID == pid {
			name = p.Name
		}
	}
	err = h.store.DeletePasskey(u.ID, pid, h.actor(c))
	if errors.Is(err, model.ErrNotFound) {
		return h.renderPasskeys(c, fiber.StatusNotFound, u, "", "This passkey does not exist (any more).")
	}
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users/"+strconv.Itoa(u.ID)+"/passkeys", fiber.StatusSeeOther)
	}
	c.Set("HX-Trigger", "gh-users-changed")
	toast(c, "Passkey "+name+" deleted.")
	return h.renderPasskeys(c, fiber.StatusOK, u, "Passkey "+name+" deleted.", "")
}
