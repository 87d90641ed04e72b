package handlers

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// isHTMX reports whether htmx sent the request to swap a fragment (a
// history restore wants the whole page).
func isHTMX(c *fiber.Ctx) bool {
	return c.Get("HX-Request") == "true" && c.Get("HX-History-Restore-Request") != "true"
}

// render sends the fragment for htmx requests and the full page otherwise.
// Both depend on HX-Request, so caches must keep them apart.
func (h *Handler) render(c *fiber.Ctx, status int, page, fragment string, data fiber.Map) error {
	c.Vary("HX-Request")
	c.Status(status)
	data = h.pageData(c, data)
	if fragment != "" && isHTMX(c) {
		return c.Render(fragment, data)
	}
	return c.Render(page, data, "layouts/base")
}

// pageData adds what every template needs: the acting user, the CSRF token,
// asset paths and the version.
func (h *Handler) pageData(c *fiber.Ctx, data fiber.Map) fiber.Map {
	if data == nil {
		data = fiber.Map{}
	}
	if u, ok := currentUser(c); ok {
		data["Me"] = u
	}
	if s, ok := currentSession(c); ok {
		data["CSRF"] = h.csrfToken(s.ID)
	}
	data["Version"] = h.cfg.Version
	// Nav names the active tab of the top bar; the User tab unless the
	// view says otherwise.
	if _, ok := data["Nav"]; !ok {
		data["Nav"] = "users"
	}
	// The login page offers "Sign in with a passkey" where passkeys work.
	data["PasskeyLogin"], _ = h.passkeysAvailable(c)
	return data
}

func (h *Handler) templateFuncs() map[string]any {
	return map[string]any{
		"asset": h.assetPath,
		"timefmt": func(t time.Time) string {
			if t.IsZero() {
				return "Never"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		// htmxConfig is the JSON for <meta name="htmx-config">: swap 422
		// and 409 answers (forms with messages; expected, so not logged as
		// htmx errors), 403 (mostly the step-up rule's re-authentication
		// form, expected too) and errors into #flash; no eval, no inline
		// styles, so the CSP can forbid both.
		"htmxConfig": func() template.HTMLAttr {
			return template.HTMLAttr(`content='{"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"4(03|09|22)","swap":true},{"code":"[45]..","swap":true,"error":true}],"methodsThatUseUrlParams":["get"],"allowEval":false,"includeIndicatorStyles":false,"historyCacheSize":0,"selfRequestsOnly":true}'`)
		},
		"hxheaders": func(token string) template.HTMLAttr {
			return template.HTMLAttr(fmt.Sprintf(`hx-headers='{"X-CSRF-Token":"%s"}'`, template.JSEscapeString(token)))
		},
		"lower": strings.ToLower,
	}
}
