package handlers

import (
	"net/url"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
)

// routes is the one table of every route.
func (h *Handler) routes(app *fiber.App) {
	app.Use(recover.New())
	app.Use(h.securityHeaders)
	app.Get("/healthz", h.health)
	app.Get("/assets/:hash/*", h.serveAsset)

	app.Use(h.checkOrigin, h.loadSession)
	app.Get("/", h.home)
	app.Get("/login", h.loginShow)
	app.Post("/login", h.loginSubmit)

	auth := app.Group("", h.requireSession, h.requireCSRF)
	auth.Post("/logout", h.logout)

	s := auth.Group("/settings/users")
	s.Get("", h.userList)
	s.Post("", h.userCreate)
	s.Get("/new", h.userNew)
	s.Get("/:id<int>", h.userRow)
	s.Put("/:id<int>", h.userUpdate)
	s.Post("/:id<int>", h.userUpdate) // plain-form fallback for PUT
	s.Get("/:id<int>/edit", h.userEdit)
	s.Get("/:id<int>/password", h.userPasswordForm)
	s.Put("/:id<int>/password", h.userPassword)
	s.Post("/:id<int>/password", h.userPassword)
	s.Get("/:id<int>/delete", h.userDeleteConfirm)
	s.Delete("/:id<int>", h.userDelete)
	s.Get("/:id<int>/2fa", h.twoFactorShow)
	s.Post("/:id<int>/2fa", h.twoFactorEnable)
	s.Post("/:id<int>/2fa/cancel", h.twoFactorCancel)
	s.Delete("/:id<int>/2fa", h.twoFactorDisable)
	s.Post("/:id<int>/2fa/off", h.twoFactorDisable)
	s.Post("/:id<int>/recovery-codes", h.recoveryRegenerate)
	s.Post("/:id<int>/delete", h.userDelete)
}

// securityHeaders sets a strict Content Security Policy (no inline script,
// no eval: htmx runs with allowEval off) and the usual hardening headers.
func (h *Handler) securityHeaders(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("X-Frame-Options", "DENY")
	c.Set("Referrer-Policy", "same-origin")
	c.Set("Cross-Origin-Opener-Policy", "same-origin")
	if h.isHTTPS(c) {
		c.Set("Strict-Transport-Security", "max-age=31536000")
	}
	return c.Next()
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

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
