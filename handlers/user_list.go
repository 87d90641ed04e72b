package handlers

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// rowData is what the user_row and user_row_edit partials render.
type rowData struct {
	U    model.User
	CSRF string
	MeID int
	// MeAdmin shows the admin-only controls (role, disable, delete).
	MeAdmin bool
	Field   string // the field being edited inline: "username" or "email"
	Value   string // the value typed (kept when it was refused)
	Error   string

	// PasswordSince is when the password was set; PasswordOld and
	// Unused mark what the security advice asks to look at
	// (model.PasswordMaxAge, model.UnusedAfter).
	PasswordSince       time.Time
	PasswordOld, Unused bool
}

func (h *Handler) row(c *fiber.Ctx, u model.User) rowData {
	me, _ := currentUser(c)
	sess, _ := currentSession(c)
	now := h.now()
	return rowData{U: u, CSRF: h.csrfToken(sess.ID), MeID: me.ID, MeAdmin: me.IsAdmin(),
		PasswordSince: now.Add(-u.PasswordAge(now)), PasswordOld: u.PasswordOld(now), Unused: u.Unused(now)}
}

func (h *Handler) rows(c *fiber.Ctx) ([]rowData, error) {
	users, err := h.visibleUsers(c)
	if err != nil {
		return nil, err
	}
	out := make([]rowData, len(users))
	for i, u := range users {
		out[i] = h.row(c, u)
	}
	return out, nil
}

// userList renders the User tab (the users table fragment for htmx). A
// non-empty edit row shows one row in edit mode (the no-JavaScript form).
func (h *Handler) userList(c *fiber.Ctx) error {
	return h.renderList(c, fiber.StatusOK, nil, fiber.Map{})
}

func (h *Handler) renderList(c *fiber.Ctx, status int, edit *rowData, data fiber.Map) error {
	rows, err := h.rows(c)
	if err != nil {
		return err
	}
	if edit != nil {
		for i := range rows {
			if rows[i].U.ID == edit.U.ID {
				rows[i] = *edit
			}
		}
	}
	data["Title"] = "Users"
	data["Rows"] = rows
	return h.render(c, status, "pages/user_list", "partials/user_table", data)
}

// userRow renders one row in display mode (used when an inline edit is
// cancelled).
func (h *Handler) userRow(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	c.Vary("HX-Request")
	if !isHTMX(c) {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	return c.Render("partials/user_row", h.row(c, u))
}
