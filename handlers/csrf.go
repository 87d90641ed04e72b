package handlers

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

const csrfHeader = "X-CSRF-Token"

// csrfToken derives the CSRF token of a session: an HMAC of the session's
// stored hash with the data directory's key. Nothing to store, it survives
// restarts, and it dies with the session.
func (h *Handler) csrfToken(sessionID string) string {
	return model.MAC(h.store.Key(), "csrf", sessionID)
}

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

var errForeignOrigin = errStatus(fiber.StatusForbidden, "This request came from another site and was refused.")

// checkOrigin refuses state-changing requests that a browser marks as
// coming from another site: Sec-Fetch-Site cross-site/same-site, or an
// Origin that is not ours. Requests without either header (curl, old
// browsers) pass; the CSRF token still protects cookie sessions.
func (h *Handler) checkOrigin(c *fiber.Ctx) error {
	if safeMethod(c.Method()) {
		return c.Next()
	}
	switch c.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return errForeignOrigin
	}
	if o := c.Get(fiber.HeaderOrigin); o != "" && !h.sameOrigin(c, o) {
		return errForeignOrigin
	}
	return c.Next()
}

// sameOrigin reports whether origin is the panel's own: the public URL's,
// or the scheme and Host of this request.
func (h *Handler) sameOrigin(c *fiber.Ctx, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if h.public != nil && strings.EqualFold(u.Scheme, h.public.Scheme) && strings.EqualFold(u.Host, h.public.Host) {
		return true
	}
	scheme := "http"
	if h.isHTTPS(c) {
		scheme = "https"
	}
	return strings.EqualFold(u.Scheme, scheme) && strings.EqualFold(u.Host, string(c.Request().Host()))
}

// csrfSource says where a request may carry its CSRF token.
type csrfSource int

const (
	// csrfHeaderOnly: the X-CSRF-Token header only (the API: a body is
	// JSON, never a form).
	csrfHeaderOnly csrfSource = iota
	// csrfHeaderOrForm: the header (htmx, fetch) or the _csrf form field
	// (plain forms without JavaScript).
	csrfHeaderOrForm
)

// csrfValid reports whether the request carries the CSRF token of the
// cookie session sess, where from allows: the one comparison of every
// CSRF check.
func (h *Handler) csrfValid(c *fiber.Ctx, sess model.Session, from csrfSource) bool {
	got := c.Get(csrfHeader)
	if got == "" && from == csrfHeaderOrForm {
		got = postField(c, "_csrf")
	}
	return got != "" && model.MACEqual(got, h.csrfToken(sess.ID))
}

// requireCSRF refuses a state-changing request of a cookie session without
// the session's CSRF token, in the X-CSRF-Token header (htmx, fetch) or the
// _csrf form field (plain forms).
func (h *Handler) requireCSRF(c *fiber.Ctx) error {
	if safeMethod(c.Method()) {
		return c.Next()
	}
	sess, ok := currentSession(c)
	if !ok {
		return c.Next() // requireSession (or bearer auth) decides
	}
	if !h.csrfValid(c, sess, csrfHeaderOrForm) {
		return errStatus(fiber.StatusForbidden, "The form has expired or came from another site. Reload the page and try again.")
	}
	return c.Next()
}

// formField reads a field of the request body only (urlencoded or
// multipart), never of the query string, which c.FormValue prefers: a
// secret in a URL leaks through logs and Referer headers, and a query
// value must not override what the form sent. The value is a copy, safe
// to keep after the handler returns.
func formField(c *fiber.Ctx, name string) (string, bool) {
	if v := c.Request().PostArgs().Peek(name); v != nil {
		return string(v), true
	}
	if f, err := c.MultipartForm(); err == nil {
		if v := f.Value[name]; len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

// postField is formField's value ("" when absent).
func postField(c *fiber.Ctx, name string) string {
	v, _ := formField(c, name)
	return v
}
