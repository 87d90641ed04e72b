package handlers

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

const (
	// sessionCookie names the session cookie over plain HTTP (localhost);
	// over HTTPS it is hostSessionCookie, see sessionCookieName.
	sessionCookie     = "gh_session"
	hostSessionCookie = "__Host-" + sessionCookie
	deviceCookie      = "gh_device"
	localsUser        = "gh.user"
	localsSession     = "gh.session"
)

func currentUser(c *fiber.Ctx) (model.User, bool) {
	u, ok := c.Locals(localsUser).(model.User)
	return u, ok
}

// actor is the audit actor of the request: the acting user (of the
// session or the access token) at the client's address, and how it acts:
// with the access token (its id) or the browser session. Where the user
// who acts is not yet the request's user (a login, a refused access
// token), callers name it explicitly with model.ActorFor.
func (h *Handler) actor(c *fiber.Ctx) model.Actor {
	me, _ := currentUser(c)
	a := model.ActorFor(me, h.clientIP(c).String())
	if t, ok := currentToken(c); ok {
		a.Via = model.ViaToken(t.ID)
		a.TokenCreator = h.tokenCreator(t)
	} else if _, ok := currentSession(c); ok {
		a.Via = model.ViaSession
	}
	return a
}

// tokenCreator names who created t, for the audit: "cli" for the gatehouse
// command (and tokens older than the record of their creator), the
// creator's username, or "user #N" for a creator deleted since.
func (h *Handler) tokenCreator(t model.Token) string {
	if t.CreatedBy == 0 {
		return model.CLIActor.Name
	}
	u, err := h.store.User(t.CreatedBy)
	if err != nil {
		return fmt.Sprintf("user #%d", t.CreatedBy)
	}
	return u.Username
}

func currentSession(c *fiber.Ctx) (model.Session, bool) {
	s, ok := c.Locals(localsSession).(model.Session)
	return s, ok
}

// loadSession attaches the session and user of a valid session cookie to
// the request. It never refuses; requireSession does.
func (h *Handler) loadSession(c *fiber.Ctx) error {
	token := c.Cookies(h.sessionCookieName(c))
	if token == "" {
		return c.Next()
	}
	sess, u, err := h.store.SessionByToken(token, h.sessionPolicy())
	switch {
	case errors.Is(err, model.ErrNotFound):
		return c.Next()
	case err != nil:
		return err
	}
	// Kept exactly in memory, written to disk coarsely by the store.
	if err := h.store.TouchSession(sess.ID); err != nil {
		return err
	}
	c.Locals(localsUser, u)
	c.Locals(localsSession, sess)
	return c.Next()
}

// requireSession refuses requests without a live session: pages redirect
// to the login form, htmx requests get HX-Redirect (htmx would ignore a
// plain 401), the API gets 401 problem+json.
func (h *Handler) requireSession(c *fiber.Ctx) error {
	if _, ok := currentUser(c); ok {
		return c.Next()
	}
	if isHTMX(c) || c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", "/login")
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	if c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead {
		return c.Redirect("/login?next="+url.QueryEscape(c.OriginalURL()), fiber.StatusSeeOther)
	}
	return errStatus(fiber.StatusUnauthorized, "Your session has ended. Log in again.")
}

// sessionCookieName is the session cookie's name for this request: over
// HTTPS the __Host- prefixed name, which browsers accept only when set
// Secure, with Path=/ and no Domain, from a secure origin, so that no
// other host (a sibling subdomain) and no plain-HTTP answer can plant or
// overwrite it (RFC 6265bis §4.1.3.2). Plain HTTP (localhost) cannot set
// such a cookie and keeps the plain name.
func (h *Handler) sessionCookieName(c *fiber.Ctx) string {
	if h.isHTTPS(c) {
		return hostSessionCookie
	}
	return sessionCookie
}

// setSessionCookie sends the session cookie: HttpOnly, SameSite=Lax and
// Secure whenever the request came over HTTPS.
func (h *Handler) setSessionCookie(c *fiber.Ctx, token string) {
	c.Cookie(&fiber.Cookie{Name: h.sessionCookieName(c), Value: token, Path: "/", HTTPOnly: true,
		Secure: h.isHTTPS(c), SameSite: fiber.CookieSameSiteLaxMode,
		Expires: h.now().Add(h.cfg.Sessions.Max)})
}

func (h *Handler) clearSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{Name: h.sessionCookieName(c), Value: "", Path: "/", HTTPOnly: true,
		Secure: h.isHTTPS(c), SameSite: fiber.CookieSameSiteLaxMode, Expires: time.Unix(1, 0)})
}

// deviceToken is the signed value of the device cookie that a browser gets
// at each successful login for an account: it lets that browser keep trying
// when the account is locked by someone else's guessing. The account is
// named by model.UsernameKey(username), the store's own comparison, so no
// other spelling (such as "\u212Aate" for kate) carries the cookie's trust.
func (h *Handler) deviceToken(username string) string {
	nonce := model.RandomToken(12)
	return nonce + "." + model.MAC(h.store.Key(), "device", nonce+"|"+model.UsernameKey(username))
}

// trustedDevice reports whether the request carries a device cookie for
// the account named username (compared as model.UsernameKey does).
func (h *Handler) trustedDevice(c *fiber.Ctx, username string) bool {
	v := c.Cookies(deviceCookie)
	for i := 0; i < len(v); i++ {
		if v[i] == '.' {
			return model.MACEqual(v[i+1:], model.MAC(h.store.Key(), "device", v[:i]+"|"+model.UsernameKey(username)))
		}
	}
	return false
}

// setDeviceCookie gives the browser the device cookie of the account
// named username.
func (h *Handler) setDeviceCookie(c *fiber.Ctx, username string) {
	c.Cookie(&fiber.Cookie{Name: deviceCookie, Value: h.deviceToken(username), Path: "/login",
		HTTPOnly: true, Secure: h.isHTTPS(c), SameSite: fiber.CookieSameSiteStrictMode,
		Expires: h.now().AddDate(1, 0, 0)})
}
