package handlers

import (
	"errors"
	"log/slog"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// A passkey as the re-authentication of the step-up rule: a WebAuthn
// assertion (§7.2) by one of the signed-in user's own passkeys, with user
// verification, bound to the browser session that asked for it. app.js
// runs it from the "Use a passkey" button of the re-authentication form.

// reauthPasskeyUser returns the signed-in user with the passkeys that work
// under the panel's RP ID, as go-webauthn's user (409 without any).
func (h *Handler) reauthPasskeyUser(me model.User) (*waUser, error) {
	list, err := h.store.Passkeys(me.ID)
	if err != nil {
		return nil, err
	}
	var creds []webauthn.Credential
	for _, p := range list {
		if p.RPID == h.rp.id {
			creds = append(creds, toCredential(p))
		}
	}
	if len(creds) == 0 {
		return nil, errStatus(fiber.StatusConflict, "You have no passkey for this panel: confirm with your password.")
	}
	handle, err := h.store.PasskeyHandle(me.ID)
	if err != nil {
		return nil, err
	}
	return &waUser{u: me, handle: handle, creds: creds}, nil
}

// reauthPasskeyOptions starts a passkey re-authentication: options that
// allow only the user's own credentials.
func (h *Handler) reauthPasskeyOptions(c *fiber.Ctx) error {
	if ok, why := h.passkeysAvailable(c); !ok {
		return errStatus(fiber.StatusForbidden, why)
	}
	me, _ := currentUser(c)
	sess, _ := currentSession(c)
	wu, err := h.reauthPasskeyUser(me)
	if err != nil {
		return err
	}
	assertion, session, err := h.rp.wa.BeginLogin(wu, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return err
	}
	h.ceremonies.register.PutAt(session.Challenge, ceremony{reauth: true, session: *session, userID: me.ID, sessionID: sess.ID})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(assertion)
}

// reauthPasskeyFinish verifies the assertion and starts the session's
// step-up window again (204). A refused passkey counts against the
// account like a wrong password at re-authentication: no trusted-device
// pass, and five refusals in a row end the session (reauthFailed).
func (h *Handler) reauthPasskeyFinish(c *fiber.Ctx) error {
	if ok, why := h.passkeysAvailable(c); !ok {
		return errStatus(fiber.StatusForbidden, why)
	}
	me, _ := currentUser(c)
	sess, _ := currentSession(c)
	ticket, err := h.reserve(c, h.clientIP(c), model.UsernameKey(me.Username), false, msgTooManyFailures)
	if err != nil {
		return err
	}
	fail := func(reason string) error {
		if err := h.reauthFailed(c, "passkey at re-authentication: "+truncate(reason, 200)); err != nil {
			return err
		}
		return errStatus(fiber.StatusUnauthorized, "This passkey was not accepted. Try again, or confirm with your password.")
	}
	body, err := ceremonyBody(c)
	if err != nil {
		return fail(err.Error())
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return fail(describeWebAuthnError(err))
	}
	cer, ok := h.ceremonies.register.Take(parsed.Response.CollectedClientData.Challenge)
	if !ok || !cer.reauth || cer.userID != me.ID || cer.sessionID != sess.ID {
		return fail("unknown, used or expired challenge")
	}
	wu, err := h.reauthPasskeyUser(me)
	if err != nil {
		h.limiter.Refund(ticket)
		return err
	}
	cred, err := h.rp.wa.ValidateLogin(wu, cer.session, parsed)
	if err != nil {
		return fail(describeWebAuthnError(err))
	}
	use := model.PasskeyUse{
		SignCount:      parsed.Response.AuthenticatorData.Counter,
		Flags:          byte(cred.Flags.ProtocolValue()),
		UserVerified:   cred.Flags.UserVerified,
		BackupEligible: parsed.Response.AuthenticatorData.Flags.HasBackupEligible(),
		BackupState:    parsed.Response.AuthenticatorData.Flags.HasBackupState(),
	}
	_, err = h.store.RecordPasskeyUse(cred.ID, use, h.actor(c))
	switch {
	case errors.Is(err, model.ErrPasskeyCloned):
		slog.Warn("passkey re-authentication refused: signature counter went backwards (possible cloned authenticator)",
			"user", me.Username, "counter", use.SignCount)
		return fail("signature counter went backwards")
	case errors.Is(err, model.ErrNotFound):
		return fail("passkey deleted during the re-authentication")
	case err != nil:
		h.limiter.Refund(ticket)
		return err
	}
	h.limiter.Refund(ticket)
	h.reauthRuns.reset(sess.ID)
	if err := h.store.MarkReauth(sess.ID); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
