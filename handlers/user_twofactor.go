package handlers

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

const enrollTTL = 10 * time.Minute

// enrollment is a pending TOTP enrolment, bound to the session that began it.
type enrollment struct {
	E         model.TOTPEnrollment
	SessionID string
}

// userTwoFactorShow opens the 2FA dialog of a user: a new enrolment (QR
// code, otpauth URL, secret, code field) when 2FA is off; recovery codes
// and the switch-off form when it is on.
func (h *Handler) userTwoFactorShow(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	if u.TwoFactor {
		return h.renderTwoFactorManage(c, fiber.StatusOK, u, "")
	}
	e, err := model.NewTOTPEnrollment(u, h.now())
	if err != nil {
		return err
	}
	sess, _ := currentSession(c)
	id := h.enrolls.Put(enrollment{E: e, SessionID: sess.ID})
	return h.renderTwoFactorEnroll(c, fiber.StatusOK, u, id, e, "")
}

func (h *Handler) renderTwoFactorEnroll(c *fiber.Ctx, status int, u model.User, id string, e model.TOTPEnrollment, msg string) error {
	png, err := e.QRPNG(240)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "pages/user_twofactor", "partials/user_twofactor_enroll", fiber.Map{
		"Title": "Two-factor authentication", "U": u, "EnrollID": id,
		"QR":  template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		"URL": e.URL, "Secret": e.GroupedSecret(), "Error": msg, "Enroll": true,
	})
}

func (h *Handler) renderTwoFactorManage(c *fiber.Ctx, status int, u model.User, msg string) error {
	return h.render(c, status, "pages/user_twofactor", "partials/user_twofactor_manage", fiber.Map{
		"Title": "Two-factor authentication", "U": u, "Error": msg,
		"RecoveryLeft": len(u.RecoveryHashes),
	})
}

// userTwoFactorEnable confirms an enrolment with a code from the app and
// shows the recovery codes once.
func (h *Handler) userTwoFactorEnable(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	id := postField(c, "enrollment")
	sess, _ := currentSession(c)
	pe, ok := h.enrolls.Get(id)
	if !ok || pe.SessionID != sess.ID || pe.E.UserID != u.ID {
		return errStatus(fiber.StatusGone, "This setup has expired (after 10 minutes). Close the dialog and turn the switch on again.")
	}
	e := pe.E
	e.KeepSession = sess.ID
	codes, err := h.store.EnableTwoFactor(e, postField(c, "code"), h.actor(c))
	if v, ok := model.AsValidation(err); ok && !errors.Is(err, model.ErrConflict) {
		return h.renderTwoFactorEnroll(c, fiber.StatusUnprocessableEntity, u, id, pe.E, v.Fields["code"])
	}
	if err != nil {
		return err
	}
	h.enrolls.Delete(id)
	if u, err = h.store.User(u.ID); err != nil {
		return err
	}
	return h.renderRecoveryCodes(c, u, codes, "Two-factor authentication is on.")
}

func (h *Handler) renderRecoveryCodes(c *fiber.Ctx, u model.User, codes []string, msg string) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("HX-Trigger", "gh-users-changed")
	toast(c, msg)
	text := "Gatehouse recovery codes for " + u.Username + "\nEach code works once in place of a code from the app.\n\n" + strings.Join(codes, "\n") + "\n"
	return h.render(c, fiber.StatusOK, "pages/user_twofactor", "partials/user_twofactor_codes", fiber.Map{
		"Title": "Recovery codes", "U": u, "Codes": codes, "Flash": msg,
		"Download": template.URL("data:text/plain;charset=utf-8," + url.PathEscape(text)),
	})
}

// userTwoFactorCancel throws a pending enrolment away.
func (h *Handler) userTwoFactorCancel(c *fiber.Ctx) error {
	id := postField(c, "enrollment")
	sess, _ := currentSession(c)
	if pe, ok := h.enrolls.Get(id); ok && pe.SessionID == sess.ID {
		h.enrolls.Delete(id)
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	c.Set("HX-Trigger", "gh-dialog-close")
	return c.SendStatus(fiber.StatusNoContent)
}

// reauth checks a credential of the acting user, throttled like a login:
// the password, or, when 2FA is on, a code from the authenticator app or a
// recovery code. It then starts the session's step-up window again
// (stepup.go). When the credential is missing or wrong it returns the
// field and a message for it. Guesses share the per-account limit with
// failed logins and never count as coming from a trusted device: the
// session may be stolen, and a prompt exempt from the account's lock would
// be a password oracle. Five wrong in a row end the session (reauthFailed).
func (h *Handler) reauth(c *fiber.Ctx, password, code string) (field, msg string, err error) {
	me, _ := currentUser(c)
	sess, _ := currentSession(c)
	ip := h.clientIP(c)
	key := model.UsernameKey(me.Username)
	if password == "" && code == "" {
		if me.TwoFactor {
			return "password", "Enter your password or a code from your authenticator app to confirm.", nil
		}
		return "password", "Enter your password to confirm.", nil
	}
	ticket, err := h.reserve(c, ip, key, false, msgTooManyFailures)
	if err != nil {
		return "", "", err
	}
	if password != "" {
		if _, err := h.store.Authenticate(c.UserContext(), me.Username, password); err != nil {
			if errors.Is(err, model.ErrInvalidCredentials) {
				if err := h.reauthFailed(c, "wrong password at re-authentication"); err != nil {
					return "", "", err
				}
				return "password", "That password is not right.", nil
			}
			h.limiter.Refund(ticket)
			return "", "", err
		}
	} else if _, err := h.store.VerifySecondFactor(me.ID, code, h.actor(c)); err != nil {
		if errors.Is(err, model.ErrInvalidCode) {
			if err := h.reauthFailed(c, "wrong code at re-authentication"); err != nil {
				return "", "", err
			}
			return "code", "That code is not right.", nil
		}
		h.limiter.Refund(ticket)
		return "", "", err
	}
	h.limiter.Refund(ticket)
	h.reauthRuns.reset(sess.ID)
	return "", "", h.store.MarkReauth(sess.ID)
}

// userTwoFactorDisable turns 2FA off for a user; the route asks for a
// recent re-authentication (stepUp).
func (h *Handler) userTwoFactorDisable(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	if err := h.store.DisableTwoFactor(u.ID, h.actor(c)); err != nil {
		return err
	}
	if !isHTMX(c) {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	if u, err = h.store.User(u.ID); err != nil {
		return err
	}
	c.Set("HX-Trigger", "gh-dialog-close, gh-users-changed")
	toast(c, "Two-factor authentication of "+u.Username+" is off.")
	c.Set("HX-Retarget", "#flash")
	c.Set("HX-Reswap", "innerHTML")
	return c.Render("partials/flash", fiber.Map{"Flash": "Two-factor authentication of " + u.Username + " is off."})
}

// userRecoveryCodesRegenerate replaces a user's recovery codes and shows
// the new ones.
func (h *Handler) userRecoveryCodesRegenerate(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	codes, err := h.store.RegenerateRecoveryCodes(u.ID, h.actor(c))
	if err != nil {
		return err
	}
	return h.renderRecoveryCodes(c, u, codes, "New recovery codes: the old ones no longer work.")
}
