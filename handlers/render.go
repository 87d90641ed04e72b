package handlers

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
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
		// ago and age are the readable text of a <time> element without
		// JavaScript: "3 days ago", "12 days" (the exact time goes into
		// its title).
		"ago": func(t time.Time) string { return relTime(t, h.now()) },
		"age": func(t time.Time) string { return ageText(h.now().Sub(t)) },
		// advice holds the thresholds of the security advice in days, for
		// the texts that name them.
		"advice": newAdviceDays,
		// passwordRule gives the numbers of model.ValidatePassword to the
		// password fields' rule text and to app.js, which shows while
		// typing which parts are met (the server stays the authority).
		"passwordRule": func() passwordRule {
			return passwordRule{MinLen: model.PasswordMinLen, MaxLen: model.PasswordMaxLen, MinClasses: model.PasswordMinClasses}
		},
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

// relTime says when t was (or will be) relative to now: "just now", "5
// minutes ago", "3 days ago", "in 2 hours"; "Never" for the zero time,
// which marks something that has not happened yet (a first sign-in).
func relTime(t, now time.Time) string {
	if t.IsZero() {
		return "Never"
	}
	d := now.Sub(t)
	switch {
	case d > -time.Minute && d < time.Minute:
		return "just now"
	case d < 0:
		return "in " + ageText(-d)
	}
	return ageText(d) + " ago"
}

// ageText says a duration in its largest whole unit, rounded down:
// "less than a minute", "1 minute", "5 hours", "12 days", "2 years".
// Days run up to a year, so an age is comparable with the thresholds
// of the security advice (180 and 90 days).
func ageText(d time.Duration) string {
	const day = 24 * time.Hour
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", n, unit)
	}
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return plural(int64(d/time.Minute), "minute")
	case d < day:
		return plural(int64(d/time.Hour), "hour")
	case d < 365*day:
		return plural(int64(d/day), "day")
	}
	return plural(int64(d/(365*day)), "year")
}

// adviceDays are the thresholds of the security advice (model) in days.
type adviceDays struct {
	PasswordDays, UnusedDays, TokenDays int
}

// newAdviceDays converts the model's thresholds.
func newAdviceDays() adviceDays {
	const day = 24 * time.Hour
	return adviceDays{PasswordDays: int(model.PasswordMaxAge / day), UnusedDays: int(model.UnusedAfter / day),
		TokenDays: int(model.TokenFarExpiry / day)}
}

// passwordRule is the password rule's numbers (model.ValidatePassword).
type passwordRule struct {
	MinLen, MaxLen, MinClasses int
}
