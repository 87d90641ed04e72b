package handlers

import (
	"github.com/gofiber/fiber/v2"
)

// The step-up rule. Every action that changes how someone signs in or what
// can act as them (passwords, 2FA, recovery codes, access tokens,
// passkeys, creating and deleting users) needs, from a browser session, a
// re-authentication within the last Config.StepUp (--step-up, 10 minutes
// by default): the password, a code from the authenticator app, or in the
// panel one of the user's passkeys (stepup_passkey.go). Signing in counts, so nothing is asked in the first minutes after a login. A
// session cookie that someone copied therefore does not let them add a
// way in of their own (a token, a passkey, a password they know) or take
// the owner's away.
//
// routes.go declares the rule per route, by putting stepUp in front of the
// handler, and TestStepUpRoutes lists every route that changes something
// with whether it asks, so a new route must be declared one way or the
// other. Bearer tokens never step up: a token is a credential of its own,
// and its user decides what it may do.

// problemReauthRequired is the problem type of the API's step-up refusal.
// It is a tag URI (RFC 4151): a name, not a page to fetch.
const problemReauthRequired = "tag:gatehouse-panel,2026:problems/reauth-required"

// reauthHeader marks the panel's step-up refusal of an htmx request, so
// that app.js can send the refused request again after the
// re-authentication.
const reauthHeader = "Gatehouse-Reauth"

// errReauthRequired is the API's step-up refusal.
var errReauthRequired = &httpError{status: fiber.StatusForbidden, typ: problemReauthRequired,
	msg: "This change needs a recent re-authentication: POST /api/v1/reauth with your password or a code, then try again."}

// stepUp is the middleware of the step-up rule. The API and the passkey
// ceremonies (problem+json routes) get 403 errReauthRequired; htmx
// requests get the inline re-authentication form, shown in the dialog the
// request came from; plain forms get the re-authentication page.
func (h *Handler) stepUp(c *fiber.Ctx) error {
	if _, bearer := currentToken(c); bearer || h.reauthFresh(c) {
		return c.Next()
	}
	if wantsProblem(c) {
		return errReauthRequired
	}
	if isHTMX(c) {
		c.Set(reauthHeader, "required")
		c.Set("HX-Retarget", "#flash")
		c.Set("HX-Reswap", "innerHTML")
	}
	return h.renderReauth(c, fiber.StatusForbidden, "/settings/users", "", "")
}

// reauthFresh reports whether the acting session signed in or
// re-authenticated within the step-up window.
func (h *Handler) reauthFresh(c *fiber.Ctx) bool {
	s, ok := currentSession(c)
	return ok && s.AuthenticatedWithin(h.cfg.StepUp, h.now())
}

// renderReauth renders the re-authentication form: a fragment for htmx,
// else a page. next is where the plain form goes after it; field and msg
// say what was wrong with the last try.
func (h *Handler) renderReauth(c *fiber.Ctx, status int, next, field, msg string) error {
	return h.render(c, status, "pages/session_reauth", "partials/session_reauth", fiber.Map{
		"Title": "Confirm it is you", "Next": safeNext(next), "Field": field, "Error": msg,
		"Window": shortWindow(h.cfg.StepUp.String()),
	})
}

// shortWindow writes a duration as a person reads it: 10m, not 10m0s.
func shortWindow(s string) string {
	for _, suffix := range []string{"m0s", "h0m"} {
		if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
			s = s[:len(s)-2]
		}
	}
	return s
}

// reauthShow shows the re-authentication form: for the passkey
// registration, which app.js runs with fetch and so gets the refusal as
// problem+json rather than the form, and for plain pages.
func (h *Handler) reauthShow(c *fiber.Ctx) error {
	return h.renderReauth(c, fiber.StatusOK, c.Query("next"), "", "")
}

// reauthSubmit checks the password or code of the form. On success an
// htmx request gets HX-Trigger gh-reauth-done, on which app.js sends the
// refused request again; a plain form goes on to next.
func (h *Handler) reauthSubmit(c *fiber.Ctx) error {
	next := postField(c, "next")
	field, msg, err := h.reauth(c, postField(c, "password"), postField(c, "code"))
	if err != nil {
		// Throttled: the message goes in the form, which stays.
		if status, text := statusOf(err); status == fiber.StatusTooManyRequests {
			return h.renderReauth(c, status, next, "password", text)
		}
		return err
	}
	if msg != "" {
		return h.renderReauth(c, fiber.StatusUnprocessableEntity, next, field, msg)
	}
	if !isHTMX(c) {
		return c.Redirect(safeNext(next), fiber.StatusSeeOther)
	}
	c.Set("HX-Trigger", "gh-reauth-done")
	return c.Render("partials/session_reauth_done", fiber.Map{})
}

// apiReauth is POST /api/v1/reauth: {"password"} or {"code"} → 204, and
// the session may make sensitive changes for the step-up window. Only
// browser sessions re-authenticate: a bearer token gets 403, as it never
// needs to.
func (h *Handler) apiReauth(c *fiber.Ctx) error {
	var in struct {
		Password string `json:"password"`
		Code     string `json:"code"`
	}
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if _, bearer := currentToken(c); bearer {
		return errStatus(fiber.StatusForbidden, "Access tokens do not re-authenticate: they never need to. Re-authenticate a browser session.")
	}
	field, msg, err := h.reauth(c, in.Password, in.Code)
	if err != nil {
		return err
	}
	if msg != "" {
		return &httpError{status: fiber.StatusUnprocessableEntity, msg: msg, err: &jsonFieldError{field: field, msg: msg}}
	}
	return c.SendStatus(fiber.StatusNoContent)
}
