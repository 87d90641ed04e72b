package handlers

import (
	"net/url"
	"strconv"
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

// rows returns the rows of the User tab's page that the request's ?q=,
// ?page= and ?per_page= ask for, and the pager under the table. Bad values
// fall back to the first page of everyone: a page is no form to correct.
func (h *Handler) rows(c *fiber.Ctx) ([]rowData, *userPager, error) {
	q, err := userQuery(c)
	if err != nil {
		q = model.UserQuery{PerPage: usersPerPage, Page: 1}
	}
	page, err := h.usersPage(c, q)
	if err != nil {
		return nil, nil, err
	}
	out := make([]rowData, len(page.Users))
	for i, u := range page.Users {
		out[i] = h.row(c, u)
	}
	return out, newUserPager(q, page.Total), nil
}

// userList renders the User tab (the users table fragment for htmx). A
// non-empty edit row shows one row in edit mode (the no-JavaScript form).
func (h *Handler) userList(c *fiber.Ctx) error {
	return h.renderList(c, fiber.StatusOK, nil, fiber.Map{})
}

func (h *Handler) renderList(c *fiber.Ctx, status int, edit *rowData, data fiber.Map) error {
	rows, pager, err := h.rows(c)
	if err != nil {
		return err
	}
	if edit != nil {
		found := false
		for i := range rows {
			if rows[i].U.ID == edit.U.ID {
				rows[i], found = *edit, true
			}
		}
		if !found { // the edited user is on another page: shown first
			rows = append([]rowData{*edit}, rows...)
		}
	}
	data["Title"] = "Users"
	data["Rows"] = rows
	data["Pager"] = pager
	return h.render(c, status, "pages/user_list", "partials/user_table", data)
}

// userPager is what the user_pager partial shows: the search box and the
// links to the previous and next pages, which keep the search.
type userPager struct {
	Search           string
	From, To, Total  int
	PrevURL, NextURL string
}

func newUserPager(q model.UserQuery, total int) *userPager {
	p := &userPager{Search: q.Search, Total: total}
	var pages int
	p.From, p.To, pages = pageSpan(q.Page, q.PerPage, total)
	link := func(page int) string {
		v := url.Values{}
		if q.Search != "" {
			v.Set("q", q.Search)
		}
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		if q.PerPage != usersPerPage {
			v.Set("per_page", strconv.Itoa(q.PerPage))
		}
		if len(v) == 0 {
			return "/settings/users"
		}
		return "/settings/users?" + v.Encode()
	}
	if q.Page > 1 {
		p.PrevURL = link(min(q.Page-1, pages))
	}
	if q.Page*q.PerPage < total {
		p.NextURL = link(q.Page + 1)
	}
	return p
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
