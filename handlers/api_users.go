package handlers

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// apiMe answers the acting user.
func (h *Handler) apiMe(c *fiber.Ctx) error {
	me, _ := currentUser(c)
	return c.JSON(toAPIUser(me))
}

// apiUsers lists every user to admins; a member's list holds only
// themselves.
func (h *Handler) apiUsers(c *fiber.Ctx) error {
	v := &model.ValidationError{}
	perPage := queryInt(c, v, "per_page", usersPerPage, 1, usersMaxPerPage)
	page := queryInt(c, v, "page", 1, 1, 1<<20)
	q := strings.ToLower(c.Query("q")) // ASCII and beyond; compared as contained text
	if len(q) > model.EmailMaxLen {
		v.Add("q", "q must be at most "+strconv.Itoa(model.EmailMaxLen)+" bytes")
	}
	if err := v.Err(); err != nil {
		return err
	}
	users, err := h.visibleUsers(c)
	if err != nil {
		return err
	}
	var matches []model.User
	for _, u := range users {
		if q == "" || strings.Contains(strings.ToLower(u.Username), q) || strings.Contains(strings.ToLower(u.Email), q) {
			matches = append(matches, u)
		}
	}
	from := min((page-1)*perPage, len(matches))
	to := min(from+perPage, len(matches))
	out := make([]apiUser, 0, to-from)
	for _, u := range matches[from:to] {
		out = append(out, toAPIUser(u))
	}
	return c.JSON(newList(out, len(matches)))
}

// The users list's pages: 50 users unless ?per_page= says otherwise.
const (
	usersPerPage    = 50
	usersMaxPerPage = 500
)

// apiUserGet answers one user.
func (h *Handler) apiUserGet(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	return c.JSON(toAPIUser(u))
}

// apiUserCreate creates a user: {username, password, email, role} → 201;
// role defaults to member.
func (h *Handler) apiUserCreate(c *fiber.Ctx) error {
	var in struct {
		Username string `json:"username"`
		Password string `json:"password"`
		Email    string `json:"email"`
		Role     string `json:"role"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	u, err := h.store.CreateUser(c.UserContext(), model.NewUser{Username: in.Username, Password: in.Password, Email: in.Email, Role: in.Role}, h.actor(c))
	if err != nil {
		return err
	}
	c.Location("/api/v1/users/" + strconv.Itoa(u.ID))
	return c.Status(fiber.StatusCreated).JSON(toAPIUser(u))
}

// apiUserPatch changes a user's username, email, role or disabled flag; a
// missing field keeps its value. Role and disabled are for admins only
// (the route's permission lets members reach their own account), and the
// last enabled admin stays one (409).
func (h *Handler) apiUserPatch(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Username *string `json:"username"`
		Email    *string `json:"email"`
		Role     *string `json:"role"`
		Disabled *bool   `json:"disabled"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if me, _ := currentUser(c); (in.Role != nil || in.Disabled != nil) && !me.IsAdmin() {
		return errForbidden
	}
	updated, err := h.store.UpdateUser(u.ID, model.UserPatch{Username: in.Username, Email: in.Email, Role: in.Role, Disabled: in.Disabled}, h.actor(c))
	if err != nil {
		return err
	}
	return c.JSON(toAPIUser(updated))
}

// apiUserPassword sets a user's password: {password} → 204. The user's
// sessions end, except the browser session making the change.
func (h *Handler) apiUserPassword(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	var in struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	sess, _ := currentSession(c)
	if err := h.store.SetPassword(c.UserContext(), u.ID, in.Password, sess.ID, h.actor(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// apiUserDelete deletes a user with its sessions, tokens and passkeys;
// 409 for the last user.
func (h *Handler) apiUserDelete(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	if err := h.store.DeleteUser(u.ID, h.actor(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// apiUserTwoFactorOff turns a user's two-factor authentication off; the
// route asks a browser session for a recent re-authentication (stepUp).
func (h *Handler) apiUserTwoFactorOff(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	if err := h.store.DisableTwoFactor(u.ID, h.actor(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
