package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// The users list's pages (API and User tab): 50 users unless ?per_page=
// says otherwise.
const (
	usersPerPage    = 50
	usersMaxPerPage = 500
)

// userQuery reads the users list's ?q= (contained in the username or the
// email), ?page= and ?per_page=; a bad value is a ValidationError naming it.
func userQuery(c *fiber.Ctx) (model.UserQuery, error) {
	v := &model.ValidationError{}
	q := model.UserQuery{
		Search:  c.Query("q"),
		PerPage: queryInt(c, v, "per_page", usersPerPage, 1, usersMaxPerPage),
		Page:    queryInt(c, v, "page", 1, 1, 1<<20),
	}
	if len(q.Search) > model.EmailMaxLen {
		v.Add("q", "q must be at most "+strconv.Itoa(model.EmailMaxLen)+" bytes")
	}
	return q, v.Err()
}

// usersPage returns the page of the users the caller may see that q
// selects: any user for an admin, only themselves for a member. The store
// pages and searches, so the first page of 10,000 users costs about what
// the first page of 10 does.
func (h *Handler) usersPage(c *fiber.Ctx, q model.UserQuery) (model.UserPage, error) {
	me, _ := currentUser(c)
	if me.IsAdmin() {
		return h.store.UsersPage(q)
	}
	u, err := h.store.User(me.ID) // a member's own record, fresh
	if err != nil {
		return model.UserPage{}, err
	}
	var page model.UserPage
	if q.Matches(u) {
		page.Total = 1
		if q.Page <= 1 {
			page.Users = []model.User{u}
		}
	}
	return page, nil
}
