package handlers

import (
	_ "embed"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// openAPIDoc is the OpenAPI 3.1 description of the JSON API, shipped in
// the binary.
//
//go:embed openapi.json
var openAPIDoc []byte

// apiOpenAPI serves the OpenAPI description. It needs no authentication:
// it holds no data.
func (h *Handler) apiOpenAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(openAPIDoc)
}

// Audit list bounds.
const (
	auditDefaultLimit = 50
	auditMaxLimit     = 500
)

// apiAudit lists audit events of both streams (see model.AuditEvent),
// newest first: ?user= (events where that user acted or was the target),
// ?event= (one action), ?since= (RFC 3339), and one page: ?page= and
// ?per_page= (1–500, default 50), or ?limit= and ?offset=.
// Buffered events (failed logins, refused tokens) appear once written, at
// most a second later: a read stays a read.
func (h *Handler) apiAudit(c *fiber.Ctx) error {
	v := &model.ValidationError{}
	num := func(name string, def, min, max int) int { return queryInt(c, v, name, def, min, max) }
	f := model.AuditFilter{
		Limit:  num("limit", auditDefaultLimit, 1, auditMaxLimit),
		Offset: num("offset", 0, 0, 1<<30),
		UserID: num("user", 0, 1, 1<<31-1),
		Action: c.Query("event"),
	}
	if c.Query("per_page") != "" {
		f.Limit = num("per_page", auditDefaultLimit, 1, auditMaxLimit)
	}
	if c.Query("page") != "" {
		f.Offset = (num("page", 1, 1, 1<<20) - 1) * f.Limit
	}
	if s := c.Query("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			v.Add("since", "since must be a time in RFC 3339 form, such as 2026-01-31T12:00:00Z")
		}
		f.Since = t
	}
	if err := v.Err(); err != nil {
		return err
	}
	// A member reads only the events they made or that concern them.
	if me, _ := currentUser(c); !me.IsAdmin() {
		if f.UserID != 0 && f.UserID != me.ID {
			return errForbidden
		}
		f.UserID = me.ID
	}
	// Write buffered events first (failed logins, refused tokens), so the
	// answer includes everything that happened before the request. It costs
	// a write only when something is pending.
	if err := h.audit.Flush(); err != nil {
		return err
	}
	events, total, err := h.store.AuditEvents(f)
	if err != nil {
		return err
	}
	out := make([]apiAuditEvent, len(events))
	for i, e := range events {
		out[i] = newAPIAuditEvent(e)
	}
	return c.JSON(newList(out, total))
}

// apiPasskeys lists a user's passkeys.
func (h *Handler) apiPasskeys(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	list, err := h.store.Passkeys(u.ID)
	if err != nil {
		return err
	}
	out := make([]apiPasskey, len(list))
	for i, p := range list {
		var last *apiTime
		if p.LastUsedAt != nil {
			last = optTime(*p.LastUsedAt)
		}
		out[i] = apiPasskey{ID: p.ID, Name: p.Name, CreatedAt: apiTime(p.CreatedAt), LastUsedAt: last}
	}
	return c.JSON(newList(out, len(out)))
}

// apiPasskeyDelete deletes one of a user's passkeys.
func (h *Handler) apiPasskeyDelete(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	err = h.store.DeletePasskey(u.ID, c.Params("pid"), h.actor(c))
	if errors.Is(err, model.ErrNotFound) {
		return errStatus(fiber.StatusNotFound, "This user has no passkey with this id.")
	}
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// queryInt reads the query parameter name as a whole number from min to
// max, def when it is absent; a bad value is added to v under name.
func queryInt(c *fiber.Ctx, v *model.ValidationError, name string, def, min, max int) int {
	s := c.Query(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		v.Add(name, name+" must be a whole number from "+strconv.Itoa(min)+" to "+strconv.Itoa(max))
		return def
	}
	return n
}
