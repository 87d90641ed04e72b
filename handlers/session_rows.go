package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// sessionRow is one live session as the Sessions dialog and the API show
// it.
type sessionRow struct {
	ID                  string // model.Store.SessionPublicID
	CreatedAt, LastSeen time.Time
	IP                  string
	UserAgent           string // bounded and escaped
	Browser, OS         string // from the User-Agent
	Current             bool   // the session of this request
}

// sessionRows returns the live sessions of userID, the most recently used
// first.
func (h *Handler) sessionRows(c *fiber.Ctx, userID int) ([]sessionRow, error) {
	list, err := h.store.LiveSessionsOf(userID, h.sessionPolicy())
	if err != nil {
		return nil, err
	}
	own, _ := currentSession(c)
	rows := make([]sessionRow, len(list))
	for i, s := range list {
		ua := s.SessionUserAgent()
		browser, os := model.DescribeUserAgent(ua)
		rows[i] = sessionRow{ID: h.store.SessionPublicID(s.ID), CreatedAt: s.CreatedAt, LastSeen: s.LastSeen,
			IP: s.IP, UserAgent: ua, Browser: browser, OS: os, Current: own.ID != "" && s.ID == own.ID}
	}
	return rows, nil
}
