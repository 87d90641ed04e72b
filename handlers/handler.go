// Package handlers is Gatehouse's HTTP side: the one route table
// (routes.go), the pages and htmx fragments of the User tab (user_*.go,
// token_*.go, passkey_*.go), login with its second factor and passkeys,
// sessions and CSRF protection (auth.go, csrf.go), the JSON API (api*.go),
// and the errors of all of them (errors.go). A handler parses its input,
// calls the model and renders; the rules live in package model.
//
// The command line (handlers/cli), the control socket it uses while the
// panel runs (handlers/control), the throttling engines (handlers/throttle),
// the pending-ceremony stores (handlers/pending) and the listeners
// (handlers/server) are packages of their own.
package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/assets"
	"github.com/gatehouse-panel/gatehouse/handlers/pending"
	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/templates"
)

// Config is the part of the panel's configuration that the HTTP side uses.
type Config struct {
	// PublicURL is the address users reach the panel at, e.g.
	// http://localhost:8080 or https://panel.example.com.
	PublicURL string
	// TrustedProxies are the peers whose X-Forwarded-* headers are believed.
	TrustedProxies []netip.Prefix
	// Domains are the names served over HTTPS with certmagic certificates
	// (--domain); the first is the WebAuthn RP ID. See webauthn.go.
	Domains []string
	// Sessions bounds how long a login lasts (--session-idle and
	// --session-max).
	Sessions model.SessionPolicy
	// StepUp is how long after signing in or re-authenticating a browser
	// session may make sensitive changes (--step-up; see stepup.go).
	StepUp time.Duration
	// Version is shown in the page footer and `gatehouse version`.
	Version string
	// Limiter configures login throttling; nil means throttle.DefaultConfig.
	Limiter *throttle.Config
}

// DefaultConfig is the configuration without flags or environment; it
// holds the only copy of the defaults (main uses them as flag defaults).
// Callers set PublicURL and Version.
func DefaultConfig() Config {
	return Config{Sessions: model.SessionPolicy{Idle: time.Hour, Max: 12 * time.Hour}, StepUp: 10 * time.Minute}
}

// Handler holds everything the routes need; it has no hidden state.
type Handler struct {
	store *model.Store
	cfg   Config
	now   func() time.Time
	audit *model.AuditBuffer
	// limiter counts failed sign-in steps: passwords, second-factor
	// codes, re-authentications and passkeys, per address and account.
	limiter *throttle.Limiter
	// tokenFailures counts refused access tokens per address, apart from
	// limiter: a script sending a wrong token must not hold back the
	// password login of everyone behind its address (see bearerAuth).
	tokenFailures *throttle.Limiter
	// reauthRuns counts each session's wrong re-authentications in a row.
	reauthRuns *reauthRuns
	// loginStarts limits how often one address may start a passkey login.
	loginStarts *throttle.Rate
	views       *views
	assets      *assetServer
	public      *url.URL
	enrolls     *pending.Store[enrollment]
	logins      *pending.Store[pendingLogin]
	// loginGate bounds the password logins running at once (login_gate.go).
	loginGate *loginGate
	// tokenUses batches the last-use times of access tokens; main runs
	// and stops it.
	tokenUses *model.TokenUseBuffer
	// rp is the WebAuthn relying party and ceremonies its pending
	// challenges (see webauthn.go).
	rp         *relyingParty
	ceremonies passkeyCeremonies
	// hosts are the names requests may carry in Host (see checkHost).
	hosts map[string]bool
	// apiMethods are the API's paths and their methods, read from the
	// route table by App (see apiMethodNotAllowed).
	apiMethods routeMethods
}

