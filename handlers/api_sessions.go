package handlers

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// apiSession is one browser session as the API shows it: under its public
// id, never the cookie's secret or the storage key.
type apiSession struct {
	ID         string  `json:"id"`
	CreatedAt  apiTime `json:"created_at"`
	LastSeenAt apiTime `json:"last_seen_at"`
	IP         string  `json:"ip"`
	UserAgent  string  `json:"user_agent"`
	Current    bool    `json:"current"`
}

// apiSessions lists a user's live sessions.
func (h *Handler) apiSessions(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	rows, err := h.sessionRows(c, u.ID)
	if err != nil {
		return err
	}
	out := make([]apiSession, len(rows))
	for i, r := range rows {
		out[i] = apiSession{ID: r.ID, CreatedAt: apiTime(r.CreatedAt), LastSeenAt: apiTime(r.LastSeen),
			IP: r.IP, UserAgent: r.UserAgent, Current: r.Current}
	}
	return c.JSON(newList(out, len(out)))
}

// apiSessionEnd ends one of a user's sessions, named by its public id.
func (h *Handler) apiSessionEnd(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	if err := h.endSession(c, u, c.Params("sid")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// apiSessionsEnd ends every session of a user but the caller's own.
func (h *Handler) apiSessionsEnd(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	own, _ := currentSession(c)
	if _, err := h.store.EndSessionsOf(u.ID, own.ID, h.actor(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// endSession ends the session of u with public id sid; a session the user
// does not have (or no longer has) is 404. Ending one's own session is a
// logout: the cookie goes too.
func (h *Handler) endSession(c *fiber.Ctx, u model.User, sid string) error {
	ended, err := h.store.EndUserSession(u.ID, sid, h.actor(c))
	if errors.Is(err, model.ErrNotFound) {
		return errStatus(fiber.StatusNotFound, "This user has no session with this id.")
	}
	if err != nil {
		return err
	}
	if own, ok := currentSession(c); ok && own.ID == ended {
		h.clearSessionCookie(c)
	}
	return nil
}
