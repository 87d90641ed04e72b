package handlers

import (
	"errors"
	"log/slog"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// passkeyOwnUser is the check both steps of a registration begin with: it
// loads the :id user and checks that it is the acting user (only the
// person who will use a passkey can create it, on their device), and that
// passkeys are available here. It returns the refusal to answer with.
func (h *Handler) passkeyOwnUser(c *fiber.Ctx) (model.User, error) {
	u, err := h.userParam(c)
	if err != nil {
		return model.User{}, errStatus(fiber.StatusForbidden, "This user does not exist (any more). Reload the page.")
	}
	me, _ := currentUser(c)
	if me.ID != u.ID {
		return model.User{}, errStatus(fiber.StatusForbidden, "Only "+u.Username+" can add a passkey, signed in as "+u.Username+": a passkey is created on the device of the person who uses it.")
	}
	if ok, why := h.passkeysAvailable(c); !ok {
		return model.User{}, errStatus(fiber.StatusConflict, why)
	}
	return u, nil
}

// passkeyRegisterOptions starts the registration of a passkey for the
// acting user (WebAuthn §5.4 options): a discoverable credential (resident
// key required) with user verification, excluding the user's existing
// passkeys (§5.4 excludeCredentials), and asking for the credProps
// extension so we learn whether the credential really is discoverable. The
// name is checked here, before the user touches the authenticator.
func (h *Handler) passkeyRegisterOptions(c *fiber.Ctx) error {
	u, err := h.passkeyOwnUser(c)
	if err != nil {
		return err
	}
	name := strings.TrimSpace(postField(c, "name"))
	if err := model.ValidatePasskeyName(name); err != nil {
		return errStatus(fiber.StatusUnprocessableEntity, sentence(err.Error()))
	}
	// One handle per user, made at the first start and kept: every
	// registration, also two started at once, uses the same.
	handle, err := h.store.WebAuthnHandle(u.ID)
	if err != nil {
		return err
	}
	list, err := h.store.Passkeys(u.ID)
	if err != nil {
		return err
	}
	var exclude []protocol.CredentialDescriptor
	for _, p := range list {
		if p.RPID == h.rp.id {
			cred := toCredential(p)
			exclude = append(exclude, cred.Descriptor())
		}
	}
	creation, session, err := h.rp.wa.BeginRegistration(&waUser{u: u, handle: handle},
		webauthn.WithExclusions(exclude),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	)
	if err != nil {
		return err
	}
	sess, _ := currentSession(c)
	h.ceremonies.register.PutAt(session.Challenge, ceremony{session: *session, userID: u.ID, sessionID: sess.ID, handle: handle, name: name})
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(creation)
}

// passkeyRegisterFinish verifies the new credential (WebAuthn §7.1) and
// stores it with the name given at the start. The ceremony must have been
// begun by this browser session for this user.
func (h *Handler) passkeyRegisterFinish(c *fiber.Ctx) error {
	u, err := h.passkeyOwnUser(c)
	if err != nil {
		return err
	}
	body, err := ceremonyBody(c)
	if err != nil {
		return err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		slog.Info("passkey registration refused", "user", u.Username, "reason", describeWebAuthnError(err))
		return errStatus(fiber.StatusBadRequest, "The browser's passkey answer could not be read.")
	}
	sess, _ := currentSession(c)
	cer, ok := h.ceremonies.register.Take(parsed.Response.CollectedClientData.Challenge)
	if !ok || cer.login || cer.reauth || cer.userID != u.ID || cer.sessionID != sess.ID {
		return errStatus(fiber.StatusBadRequest, "This registration expired (after 5 minutes) or was already used. Try again.")
	}
	cred, err := h.rp.wa.CreateCredential(&waUser{u: u, handle: cer.handle}, cer.session, parsed)
	if err != nil {
		slog.Info("passkey registration refused", "user", u.Username, "reason", describeWebAuthnError(err))
		return errStatus(fiber.StatusBadRequest, "The passkey was not accepted. Try again.")
	}
	// credProps (WebAuthn §10.1.3): a client that says the credential is
	// not discoverable made one we cannot use for usernameless login.
	if rk := cred.Extensions.RK; rk != nil && !*rk {
		return errStatus(fiber.StatusBadRequest, "This authenticator cannot store a passkey (a discoverable credential). Use another one.")
	}
	p, err := h.store.AddPasskey(u.ID, cer.handle, fromCredential(cred, h.rp.id, cer.name), h.actor(c))
	if errors.Is(err, model.ErrConflict) {
		return errStatus(fiber.StatusConflict, "This passkey is already registered.")
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": p.ID, "name": p.Name})
}

// sentence starts a model message with a capital letter and ends it with
// a full stop, for showing it on its own.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
