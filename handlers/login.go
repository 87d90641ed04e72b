package handlers

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

const msgBadLogin = "Invalid username or password."

// safeNext returns next when it is a local path, else the User tab, so the
// login form cannot be used to redirect to another site. Browsers drop tabs
// and newlines from URLs and read '\' as '/', so "/\t/evil.com" and
// "/\\evil.com" would mean //evil.com: control characters and backslashes
// are refused anywhere.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsRune(next, '\\') {
		return "/settings/users"
	}
	for i := 0; i < len(next); i++ {
		if next[i] < 0x20 || next[i] == 0x7f {
			return "/settings/users"
		}
	}
	return next
}

func (h *Handler) loginShow(c *fiber.Ctx) error {
	if _, ok := currentUser(c); ok {
		return c.Redirect(safeNext(c.Query("next")), fiber.StatusSeeOther)
	}
	return h.render(c, fiber.StatusOK, "pages/login", "", fiber.Map{"Title": "Log in", "Next": c.Query("next")})
}

// loginSubmit checks a username and password. Throttling is decided before
// any hashing; the same work is done for unknown names, and every failure
// gets the same message.
func (h *Handler) loginSubmit(c *fiber.Ctx) error {
	if _, hasCode := formField(c, "code"); hasCode && c.Cookies(pendingCookie) != "" {
		return h.loginTwoFactor(c)
	}
	username := postField(c, "username")
	password := postField(c, "password")
	next := postField(c, "next")
	ip := h.clientIP(c)
	key := model.UsernameKey(username)
	fail := func(status int, msg string) error {
		return h.render(c, status, "pages/login", "", fiber.Map{"Title": "Log in", "Error": msg, "Username": username, "Next": next})
	}
	// The attempt counts as failed from here on; a success refunds it.
	trusted := h.trustedDevice(c, key)
	if !trusted {
		leave, ok := h.loginGate.enter()
		if !ok { // a flood: answered without drawing the page
			c.Set(fiber.HeaderRetryAfter, "1")
			return c.Status(fiber.StatusTooManyRequests).SendString("The server is busy. Try again in a moment.")
		}
		defer leave()
	}
	ticket, err := h.reserve(c, ip, key, trusted, msgTooManyFailures)
	if err != nil {
		return fail(statusOf(err))
	}
	if username == "" || password == "" {
		h.limiter.Refund(ticket) // not a guess
		return fail(fiber.StatusUnprocessableEntity, "Enter your username and password.")
	}
	actor := model.Actor{Name: username, IP: ip.String()}
	if len(username) > model.UsernameMaxLen*4 || len(password) > model.MaxSecretInput {
		h.audit.Add(model.Actor{Name: truncate(username, 64), IP: ip.String()}, model.EventLoginFailed, 0, "", "oversized input")
		return fail(fiber.StatusUnauthorized, msgBadLogin)
	}
	ctx := c.UserContext()
	if trusted {
		// A browser that signed in to this account before hashes in the
		// reserved lane: a flood of guesses cannot make it "busy".
		ctx = model.WithReservedLane(ctx)
	}
	u, err := h.store.Authenticate(ctx, username, password)
	switch {
	case errors.Is(err, model.ErrInvalidCredentials):
		// A known account is the target: the failure is kept with the
		// security events; a name no one has is an outside failure,
		// counted per address (see model.AuditEvent).
		target, _ := h.store.UserByName(username)
		h.audit.Add(actor, model.EventLoginFailed, target.ID, target.Username, "invalid credentials")
		return fail(fiber.StatusUnauthorized, msgBadLogin)
	case errors.Is(err, model.ErrBusy):
		h.limiter.Refund(ticket) // nothing was checked
		c.Set(fiber.HeaderRetryAfter, "1")
		return fail(fiber.StatusTooManyRequests, "The server is busy. Try again in a moment.")
	case err != nil:
		return err
	}
	h.limiter.Refund(ticket)
	if u.TwoFactor {
		// Half logged in: this grants nothing but the code form, for 5 minutes.
		id := h.logins.Put(pendingLogin{UserID: u.ID, Next: next, Stamp: u.CredentialStamp()})
		c.Cookie(&fiber.Cookie{Name: pendingCookie, Value: id, Path: "/login", HTTPOnly: true,
			Secure: h.isHTTPS(c), SameSite: fiber.CookieSameSiteStrictMode, Expires: h.now().Add(pendingLoginTTL)})
		return h.render(c, fiber.StatusOK, "pages/login_twofactor", "", fiber.Map{"Title": "Two-factor authentication"})
	}
	if err := h.startSession(c, u, "password"); err != nil {
		return err
	}
	return c.Redirect(safeNext(next), fiber.StatusSeeOther)
}

// startSession ends any session the browser had, starts a new one with a
// new id (no fixation), and sets the session and device cookies.
func (h *Handler) startSession(c *fiber.Ctx, u model.User, method string) error {
	if old, ok := currentSession(c); ok {
		if err := h.store.DeleteSession(old.ID); err != nil {
			return err
		}
	}
	// u is not the request's user yet: the actor is named explicitly.
	ip := h.clientIP(c).String()
	actor := model.ActorFor(u, ip)
	actor.Via = model.ViaSession
	if method == "passkey" {
		actor.Via = model.ViaPasskey
	}
	token, _, err := h.store.CreateSession(u.ID, ip, string(c.Request().Header.UserAgent()), actor, method)
	if err != nil {
		return err
	}
	h.setSessionCookie(c, token)
	h.setDeviceCookie(c, u.Username)
	return nil
}

func (h *Handler) logout(c *fiber.Ctx) error {
	sess, _ := currentSession(c)
	if err := h.store.EndSession(sess.ID, h.actor(c)); err != nil {
		return err
	}
	h.clearSessionCookie(c)
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", "/login")
		return c.SendStatus(fiber.StatusNoContent)
	}
	return c.Redirect("/login", fiber.StatusSeeOther)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
