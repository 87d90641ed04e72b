package handlers

import (
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

// routes is the one table of every route.
func (h *Handler) routes(app *fiber.App) {
	app.Use(recover.New(), h.deriveRequestFacts)
	// The route groups whose callers read JSON answer every error in
	// problem+json (errors.go): the API, /healthz, and the passkey
	// ceremonies that app.js calls with fetch(). They are marked here,
	// before any middleware that may refuse a request (a compressed body,
	// a foreign origin, a missing session or CSRF token), so that those
	// refusals take that form too; their handlers follow below. The two
	// steps of a passkey registration share their path with the Passkeys
	// dialog, a page, so they are marked by method and path: problemAnswers
	// passes them on to their handlers in the settings group.
	app.Use("/api/*", problemAnswers)
	app.Use("/healthz", problemAnswers)
	app.Use("/login/passkey", problemAnswers)
	app.Post("/settings/users/:id<int>/passkeys/options", problemAnswers)
	app.Post("/settings/users/:id<int>/passkeys", problemAnswers)
	app.Post("/settings/reauth/passkey/options", problemAnswers)
	app.Post("/settings/reauth/passkey", problemAnswers)

	app.Use(h.securityHeaders)
	// Probes (load balancers, container health checks) call by address or
	// by a name of their own: /healthz answers whatever the Host.
	app.Get("/healthz", h.health)
	app.Use(h.checkHost, refuseEncodedBodies)
	app.Get("/assets/:hash/*", h.serveAsset)

	app.Use(h.checkOrigin, h.loadSession)
	app.Get("/", h.home)
	app.Get("/login", h.loginShow)
	app.Post("/login", h.loginSubmit)
	app.Post("/login/passkey/options", h.passkeyLoginOptions)
	app.Post("/login/passkey", h.passkeyLoginFinish)

	// The JSON API, before the session-only group: apiAuth takes a bearer
	// token or the session with its CSRF header.
	app.Get("/api/openapi.json", h.apiOpenAPI)
	// stepUp in front of a handler declares the step-up rule for the
	// route (stepup.go): a browser session must have signed in or
	// re-authenticated within --step-up. Every route that changes how
	// someone signs in or what can act as them declares it;
	// TestStepUpRoutes holds the list.
	// The permission rule follows (permission.go): adminOnly,
	// selfOrAdmin, selfOnly, or anyUser where the handler answers with
	// the caller's own data. TestPermissionMatrix holds every route to
	// one of them.
	api := app.Group("/api/v1", h.apiAuth)
	api.Get("/me", h.anyUser, h.apiMe)
	api.Post("/reauth", h.anyUser, h.apiReauth)
	api.Get("/users", h.anyUser, h.apiUsers)
	api.Post("/users", h.adminOnly, h.stepUp, h.apiUserCreate)
	api.Get("/users/:id<int>", h.selfOrAdmin, h.apiUserGet)
	api.Patch("/users/:id<int>", h.selfOrAdmin, h.stepUp, h.apiUserPatch)
	api.Put("/users/:id<int>/password", h.selfOrAdmin, h.stepUp, h.apiUserPassword)
	api.Delete("/users/:id<int>", h.adminOnly, h.stepUp, h.apiUserDelete)
	api.Delete("/users/:id<int>/2fa", h.selfOrAdmin, h.stepUp, h.apiUserTwoFactorOff)
	api.Get("/users/:id<int>/tokens", h.selfOrAdmin, h.apiTokens)
	api.Post("/users/:id<int>/tokens", h.selfOrAdmin, h.stepUp, h.apiTokenCreate)
	api.Patch("/users/:id<int>/tokens/:tid", h.selfOrAdmin, h.stepUp, h.apiTokenPatch)
	api.Delete("/users/:id<int>/tokens/:tid", h.selfOrAdmin, h.stepUp, h.apiTokenDelete)
	api.Get("/users/:id<int>/passkeys", h.selfOrAdmin, h.apiPasskeys)
	api.Delete("/users/:id<int>/passkeys/:pid", h.selfOrAdmin, h.stepUp, h.apiPasskeyDelete)
	api.Get("/users/:id<int>/sessions", h.selfOrAdmin, h.apiSessions)
	api.Delete("/users/:id<int>/sessions", h.selfOrAdmin, h.apiSessionsEnd)
	api.Delete("/users/:id<int>/sessions/:sid", h.selfOrAdmin, h.apiSessionEnd)
	api.Get("/audit", h.anyUser, h.apiAudit)
	// Known API paths with a method they do not take: 405; unknown API
	// paths: 404. Strangers get 401 before either.
	app.All("/api/*", h.apiAuth, h.apiMethodNotAllowed, h.apiNotFound)

	auth := app.Group("", h.requireSession, h.requireCSRF)
	auth.Post("/logout", h.anyUser, h.logout)
	auth.Get("/settings/reauth", h.anyUser, h.reauthShow)
	auth.Post("/settings/reauth", h.anyUser, h.reauthSubmit)
	auth.Post("/settings/reauth/passkey/options", h.anyUser, h.reauthPasskeyOptions)
	auth.Post("/settings/reauth/passkey", h.anyUser, h.reauthPasskeyFinish)

	auth.Get("/settings/security", h.adminOnly, h.securitySummary)
	// The Sessions and Audit Log views: anyUser, each handler shows a
	// member only their own.
	auth.Get("/settings/sessions", h.anyUser, h.sessionView)
	auth.Get("/settings/audit", h.anyUser, h.auditView)

	s := auth.Group("/settings/users")
	s.Get("", h.anyUser, h.userList)
	s.Post("", h.adminOnly, h.stepUp, h.userCreate)
	s.Get("/new", h.adminOnly, h.userNew)
	s.Get("/:id<int>", h.selfOrAdmin, h.userRow)
	s.Put("/:id<int>", h.selfOrAdmin, h.userUpdate)
	s.Post("/:id<int>", h.selfOrAdmin, h.userUpdate) // plain-form fallback for PUT
	s.Get("/:id<int>/edit", h.selfOrAdmin, h.userEdit)
	s.Post("/:id<int>/role", h.adminOnly, h.stepUp, h.userRoleSet)
	s.Post("/:id<int>/disabled", h.adminOnly, h.stepUp, h.userDisabledSet)
	s.Get("/:id<int>/password", h.selfOrAdmin, h.userPasswordForm)
	s.Put("/:id<int>/password", h.selfOrAdmin, h.stepUp, h.userPassword)
	s.Post("/:id<int>/password", h.selfOrAdmin, h.stepUp, h.userPassword)
	s.Post("/:id<int>/passkeys-and-tokens/delete", h.selfOrAdmin, h.stepUp, h.userRemovePasskeysAndTokens)
	s.Get("/:id<int>/delete", h.adminOnly, h.userDeleteConfirm)
	s.Delete("/:id<int>", h.adminOnly, h.stepUp, h.userDelete)
	s.Get("/:id<int>/2fa", h.selfOnly, h.userTwoFactorShow)
	s.Post("/:id<int>/2fa", h.selfOnly, h.stepUp, h.userTwoFactorEnable)
	s.Post("/:id<int>/2fa/cancel", h.selfOnly, h.userTwoFactorCancel)
	s.Delete("/:id<int>/2fa", h.selfOrAdmin, h.stepUp, h.userTwoFactorDisable)
	s.Post("/:id<int>/2fa/off", h.selfOrAdmin, h.stepUp, h.userTwoFactorDisable)
	s.Post("/:id<int>/recovery-codes", h.selfOnly, h.stepUp, h.userRecoveryCodesRegenerate)
	s.Post("/:id<int>/delete", h.adminOnly, h.stepUp, h.userDelete)
	s.Get("/:id<int>/tokens", h.selfOrAdmin, h.tokenList)
	s.Post("/:id<int>/tokens", h.selfOrAdmin, h.stepUp, h.tokenCreate)
	s.Get("/:id<int>/tokens/:tid/edit", h.selfOrAdmin, h.tokenEdit)
	s.Put("/:id<int>/tokens/:tid", h.selfOrAdmin, h.stepUp, h.tokenUpdate)
	s.Post("/:id<int>/tokens/:tid", h.selfOrAdmin, h.stepUp, h.tokenUpdate) // plain-form fallback for PUT
	s.Get("/:id<int>/tokens/:tid/delete", h.selfOrAdmin, h.tokenDeleteConfirm)
	s.Delete("/:id<int>/tokens/:tid", h.selfOrAdmin, h.stepUp, h.tokenDelete)
	s.Post("/:id<int>/tokens/:tid/delete", h.selfOrAdmin, h.stepUp, h.tokenDelete)
	s.Get("/:id<int>/passkeys", h.selfOrAdmin, h.passkeyList)
	// Registering a passkey is for the user themselves: passkeyOwnUser
	// refuses anyone else with a message naming the user.
	s.Post("/:id<int>/passkeys/options", h.anyUser, h.stepUp, h.passkeyRegisterOptions)
	s.Post("/:id<int>/passkeys", h.anyUser, h.stepUp, h.passkeyRegisterFinish)
	s.Get("/:id<int>/passkeys/:pid/delete", h.selfOrAdmin, h.passkeyDeleteConfirm)
	s.Delete("/:id<int>/passkeys/:pid", h.selfOrAdmin, h.stepUp, h.passkeyDelete)
	s.Post("/:id<int>/passkeys/:pid/delete", h.selfOrAdmin, h.stepUp, h.passkeyDelete) // plain-form fallback for DELETE
	s.Get("/:id<int>/sessions", h.selfOrAdmin, h.sessionList)
	s.Post("/:id<int>/sessions/delete", h.selfOrAdmin, h.sessionsEnd)
	s.Get("/:id<int>/sessions/:sid/delete", h.selfOrAdmin, h.sessionEndConfirm)
	s.Post("/:id<int>/sessions/:sid/delete", h.selfOrAdmin, h.sessionEnd)
}

// securityHeaders sets the headers of every answer (setSecurityHeaders).
func (h *Handler) securityHeaders(c *fiber.Ctx) error {
	h.setSecurityHeaders(c)
	return c.Next()
}

// permissionsPolicy denies the pages every powerful browser feature they
// do not use: should script ever get into a page despite the CSP, it can
// reach no camera, microphone, location or payment. Only passkeys
// (WebAuthn get and create) stay allowed, for the panel's own origin.
const permissionsPolicy = "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), " +
	"fullscreen=(), geolocation=(), gyroscope=(), hid=(), idle-detection=(), magnetometer=(), microphone=(), " +
	"midi=(), payment=(), picture-in-picture=(), publickey-credentials-create=(self), " +
	"publickey-credentials-get=(self), screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()"

// setSecurityHeaders sets a strict Content Security Policy (no inline
// script, no eval: htmx runs with allowEval off), the Permissions-Policy,
// the usual hardening headers, and Cache-Control: no-store. Pages and
// fragments carry personal data (emails, sessions, tokens) and the CSRF
// token, which no browser or proxy cache may keep; the few answers that
// may be cached (content-hashed assets, the API document) replace it.
// errorHandler calls it too, for the answers fasthttp gives before any
// route.
func (h *Handler) setSecurityHeaders(c *fiber.Ctx) {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	c.Set("Permissions-Policy", permissionsPolicy)
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.Set(fiber.HeaderCacheControl, "no-store")
	if h.isHTTPS(c) {
		c.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// errMisdirected refuses a request for a host name that is not the
// panel's. It does not repeat the name: it was chosen by someone else.
var errMisdirected = errStatus(fiber.StatusMisdirectedRequest, "This address does not serve the panel. Open the panel at its own address.")

// checkHost refuses, with 421 Misdirected Request, requests whose Host is
// not one of the panel's names: DNS rebinding. An attacker's page at a
// name they control, rebound to the panel's address (127.0.0.1 or a LAN
// address), is same-origin with itself, so its requests carry its own
// Origin and pass the origin check; only the Host header tells them
// apart. See allowedHosts for the names.
func (h *Handler) checkHost(c *fiber.Ctx) error {
	if !hostAllowed(h.hosts, string(c.Request().Host())) {
		return errMisdirected
	}
	return c.Next()
}

// allowedHosts are the host names the panel answers to: the public URL's
// host (localhost in localhost mode, the proxy's name behind a proxy),
// every --domain, and localhost, which browsers resolve to the loopback
// themselves, so no one else's DNS can point it at us.
func allowedHosts(public *url.URL, domains []string) map[string]bool {
	hosts := map[string]bool{"localhost": true}
	if public != nil {
		hosts[strings.ToLower(public.Hostname())] = true
	}
	for _, d := range domains {
		hosts[strings.ToLower(d)] = true
	}
	return hosts
}

// hostAllowed reports whether a Host header names the panel: one of hosts,
// or an address literal (127.0.0.1, [::1], a LAN address: rebinding needs
// a name, and curl to the listen address must keep working), on any port
// (the port is the one the client connected to, whatever the name).
func hostAllowed(hosts map[string]bool, host string) bool {
	name := host
	if i := strings.LastIndexByte(host, ':'); i > strings.LastIndexByte(host, ']') {
		port := host[i+1:]
		if port == "" || strings.Trim(port, "0123456789") != "" {
			return false
		}
		name = host[:i]
	}
	if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		a, err := netip.ParseAddr(name[1 : len(name)-1])
		return err == nil && a.Is6() && a.Zone() == ""
	}
	if a, err := netip.ParseAddr(name); err == nil {
		return a.Is4() // IPv6 only in brackets
	}
	return hosts[strings.ToLower(name)]
}

// routeMethods lists the paths of a group of routes with the methods each
// takes, to answer a known path called with another method with 405 and
// an Allow header (RFC 9110 § 15.5.6). Fiber answers 405 only when no
// route at all matched, which our catch-all for unknown API paths
// prevents. It is read from the routes themselves (App builds it after
// the route table), so the table stays the one list of routes.
type routeMethods []routePath

// routePath is one path of routeMethods.
type routePath struct {
	// segments of the path: a literal, or a parameter (":name", digits
	// only for ":name<int>").
	segments []string
	methods  []string
}

// newRouteMethods collects the routes under prefix, except wildcards.
func newRouteMethods(routes []fiber.Route, prefix string) routeMethods {
	var rm routeMethods
	index := map[string]int{}
	for _, r := range routes {
		if !strings.HasPrefix(r.Path, prefix) || strings.ContainsAny(r.Path, "*+") {
			continue
		}
		i, ok := index[r.Path]
		if !ok {
			i = len(rm)
			index[r.Path] = i
			rm = append(rm, routePath{segments: strings.Split(strings.Trim(r.Path, "/"), "/")})
		}
		if !slices.Contains(rm[i].methods, r.Method) {
			rm[i].methods = append(rm[i].methods, r.Method)
		}
	}
	for _, e := range rm {
		slices.SortFunc(e.methods, func(a, b string) int { return methodRank(a) - methodRank(b) })
	}
	return rm
}

// allow returns the methods that path takes, as an Allow header value, or
// "" when no route has that path.
func (rm routeMethods) allow(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, e := range rm {
		if len(e.segments) != len(segs) {
			continue
		}
		match := true
		for i, p := range e.segments {
			switch {
			case strings.HasSuffix(p, "<int>") && strings.HasPrefix(p, ":"):
				_, err := strconv.Atoi(segs[i])
				match = err == nil
			case strings.HasPrefix(p, ":"):
				match = segs[i] != ""
			default:
				match = p == segs[i]
			}
			if !match {
				break
			}
		}
		if match {
			return strings.Join(e.methods, ", ")
		}
	}
	return ""
}

// methodRank orders methods in Allow headers: reads first, as RFC 9110
// lists them.
func methodRank(m string) int {
	for i, o := range []string{fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete} {
		if m == o {
			return i
		}
	}
	return 100
}

// apiMethodNotAllowed answers 405 with Allow to a known API path called
// with a method it does not take; unknown paths go on to apiNotFound.
func (h *Handler) apiMethodNotAllowed(c *fiber.Ctx) error {
	allow := h.apiMethods.allow(c.Path())
	if allow == "" {
		return c.Next()
	}
	c.Set(fiber.HeaderAllow, allow)
	return errStatus(fiber.StatusMethodNotAllowed, "This API path does not take "+c.Method()+"; it takes "+allow+".")
}

func (h *Handler) health(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"status": "ok"})
}

func (h *Handler) home(c *fiber.Ctx) error {
	if _, ok := currentUser(c); ok {
		return c.Redirect("/settings/users", fiber.StatusSeeOther)
	}
	return c.Redirect("/login", fiber.StatusSeeOther)
}

// refuseEncodedBodies answers 415 to request bodies with a
// Content-Encoding: fasthttp would inflate them without a bound when a
// handler reads the form or body, so a 1 MB gzip bomb could take
// gigabytes. Browsers and API clients send plain bodies.
func refuseEncodedBodies(c *fiber.Ctx) error {
	if ce := c.Get(fiber.HeaderContentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
		return errStatus(fiber.StatusUnsupportedMediaType, "Compressed request bodies are not accepted.")
	}
	return c.Next()
}
