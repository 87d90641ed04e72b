package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// apiMe answers the acting user.
func (h *Handler) apiMe(c *fiber.Ctx) error {
	me, _ := currentUser(c)
	return c.JSON(toAPIUser(me))
}

// apiUsers lists every user to admins; a member's list holds only
// themselves. ?q= searches usernames and emails, ?page= and ?per_page=
// page (userQuery).
func (h *Handler) apiUsers(c *fiber.Ctx) error {
	q, err := userQuery(c)
	if err != nil {
		return err
	}
	page, err := h.usersPage(c, q)
	if err != nil {
		return err
	}
	out := make([]apiUser, len(page.Users))
	for i, u := range page.Users {
		out[i] = toAPIUser(u)
	}
	return c.JSON(newList(out, page.Total))
}

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
