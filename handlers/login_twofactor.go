package handlers

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

const (
	// pendingCookie names the half-finished login in the browser; its
	// name is what browsers already hold, so it stays.
	pendingCookie   = "gh_2fa"
	pendingLoginTTL = 5 * time.Minute
)

// pendingLogin is a login whose password was right and whose second factor
// is still to come.
type pendingLogin struct {
	UserID int
	Next   string
	// Stamp is the user's model.User.CredentialStamp at the password step.
	Stamp string
}

func (h *Handler) clearPendingCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: pendingCookie, Value: "", Path: "/login", HTTPOnly: true,
		Secure: h.isHTTPS(c), SameSite: fiber.CookieSameSiteStrictMode, Expires: time.Unix(1, 0)})
}

// loginTwoFactor checks the TOTP or recovery code of a half-finished
// login. Wrong codes count towards the login throttling and get one
// generic message.
func (h *Handler) loginTwoFactor(c *fiber.Ctx) error {
	id := c.Cookies(pendingCookie)
	pl, ok := h.logins.Get(id)
	if !ok {
		h.clearPendingCookie(c)
		return h.render(c, fiber.StatusUnauthorized, "pages/login", "", fiber.Map{"Title": "Log in",
			"Error": "The login took too long (more than 5 minutes). Enter your username and password again."})
	}
	// Deleted, refused by the sign-in check, or given a new password or
	// second factor since the password step.
	u, err := h.store.UserForSignIn(pl.UserID)
	if err == nil && u.CredentialStamp() != pl.Stamp {
		err = model.ErrNotFound
	}
	if errors.Is(err, model.ErrNotFound) {
		h.logins.Delete(id)
		h.clearPendingCookie(c)
		return h.render(c, fiber.StatusUnauthorized, "pages/login", "", fiber.Map{"Title": "Log in", "Error": msgBadLogin})
	} else if err != nil {
		return err
	}
	ip := h.clientIP(c)
	key := model.UsernameKey(u.Username)
	fail := func(status int, msg string) error {
		return h.render(c, status, "pages/login_twofactor", "", fiber.Map{"Title": "Two-factor authentication", "Error": msg})
	}
	ticket, err := h.reserve(c, ip, key, h.trustedDevice(c, key), msgTooManyFailures)
	if err != nil {
		return fail(statusOf(err))
	}
	actor := model.ActorFor(u, ip.String())
	kind, err := h.store.VerifySecondFactor(u.ID, postField(c, "code"), actor)
	switch {
	case errors.Is(err, model.ErrInvalidCode):
		h.audit.Add(actor, model.EventLoginFailed, u.ID, u.Username, "wrong second-factor code")
		return fail(fiber.StatusUnauthorized, "Invalid code. Enter the current code from your authenticator app, or a recovery code.")
	case err != nil:
		return err
	}
	h.limiter.Refund(ticket)
	h.logins.Delete(id)
	h.clearPendingCookie(c)
	method := "password+totp"
	if kind == model.CodeRecovery {
		method = "password+recovery code"
	}
	if err := h.startSession(c, u, method); err != nil {
		return err
	}
	return c.Redirect(safeNext(pl.Next), fiber.StatusSeeOther)
}
