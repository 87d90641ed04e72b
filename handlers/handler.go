// Package handlers owns Gatehouse's HTTP side: the routes, the pages and
// htmx fragments of the User tab, login and sessions, CSRF protection and
// throttling, and the control socket that the CLI uses while the panel runs.
package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/template/html/v2"

	"github.com/gatehouse-panel/gatehouse/assets"
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
	// Session lifetimes.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// Version is shown in the page footer and `gatehouse version`.
	Version string
	// Limiter configures login throttling; zero means DefaultLimiterConfig.
	Limiter *LimiterConfig
}

// Handler holds everything the routes need; it has no hidden state.
type Handler struct {
	store   *model.Store
	cfg     Config
	now     func() time.Time
	audit   *model.AuditBuffer
	limiter *LoginLimiter
	// challenges throttles passkey login starts per address.
	challenges *LoginLimiter
	views      *html.Engine
	assets     *assetServer
	public     *url.URL
	enrolls    *pendingStore[enrollment]
	logins     *pendingStore[pendingLogin]
	// tokenUses batches the last-use times of access tokens; main runs
	// and stops it.
	tokenUses *model.TokenUseBuffer
	// rp is the WebAuthn relying party and ceremonies its pending
	// challenges (see webauthn.go).
	rp         *relyingParty
	ceremonies passkeyCeremonies
}

// New builds a Handler. Templates are parsed here, so a broken template
// stops the start instead of failing a request. audit and tokenUses are
// the batching writers that the caller runs (go audit.Run(ctx), go
// tokenUses.Run(ctx)) and stops after the app has shut down.
func New(store *model.Store, cfg Config, audit *model.AuditBuffer, tokenUses *model.TokenUseBuffer) (*Handler, error) {
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = time.Hour
	}
	if cfg.SessionMax == 0 {
		cfg.SessionMax = 12 * time.Hour
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
	lc := DefaultLimiterConfig()
	if cfg.Limiter != nil {
		lc = *cfg.Limiter
	}
	h.limiter = NewLoginLimiter(lc, store.Now)
	// Starting a passkey login needs no account, and each start holds a
	// challenge for 5 minutes: 30 starts a minute per address (per /64)
	// are plenty for people and autofill, and keep a flood from pushing
	// real users' challenges out of the bounded store.
	h.challenges = NewLoginLimiter(LimiterConfig{Window: time.Minute, IPFree: 30, IPBaseDelay: time.Second,
		IPMaxDelay: time.Minute, UserMaxFailures: 1 << 30, MaxIPs: 10000, MaxUsers: 1}, store.Now)
	h.enrolls = newPendingStore[enrollment](enrollTTL, 10000, store.Now)
	h.logins = newPendingStore[pendingLogin](pendingLoginTTL, 10000, store.Now)
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
	if resp, err := app.Test(httptest.NewRequest(fiber.MethodGet, "/login", nil), -1); err == nil {
		resp.Body.Close()
	}
	return app
}

func (h *Handler) sessionPolicy() model.SessionPolicy {
	return model.SessionPolicy{Idle: h.cfg.SessionIdle, Max: h.cfg.SessionMax}
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
