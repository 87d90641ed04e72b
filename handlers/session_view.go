package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// The Sessions view (GET /settings/sessions): the live browser sessions,
// the most recently used first, 50 a page. Admins see every user's and
// may filter by user; members see their own. Each row ends its session
// through the routes of the Sessions dialog, with their rules.

// sessionViewRow is one session of the Sessions view.
type sessionViewRow struct {
	sessionRow
	UserID   int
	Username string
}

// sessionView renders the Sessions view, or its results fragment
// (#session-view) for htmx.
func (h *Handler) sessionView(c *fiber.Ctx) error {
	f := newViewFilter(c, "/settings/sessions", "user")
	me, _ := currentUser(c)
	userID := h.userFilter(c, f)
	if !me.IsAdmin() {
		userID = me.ID
	}
	var list []model.Session
	if !f.Failed() {
		var err error
		if list, err = h.store.LiveSessions(userID, h.sessionPolicy()); err != nil {
			return err
		}
	}
	pager := f.pager(len(list))
	own, _ := currentSession(c)
	names := userNames{h: h}
	var rows []sessionViewRow
	if pager.Total > 0 {
		for _, s := range list[pager.From-1 : pager.To] {
			name, err := names.name(s.UserID)
			if err != nil {
				return err
			}
			ua := s.SessionUserAgent()
			browser, os := model.DescribeUserAgent(ua)
			rows = append(rows, sessionViewRow{UserID: s.UserID, Username: name, sessionRow: sessionRow{
				ID: h.store.SessionPublicID(s.ID), CreatedAt: s.CreatedAt, LastSeen: s.LastSeen, IP: s.IP,
				UserAgent: ua, Browser: browser, OS: os, Current: s.ID == own.ID}})
		}
	}
	status := fiber.StatusOK
	if f.Failed() {
		status = fiber.StatusUnprocessableEntity
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "pages/session_view", "partials/session_view", fiber.Map{
		"Title": "Sessions", "Nav": "sessions", "Filter": f, "Pager": pager, "Rows": rows, "Admin": me.IsAdmin(),
		"Back": f.URL(f.Page),
	})
}
