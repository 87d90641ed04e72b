package handlers

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/handlers/pending"
	"github.com/gatehouse-panel/gatehouse/model"
)

// Passkeys (WebAuthn) need a secure context, and the origin's effective
// domain must be a valid domain (WebAuthn §5.1.3 and §5.1.4.1: an IP
// address never is), so they are offered only in three setups:
//
//   - HTTPS with a certmagic certificate (--domain): the RP ID is the first
//     domain and the origins are https://DOMAIN[:port] of every domain;
//   - behind a TLS-terminating proxy (--trusted-proxy and an https
//     --public-url): the RP ID is the public URL's host;
//   - plain HTTP at http://localhost (a secure context in browsers, e.g.
//     through an SSH tunnel); http://127.0.0.1 is not: browsers refuse an
//     IP address as RP ID.
//
// The RP ID and origins come from the configuration only, never from a
// request's Host header, which the client chooses.

const (
	// ceremonyTTL is how long a WebAuthn challenge stays valid.
	ceremonyTTL = 5 * time.Minute
	// ceremonyBodyLimit bounds the JSON a browser sends back from
	// navigator.credentials.create/get.
	ceremonyBodyLimit = 64 << 10
)

// relyingParty is the panel's WebAuthn configuration, derived once from
// Config at start.
type relyingParty struct {
	// id is the RP ID; "" when passkeys are unavailable.
	id string
	// origins are the allowed origins (scheme://host[:port]).
	origins []string
	// mode is "domain", "proxy" or "localhost".
	mode string
	// why says what to configure when passkeys are unavailable.
	why string
	// plainHTTP marks a panel configured for plain HTTP at another
	// address than localhost: passkeysAvailable then advises for the
	// address of each request.
	plainHTTP bool
	wa        *webauthn.WebAuthn
}

// newRelyingParty applies the availability rule to cfg.
func newRelyingParty(cfg Config, public *url.URL) (*relyingParty, error) {
	rp := &relyingParty{}
	port := ""
	if public != nil && public.Port() != "" {
		port = ":" + public.Port()
	}
	switch {
	case len(cfg.Domains) > 0:
		rp.mode = "domain"
		rp.id = strings.ToLower(cfg.Domains[0])
		for _, d := range cfg.Domains {
			rp.origins = append(rp.origins, "https://"+strings.ToLower(d)+port)
		}
	case public != nil && public.Scheme == "https" && len(cfg.TrustedProxies) > 0:
		rp.mode = "proxy"
		rp.id = strings.ToLower(public.Hostname())
		rp.origins = []string{"https://" + strings.ToLower(public.Host)}
	case public != nil && public.Scheme == "http" && strings.EqualFold(public.Hostname(), "localhost"):
		rp.mode = "localhost"
		rp.id = "localhost"
		rp.origins = []string{"http://" + strings.ToLower(public.Host)}
	case public != nil && public.Scheme == "https":
		rp.why = "The public URL is https, but no --trusted-proxy is set, so the panel cannot tell that requests came over HTTPS. " +
			"Pass --trusted-proxy with the address of your TLS-terminating proxy."
	default:
		// Plain HTTP at a host name or address other than localhost: what
		// to do depends on the address the browser is at (passkeyAdvice).
		rp.plainHTTP = true
	}
	if rp.id == "" {
		return rp, nil
	}
	if net.ParseIP(rp.id) != nil {
		rp.id, rp.origins, rp.mode = "", nil, ""
		rp.why = "Passkeys need a domain name: browsers refuse an IP address as WebAuthn relying party. " +
			"Use --domain or a --public-url with a host name."
		return rp, nil
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          rp.id,
		RPDisplayName: "Gatehouse",
		RPOrigins:     rp.origins,
		// No attestation: we do not restrict authenticator models, and
		// "none" keeps the user's device private (WebAuthn §5.4.7).
		AttestationPreference: protocol.PreferNoAttestation,
		// Discoverable credentials (usernameless login) with user
		// verification (a passkey login is complete, no second factor).
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: ceremonyTTL, TimeoutUVD: ceremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("handlers: webauthn: %w", err)
	}
	rp.wa = wa
	return rp, nil
}

