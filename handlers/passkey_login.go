package handlers

import (
	"errors"
	"log/slog"
	"net/netip"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
)

// errOtherRP is a passkey registered while the panel ran under another
// RP ID: the browser would not offer it here, and it cannot verify.
var errOtherRP = errors.New("passkey registered for another relying party id")

// errPasskeyUnknown refuses a passkey login with a passkey the panel does
// not know (any more).
var errPasskeyUnknown = errStatus(fiber.StatusUnauthorized,
	"This passkey is not registered with this panel (any more). Sign in with your password.")

// passkeyLoginGuard is the check both steps of a passkey login begin
// with: passkeys must be available here, and the address must not be
// throttled. It charges the attempt to the address (see reserve); a
// refusal comes back as the error to answer with.
func (h *Handler) passkeyLoginGuard(c *fiber.Ctx, ip netip.Addr) (throttle.Ticket, error) {
	if ok, why := h.passkeysAvailable(c); !ok {
		return throttle.Ticket{}, errStatus(fiber.StatusForbidden, why)
	}
	return h.reserve(c, ip, "", false, msgTooManyFailures)
}

// passkeyLoginOptions starts a usernameless login: WebAuthn §5.5 options
// with an empty allowCredentials list, so the authenticator offers its
// discoverable credentials for our RP ID, and user verification required.
// app.js calls it for the "Sign in with a passkey" button and for browser
// autofill (conditional mediation). The challenge stays server-side.
func (h *Handler) passkeyLoginOptions(c *fiber.Ctx) error {
	ip := h.clientIP(c)
	ticket, err := h.passkeyLoginGuard(c, ip)
	if err != nil {
		return err
	}
	// Starting is no guess: a throttled address is refused above, but the
	// start itself does not count as a failure.
	h.limiter.Refund(ticket)
	if ok, wait := h.loginStarts.Allow(ip); !ok {
		return throttled(c, msgTooManyPasskeyStarts, wait)
	}
	assertion, session, err := h.rp.wa.BeginDiscoverableLogin()
	if err != nil {
		return err
	}
	h.ceremonies.login.PutAt(session.Challenge, ceremony{login: true, session: *session, next: postField(c, "next")})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(assertion)
}

// passkeyLoginFinish verifies the assertion of a passkey login (WebAuthn
// §7.2) and starts a session. With user verification required this is a
// complete login: no second-factor step follows. Failures count towards the
// per-address login throttling.
func (h *Handler) passkeyLoginFinish(c *fiber.Ctx) error {
	ip := h.clientIP(c)
	// The answer counts as a failed attempt until it has verified.
	ticket, err := h.passkeyLoginGuard(c, ip)
	if err != nil {
		return err
	}
	// fail audits a failed login, of u when the passkey named one (the
	// user is not signed in, so the actor is named explicitly), and
	// returns refusal.
	fail := func(refusal error, reason string, u model.User) error {
		actor := model.Actor{IP: ip.String()}
		if u.ID != 0 {
			actor = model.ActorFor(u, ip.String())
			actor.Via = model.ViaPasskey
		}
		h.audit.Add(actor, model.EventLoginFailed, u.ID, u.Username, "passkey: "+truncate(reason, 200))
		return refusal
	}
	body, err := ceremonyBody(c)
	if err != nil {
		return fail(err, err.Error(), model.User{})
	}
	// Fiber's c.Body is reused after the handler: parse a copy
	// (ParseCredentialRequestResponseBytes, not the net/http helper).
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return fail(errStatus(fiber.StatusBadRequest, "The browser's passkey answer could not be read."), describeWebAuthnError(err), model.User{})
	}
	cer, ok := h.ceremonies.login.Take(parsed.Response.CollectedClientData.Challenge)
	if !ok || !cer.login {
		return fail(errStatus(fiber.StatusBadRequest, "This sign-in request expired (after 5 minutes) or was already used. Try again."),
			"unknown, used or expired challenge", model.User{})
	}
	var (
		found bool
		owner model.User
	)
	lookup := func(rawID, _ []byte) (webauthn.User, error) {
		p, u, handle, err := h.store.PasskeyByCredentialID(rawID)
		if err != nil {
			return nil, err
		}
		owner = u
		if p.RPID != h.rp.id {
			return nil, errOtherRP
		}
		found = true
		// The library checks the user handle of the answer against ours
		// (WebAuthn §7.2 step 6) and verifies with this credential only.
		return &waUser{u: u, handle: handle, creds: []webauthn.Credential{toCredential(p)}}, nil
	}
	_, cred, err := h.rp.wa.ValidatePasskeyLogin(lookup, cer.session, parsed)
	if err != nil {
		if !found {
			return fail(errPasskeyUnknown, describeWebAuthnError(err), owner)
		}
		return fail(errStatus(fiber.StatusUnauthorized, "This passkey was not accepted. Try again, or sign in with your password."),
			describeWebAuthnError(err), owner)
	}
	flags := parsed.Response.AuthenticatorData.Flags
	use := model.PasskeyUse{
		// The counter of this assertion: the library keeps the stored one
		// when it suspects a clone, and the store decides (§7.2 step 22).
		SignCount:      parsed.Response.AuthenticatorData.Counter,
		Flags:          byte(cred.Flags.ProtocolValue()),
		UserVerified:   cred.Flags.UserVerified,
		BackupEligible: flags.HasBackupEligible(),
		BackupState:    flags.HasBackupState(),
	}
	actor := model.ActorFor(owner, ip.String())
	actor.Via = model.ViaPasskey
	_, err = h.store.RecordPasskeyUse(cred.ID, use, actor)
	switch {
	case errors.Is(err, model.ErrPasskeyCloned):
		slog.Warn("passkey login refused: signature counter went backwards (possible cloned authenticator)",
			"user", owner.Username, "ip", ip.String(), "counter", use.SignCount)
		return errStatus(fiber.StatusUnauthorized, "This passkey was refused: its signature counter went backwards, "+
			"which can mean that it was copied. Sign in with your password and check your passkeys.")
	case errors.Is(err, model.ErrNotFound):
		return fail(errPasskeyUnknown, "passkey deleted during the login", owner)
	case err != nil:
		h.limiter.Refund(ticket) // nothing was decided
		return err
	}
	h.limiter.Refund(ticket)
	if err := h.startSession(c, owner, "passkey"); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"redirect": safeNext(cer.next)})
}
