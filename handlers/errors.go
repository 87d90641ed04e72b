package handlers

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// Errors: handlers and middleware return an error, and errorHandler, the
// one Fiber ErrorHandler, turns it into the answer. What the answer looks
// like depends on the route group the request belongs to, never on its
// path:
//
//   - problem+json (RFC 9457) for callers that read JSON: the API, /healthz
//     and the passkey ceremonies that app.js calls with fetch(). routes.go
//     marks those groups with problemAnswers;
//   - everything else is a page: the flash area of the page for htmx
//     requests, the error page otherwise.
//
// Refusals that fasthttp makes before any route runs (a body over the
// BodyLimit, headers too large, a read timeout) belong to no route group:
// fasthttp has discarded the request by then, path included. They answer
// in problem+json, which every client can read; our pages never send such
// requests.

// localsProblems marks a request whose route group answers errors in
// problem+json.
const localsProblems = "gh.problems"

// problemAnswers is the middleware that marks a route group as answering
// errors in problem+json. routes.go puts it in front of every middleware
// that may refuse a request, so that those refusals take that form too.
func problemAnswers(c *fiber.Ctx) error {
	c.Locals(localsProblems, true)
	return c.Next()
}

// wantsProblem reports whether problemAnswers marked the request.
func wantsProblem(c *fiber.Ctx) bool {
	v, _ := c.Locals(localsProblems).(bool)
	return v
}

// httpError is an error with a status and a message safe to show.
type httpError struct {
	status int
	msg    string
	err    error
	// typ is the problem type of the answer in problem+json, when the
	// client can act on it (problemReauthRequired); "" is about:blank.
	typ string
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
	case errors.Is(err, model.ErrLastAdmin):
		return fiber.StatusConflict, "At least one enabled admin must remain: make another user an admin first."
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
// server errors once and shows a safe message, in the form of the
// request's route group.
func (h *Handler) errorHandler(c *fiber.Ctx, err error) error {
	status, msg := statusOf(err)
	if status >= 500 {
		slog.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	if status == fiber.StatusTooManyRequests && c.GetRespHeader(fiber.HeaderRetryAfter) == "" {
		c.Set(fiber.HeaderRetryAfter, "1")
	}
	if !routed(c) {
		// fasthttp refused the request before any route: no route group,
		// no middleware ran (see the top of this file).
		h.setSecurityHeaders(c)
		if status == fiber.StatusRequestEntityTooLarge {
			msg = fmt.Sprintf("The request body is larger than %d MiB.", bodyLimit>>20)
			drainBeforeClose(c)
		}
		return problem(c, status, msg, nil)
	}
	if wantsProblem(c) {
		return typedProblem(c, problemType(err), status, msg, problemFields(err))
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

// routed reports whether the request went through the route table (whose
// first middleware derives the request facts), rather than being refused
// by fasthttp before any route.
func routed(c *fiber.Ctx) bool {
	_, ok := c.Locals(localsFacts).(requestFacts)
	return ok
}

// drainBeforeClose asks the connection to read and discard what the client
// still sends before it closes. fasthttp refuses a body over the limit
// unread and closes the connection after the answer; a client still
// sending the body would get a reset instead of the answer. The listeners
// of handlers/server offer DrainBeforeClose, under TLS on the connection
// that *tls.Conn wraps; app.Test's connections do not, and need not.
func drainBeforeClose(c *fiber.Ctx) {
	conn := c.Context().Conn()
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		conn = tc.NetConn()
	}
	if d, ok := conn.(interface{ DrainBeforeClose() }); ok {
		d.DrainBeforeClose()
	}
}

// problem writes an RFC 9457 problem+json answer. An error answer is
// about this one request, so it is never cached.
func problem(c *fiber.Ctx, status int, detail string, fields map[string]string) error {
	return typedProblem(c, "about:blank", status, detail, fields)
}

// typedProblem is problem with a type other than about:blank.
func typedProblem(c *fiber.Ctx, typ string, status int, detail string, fields map[string]string) error {
	body := fiber.Map{"type": typ, "title": http.StatusText(status), "status": status, "detail": detail}
	if len(fields) > 0 {
		body["errors"] = fields
	}
	if c.GetRespHeader(fiber.HeaderCacheControl) == "" {
		c.Set(fiber.HeaderCacheControl, "no-store")
	}
	c.Status(status)
	return c.JSON(body, "application/problem+json")
}

// problemType returns the problem type an error names, or about:blank.
func problemType(err error) string {
	var he *httpError
	if errors.As(err, &he) && he.typ != "" {
		return he.typ
	}
	return "about:blank"
}

// problemFields returns the per-field messages an error carries, for the
// errors member of a problem answer.
func problemFields(err error) map[string]string {
	var jf *jsonFieldError
	if errors.As(err, &jf) {
		return map[string]string{jf.field: jf.msg}
	}
	if v, ok := model.AsValidation(err); ok {
		return v.Fields
	}
	return nil
}