// initPasskeys sets up the relying party and the ceremony store.
func (h *Handler) initPasskeys() error {
	rp, err := newRelyingParty(h.cfg, h.public)
	if err != nil {
		return err
	}
	h.rp = rp
	// Two stores: anyone may start a login, so a flood of login
	// ceremonies must not push out the registrations of signed-in users.
	h.ceremonies = passkeyCeremonies{
		login:    pending.New[ceremony](ceremonyTTL, 10000, h.now),
		register: pending.New[ceremony](ceremonyTTL, 1000, h.now),
	}
	return nil
}

// passkeysAvailable reports whether passkeys can be used on this request,
// and if not, what to do about it.
func (h *Handler) passkeysAvailable(c *fiber.Ctx) (bool, string) {
	rp := h.rp
	// The advice names the address the browser is at: checkHost let the
	// request in, so it is one of the panel's names or an IP address.
	host := strings.ToLower(string(c.Request().Host()))
	if rp != nil && rp.plainHTTP {
		return false, passkeyAdvice(requestHostname(host), h.publicHostname(), "")
	}
	if rp == nil || rp.id == "" {
		why := "Passkeys are not available."
		if rp != nil {
			why = rp.why
		}
		return false, why
	}
	switch rp.mode {
	case "domain":
		if !c.Context().IsTLS() {
			return false, "Open the panel over HTTPS at " + rp.origins[0] + " to use passkeys."
		}
		hostname := host
		if hn, _, err := net.SplitHostPort(host); err == nil {
			hostname = hn
		}
		if hostname != rp.id && !strings.HasSuffix(hostname, "."+rp.id) {
			return false, "Passkeys of this panel belong to " + rp.id + ": open it at " + rp.origins[0] + "."
		}
	case "proxy":
		// The browser's origin is the public URL whatever Host the proxy
		// forwards; what matters is that the request came through it.
		if !h.isHTTPS(c) {
			return false, "Open the panel through its proxy at " + rp.origins[0] + " to use passkeys."
		}
	case "localhost":
		if "http://"+host != rp.origins[0] {
			if name := requestHostname(host); name != "localhost" {
				return false, passkeyAdvice(name, "", rp.origins[0])
			}
			return false, "Open the panel at " + rp.origins[0] + " (the address it is configured for) to use passkeys."
		}
	}
	return true, ""
}

