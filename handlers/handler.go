// Package handlers owns Gatehouse's HTTP side: the routes, the pages and
// htmx fragments of the User tab, login and sessions, CSRF protection and
// throttling, and the control socket that the CLI uses while the panel runs.
package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/template/html/v2"

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
	// Version is shown in the page footer and `gatehouse version`.
	Version string
	// Limiter configures login throttling; nil means throttle.DefaultConfig.
	Limiter *throttle.Config
}

// DefaultConfig is the configuration without flags or environment; it
// holds the only copy of the defaults (main uses them as flag defaults).
// Callers set PublicURL and Version.
func DefaultConfig() Config {
	return Config{Sessions: model.SessionPolicy{Idle: time.Hour, Max: 12 * time.Hour}}
}

// Handler holds everything the routes need; it has no hidden state.
type Handler struct {
	store   *model.Store
	cfg     Config
	now     func() time.Time
	audit   *model.AuditBuffer
	limiter *throttle.Limiter
	// loginStarts limits how often one address may start a passkey login.
	loginStarts *throttle.Rate
	views       *html.Engine
	assets      *assetServer
	public      *url.URL
	enrolls     *pending.Store[enrollment]
	logins      *pending.Store[pendingLogin]
	// tokenUses batches the last-use times of access tokens; main runs
	// and stops it.
	tokenUses *model.TokenUseBuffer
	// rp is the WebAuthn relying party and ceremonies its pending
	// challenges (see webauthn.go).
	rp         *relyingParty
	ceremonies passkeyCeremonies
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
	lc := throttle.DefaultConfig()
	if cfg.Limiter != nil {
		lc = *cfg.Limiter
	}
	h.limiter = throttle.New(lc, store.Now)
	// Starting a passkey login needs no account, and each start holds a
	// challenge: 30 starts a minute per address (DefaultRateConfig says why).
	h.loginStarts = throttle.NewRate(throttle.DefaultRateConfig(), store.Now)
	h.enrolls = pending.New[enrollment](enrollTTL, 10000, store.Now)
	h.logins = pending.New[pendingLogin](pendingLoginTTL, 10000, store.Now)
	if err := h.initPasskeys(); err != nil {
		return nil, err
	}
	var err error
	if h.assets, err = newAssetServer(assets.FS); err != nil {
		return nil, err
	}
	h.views = html.NewFileSystem(http.FS(templates.FS), ".html")
	h.views.AddFuncMap(h.templateFuncs())
	if err := h.views.Load(); err != nil {
		return nil, fmt.Errorf("handlers: templates: %w", err)
	}
	return h, nil
}

// App returns the Fiber application with every route.
func (h *Handler) App() *fiber.App {
	app := fiber.New(fiber.Config{
		Views:                 h.views,
		ErrorHandler:          h.errorHandler,
		DisableStartupMessage: true,
		BodyLimit:             1 << 20,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           120 * time.Second,
		ReadBufferSize:        16 << 10,
		// Our own clientIP decides who the client is; see clientip.go.
		ProxyHeader: "",
	})
	h.routes(app)
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

// httpError is an error with a status and a message safe to show.
type httpError struct {
	status int
	msg    string
	err    error
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *httpError) Unwrap() error { return e.err }

func errStatus(status int, msg string) error { return &httpError{status: status, msg: msg} }

// statusOf maps an error to an HTTP status and a message safe to show.
func statusOf(err error) (int, string) {
	var he *httpError
	var fe *fiber.Error
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.As(err, &fe):
		return fe.Code, fe.Message
	case errors.Is(err, model.ErrLastUser):
		return fiber.StatusConflict, "The last user cannot be deleted: create another user first."
	case errors.Is(err, model.ErrConflict):
		if v, ok := model.AsValidation(err); ok {
			return fiber.StatusConflict, v.Error()
		}
		return fiber.StatusConflict, "This change conflicts with existing data."
	case errors.Is(err, model.ErrNotFound):
		return fiber.StatusNotFound, "Not found."
	case errors.Is(err, model.ErrBusy):
		return fiber.StatusTooManyRequests, "The server is busy. Try again in a moment."
	}
	if v, ok := model.AsValidation(err); ok {
		return fiber.StatusUnprocessableEntity, v.Error()
	}
	return fiber.StatusInternalServerError, "Something went wrong on the server. The error was logged."
}

// errorHandler is the one place that turns errors into answers: it logs
// server errors once and shows a safe message.
func (h *Handler) errorHandler(c *fiber.Ctx, err error) error {
	status, msg := statusOf(err)
	if status >= 500 {
		slog.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	if status == fiber.StatusTooManyRequests && c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if strings.HasPrefix(c.Path(), "/api/") || c.Path() == "/healthz" {
		return h.problem(c, status, msg, problemFields(err))
	}
	c.Status(status)
	if isHTMX(c) {
		// Show the message in the page's flash area, wherever the request
		// meant to swap.
		c.Set("HX-Retarget", "#flash")
		c.Set("HX-Reswap", "innerHTML")
		return c.Render("partials/flash", fiber.Map{"Error": msg})
	}
	return c.Render("pages/error", h.pageData(c, fiber.Map{"Title": http.StatusText(status), "Error": msg, "Status": status}), "layouts/base")
}

// problem writes an RFC 9457 problem+json answer.
func (h *Handler) problem(c *fiber.Ctx, status int, detail string, fields map[string]string) error {
	body := fiber.Map{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail}
	if len(fields) > 0 {
		body["errors"] = fields
	}
	c.Status(status)
	c.Set(fiber.HeaderContentType, "application/problem+json")
	return c.JSON(body, "application/problem+json")
}