// New builds a Handler from cfg (start from DefaultConfig). Templates are
// parsed here, so a broken template stops the start instead of failing a
// request. audit and tokenUses are the batching writers that the caller
// runs (go audit.Run(ctx), go tokenUses.Run(ctx)) and stops after the app
// has shut down.
func New(store *model.Store, cfg Config, audit *model.AuditBuffer, tokenUses *model.TokenUseBuffer) (*Handler, error) {
	if cfg.Sessions.Idle <= 0 || cfg.Sessions.Max <= 0 {
		// A zero policy would end every session at once.
		return nil, fmt.Errorf("handlers: session lifetimes %v (idle) and %v (max) must be positive: start from DefaultConfig",
			cfg.Sessions.Idle, cfg.Sessions.Max)
	}
	if cfg.StepUp <= 0 {
		// A zero window would ask for the password at every change.
		return nil, fmt.Errorf("handlers: step-up window %v must be positive: start from DefaultConfig", cfg.StepUp)
	}
	if store.Key() == nil {
		return nil, errors.New("handlers: the store has no secret key")
	}
	h := &Handler{store: store, cfg: cfg, now: store.Now, audit: audit, tokenUses: tokenUses}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("public URL %q: want http(s)://host[:port]", cfg.PublicURL)
		}
		h.public = u
	}
	h.hosts = allowedHosts(h.public, cfg.Domains)
	lc := throttle.DefaultConfig()
	if cfg.Limiter != nil {
		lc = *cfg.Limiter
	}
	h.limiter = throttle.New(lc, store.Now)
	h.tokenFailures = throttle.New(lc, store.Now)
	h.reauthRuns = newReauthRuns()
	// Starting a passkey login needs no account, and each start holds a
	// challenge: 30 starts a minute per address (DefaultRateConfig says why).
	h.loginStarts = throttle.NewRate(throttle.DefaultRateConfig(), store.Now)
	h.loginGate = newLoginGate()
	h.enrolls = pending.New[enrollment](enrollTTL, 10000, store.Now)
	h.logins = pending.New[pendingLogin](pendingLoginTTL, 10000, store.Now)
	if err := h.initPasskeys(); err != nil {
		return nil, err
	}
	var err error
	if h.assets, err = newAssetServer(assets.FS); err != nil {
		return nil, err
	}
	if h.views, err = newViews(templates.FS, h.templateFuncs()); err != nil {
		return nil, fmt.Errorf("handlers: templates: %w", err)
	}
	return h, nil
}

// bodyLimit bounds every request body; fasthttp refuses a larger one
// before any route (see errorHandler). The route groups bound their
// bodies further (64 KiB for the API and the passkey ceremonies).
const bodyLimit = 1 << 20

// App returns the Fiber application with every route.
func (h *Handler) App() *fiber.App {
	app := fiber.New(fiber.Config{
		Views:                 h.views,
		ErrorHandler:          h.errorHandler,
		DisableStartupMessage: true,
		BodyLimit:             bodyLimit,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        16 << 10,
		// Our own clientIP decides who the client is; see clientip.go.
		ProxyHeader: "",
		// Paths match as the route table writes them: /API/v1/me is not
		// the API. Case-insensitive matching served each resource under
		// many paths, which whatever keys on the path outside the router
		// (a proxy's or firewall's path rules, logs, the OpenAPI
		// document) does not see as the same.
		CaseSensitive: true,
	})
	h.routes(app)
	h.apiMethods = newRouteMethods(app.GetRoutes(true), "/api/")
	// Fiber fills a list of mounted-app keys lazily at the first Render,
	// unguarded, so the first renders racing each other is a data race
	// (fiber v2.52 ctx.go renderExtensions). Render once before any
	// listener serves. The login page needs no state and writes nothing.
	// app.Test serves the request in memory, without a listener.
	if req, err := http.NewRequest(fiber.MethodGet, "http://localhost/login", nil); err == nil {
		if resp, err := app.Test(req, -1); err == nil {
			resp.Body.Close()
		}
	}
	return app
}

func (h *Handler) sessionPolicy() model.SessionPolicy {
	return h.cfg.Sessions
}