// requestHostname is the host name or address of a Host header, without
// the port and the brackets of an IPv6 address.
func requestHostname(host string) string {
	if hn, _, err := net.SplitHostPort(host); err == nil {
		return hn
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// publicHostname is the host name of the public URL, or "" when there is
// none or it is an IP address.
func (h *Handler) publicHostname() string {
	if h.public == nil || net.ParseIP(h.public.Hostname()) != nil {
		return ""
	}
	return strings.ToLower(h.public.Hostname())
}

// passkeyAdvice says why passkeys do not work over plain HTTP at the
// address at (a host name or an IP address) and what would make them work.
// Browsers allow WebAuthn only in a secure context (HTTPS, or
// http://localhost) and never at an IP address (WebAuthn §5.1.4.1). name
// is the panel's host name to put in the HTTPS options ("" for none);
// localURL is the http://localhost address the panel is configured for,
// if it is.
func passkeyAdvice(at, name, localURL string) string {
	var b strings.Builder
	switch {
	case net.ParseIP(at) != nil:
		b.WriteString("Passkeys need HTTPS and a host name: browsers refuse passkeys at an IP address such as " + at + ". ")
	case at == "localhost":
		b.WriteString("Passkeys need HTTPS, or plain HTTP at localhost with the panel configured for it " +
			"(--public-url http://localhost:PORT, or no --public-url). ")
	default:
		b.WriteString("Passkeys need HTTPS: browsers allow them over plain HTTP only at localhost, and this panel is served over plain HTTP at " + at + ". ")
		if name == "" {
			name = at
		}
	}
	b.WriteString(httpsOptions(name))
	if localURL != "" {
		b.WriteString(" On the computer the panel runs on, or through an SSH tunnel to it, they work at " + localURL + ".")
	}
	return b.String()
}

// httpsOptions names the two ways to serve the panel over HTTPS at the
// host name name (an example name when "").
func httpsOptions(name string) string {
	if name == "" {
		name = "panel.example.com"
	}
	return "Serve the panel over HTTPS: start it with --domain " + name + " (a certificate is obtained automatically), " +
		"or put it behind a TLS-terminating reverse proxy and start it with --public-url https://" + name +
		" and --trusted-proxy with the proxy's address."
}

// passkeyCeremonies hold the pending WebAuthn ceremonies by challenge.
type passkeyCeremonies struct {
	login, register *pending.Store[ceremony]
}

// ceremony is the server-side state of one WebAuthn ceremony between its
// options and its answer, keyed by its challenge: taken once, and dead
// after ceremonyTTL.
type ceremony struct {
	login bool
	// reauth marks a re-authentication with a passkey (stepup_passkey.go),
	// kept with the registrations of signed-in users.
	reauth  bool
	session webauthn.SessionData
	// Registration: who registers, from which browser session, under
	// which user handle and name.
	userID    int
	sessionID string
	handle    []byte
	name      string
	// Login: where to go afterwards.
	next string
}

// waUser adapts a panel user to go-webauthn's User.
type waUser struct {
	u      model.User
	handle []byte
	creds  []webauthn.Credential
}

func (w *waUser) WebAuthnID() []byte                         { return w.handle }
func (w *waUser) WebAuthnName() string                       { return w.u.Username }
func (w *waUser) WebAuthnDisplayName() string                { return w.u.Username }
func (w *waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

// toCredential converts a stored passkey to go-webauthn's credential
// record, flags included: the library compares BE with the stored value
// (WebAuthn §6.1.3), so it must be what the authenticator said at
// registration.
func toCredential(p model.Passkey) webauthn.Credential {
	ts := make([]protocol.AuthenticatorTransport, len(p.Transports))
	for i, t := range p.Transports {
		ts[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:                p.CredentialID,
		PublicKey:         p.PublicKey,
		AttestationType:   p.AttestationType,
		AttestationFormat: p.AttestationFormat,
		Transport:         ts,
		Flags:             webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(p.Flags)),
		Authenticator: webauthn.Authenticator{
			AAGUID:     p.AAGUID,
			SignCount:  p.SignCount,
			Attachment: protocol.AuthenticatorAttachment(p.Attachment),
		},
	}
}

// fromCredential turns a verified new credential into a passkey record.
func fromCredential(c *webauthn.Credential, rpID, name string) model.Passkey {
	ts := make([]string, len(c.Transport))
	for i, t := range c.Transport {
		ts[i] = string(t)
	}
	return model.Passkey{
		RPID:              rpID,
		Name:              name,
		CredentialID:      c.ID,
		PublicKey:         c.PublicKey,
		AAGUID:            c.Authenticator.AAGUID,
		SignCount:         c.Authenticator.SignCount,
		Transports:        ts,
		Flags:             byte(c.Flags.ProtocolValue()),
		UserVerified:      c.Flags.UserVerified,
		BackupEligible:    c.Flags.BackupEligible,
		BackupState:       c.Flags.BackupState,
		AttestationType:   c.AttestationType,
		AttestationFormat: c.AttestationFormat,
		Attachment:        string(c.Authenticator.Attachment),
	}
}

// The ceremonies answer the fetch() calls of app.js: JSON, and every
// refusal a problem+json answer (their routes are marked for errorHandler,
// see routes.go) whose detail app.js shows.

// ceremonyBody returns a copy of the JSON body of a ceremony answer, or the
// 400 error to answer when there is none or it is too large.
func ceremonyBody(c *fiber.Ctx) ([]byte, error) {
	// The raw body: c.Body() would inflate a Content-Encoding first, with
	// no bound (refuseEncodedBodies refuses those in front of every route).
	body := c.Request().Body()
	switch {
	case len(body) == 0:
		return nil, errStatus(fiber.StatusBadRequest, "The browser sent no passkey.")
	case len(body) > ceremonyBodyLimit:
		return nil, errStatus(fiber.StatusBadRequest, "The passkey answer is too large.")
	}
	return append([]byte(nil), body...), nil
}

// describeWebAuthnError turns a go-webauthn error into log detail (the
// library's DevInfo says which check failed).
func describeWebAuthnError(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return pe.Details + ": " + pe.DevInfo
	}
	return err.Error()
}
