package handlers

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// The Sessions dialog of a user: the live browser sessions (browser and
// OS, address, created, last seen), "this session" marked, End session
// per row and, at the bottom, Log out everywhere else (on another user's
// dialog: End all sessions). Every action answers with the whole dialog
// (#sessions), so the list is always current.

// renderSessions renders the dialog of user u.
func (h *Handler) renderSessions(c *fiber.Ctx, status int, u model.User, flash, errMsg string) error {
	rows, err := h.sessionRows(c, u.ID)
	if err != nil {
		return err
	}
	others := 0
	for _, r := range rows {
		if !r.Current {
			others++
		}
	}
	me, _ := currentUser(c)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "pages/session_list", "partials/session_dialog", fiber.Map{
		"Title": "Sessions", "U": u, "Sessions": rows, "Others": others, "Own": me.ID == u.ID,
		"Flash": flash, "Error": errMsg,
	})
}

// sessionList opens the Sessions dialog of a user (a page without
// JavaScript).
func (h *Handler) sessionList(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	return h.renderSessions(c, fiber.StatusOK, u, "", "")
}

// sessionEndConfirm is the confirmation page of End Session for browsers
// without JavaScript: End Session is a GET form to this page (carrying the
// Sessions view's back address, when it came from there), which htmx
// replaces with a POST after hx-confirm.
func (h *Handler) sessionEndConfirm(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	rows, err := h.sessionRows(c, u.ID)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if r.ID == c.Params("sid") {
			return h.render(c, fiber.StatusOK, "pages/session_end", "", fiber.Map{"Title": "End Session", "U": u, "S": r,
				"Back": sessionViewBack(c.Query("back"))})
		}
	}
	return errStatus(fiber.StatusNotFound, "This session has already ended.")
}

// sessionEnd ends one session of a user (htmx asks with hx-confirm
// first). Ending the session of this very request is a logout.
func (h *Handler) sessionEnd(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	own, _ := currentSession(c)
	back := sessionViewBack(postField(c, "back"))
	ended, err := h.store.EndUserSession(u.ID, c.Params("sid"), h.actor(c))
	if errors.Is(err, model.ErrNotFound) {
		if back != "" {
			return errStatus(fiber.StatusNotFound, "This session has already ended.")
		}
		return h.renderSessions(c, fiber.StatusNotFound, u, "", "This session has already ended.")
	}
	if err != nil {
		return err
	}
	if ended == own.ID {
		h.clearSessionCookie(c)
		if isHTMX(c) {
			c.Set("HX-Redirect", "/login")
			return c.SendStatus(fiber.StatusNoContent)
		}
		return c.Redirect("/login", fiber.StatusSeeOther)
	}
	if back != "" {
		// From the Sessions view: its row goes (hx-swap delete), or,
		// without JavaScript, the view is shown again as it was.
		if !isHTMX(c) {
			return c.Redirect(back, fiber.StatusSeeOther)
		}
		c.Set("HX-Trigger", "gh-sessions-changed") // the view reloads itself
		toast(c, "Session of "+u.Username+" ended.")
		return c.SendStatus(fiber.StatusOK)
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users/"+strconv.Itoa(u.ID)+"/sessions", fiber.StatusSeeOther)
	}
	toast(c, "Session ended.")
	return h.renderSessions(c, fiber.StatusOK, u, "Session ended.", "")
}

// sessionViewBack returns back when it is an address of the Sessions view
// (the page a form of that view came from, with its filter), rebuilt from
// its parsed query, else "": no form can send the browser elsewhere.
func sessionViewBack(back string) string {
	const view = "/settings/sessions"
	u, err := url.Parse(back)
	if err != nil || u.Scheme != "" || u.User != nil || u.Host != "" || u.Opaque != "" || u.Path != view ||
		strings.ContainsAny(back, "\\#") {
		return ""
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || len(q) == 0 {
		return view
	}
	return view + "?" + q.Encode()
}

// sessionsEnd ends every session of a user but the one of this request:
// "Log out everywhere else" on one's own dialog, "End all sessions" on
// another user's.
func (h *Handler) sessionsEnd(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	own, _ := currentSession(c)
	n, err := h.store.EndSessionsOf(u.ID, own.ID, h.actor(c))
	if err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users/"+strconv.Itoa(u.ID)+"/sessions", fiber.StatusSeeOther)
	}
	msg := strconv.Itoa(n) + " sessions ended."
	if n == 1 {
		msg = "1 session ended."
	}
	toast(c, msg)
	return h.renderSessions(c, fiber.StatusOK, u, msg, "")
}
