package handlers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// The JSON API (/api/v1) shares the model calls of the pages. It answers
// with JSON, and with RFC 9457 problem+json for every error (its route
// group is marked for errorHandler, see errors.go).

const (
	// apiBodyLimit bounds API request bodies.
	apiBodyLimit = 64 << 10
	localsToken  = "gh.token"
	// wwwAuthenticate is the challenge of a 401 answer (RFC 6750 §3).
	wwwAuthenticate = `Bearer realm="gatehouse"`
)

var (
	errAPIUnauthenticated = errStatus(fiber.StatusUnauthorized,
		"Authentication required: send Authorization: Bearer <token>, or use a browser session with the X-CSRF-Token header.")
	errAPIBadToken = errStatus(fiber.StatusUnauthorized, "The access token is invalid.")
	errAPIExpired  = errStatus(fiber.StatusUnauthorized, "The access token has expired.")
	errAPIReadOnly = errStatus(fiber.StatusForbidden,
		"This access token is read-only: it may make only GET and HEAD requests. Use a token with the write scope, or change its scope with Modify.")
	errAPICSRF = errStatus(fiber.StatusForbidden,
		"A browser session must send its CSRF token in the X-CSRF-Token header for this request.")
)

// currentToken returns the access token that authenticated the request.
func currentToken(c *fiber.Ctx) (model.Token, bool) {
	t, ok := c.Locals(localsToken).(model.Token)
	return t, ok
}

// parseBearer reads the token of an Authorization header of the Bearer
// scheme (RFC 6750 §2.1: the scheme is case-insensitive, then one or more
// spaces, then the token). It returns false for any other header.
func parseBearer(header string) (string, bool) {
	const scheme = "bearer"
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) || header[len(scheme)] != ' ' {
		return "", false
	}
	token := strings.TrimLeft(header[len(scheme):], " ")
	token = strings.TrimRight(token, " \t")
	if token == "" || strings.ContainsAny(token, " \t") || len(token) > 512 {
		return "", false
	}
	return token, true
}

// apiAuth authenticates an /api/v1 request: with an access token in the
// Authorization header, or else with the browser session (loadSession ran
// before) plus, for state-changing requests, the session's CSRF token in
// the X-CSRF-Token header.
func (h *Handler) apiAuth(c *fiber.Ctx) error {
	if _, ok := currentToken(c); ok {
		return c.Next() // checked already (the /api/* catch-all after /api/v1)
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if header := c.Get(fiber.HeaderAuthorization); header != "" {
		return h.bearerAuth(c, header)
	}
	if _, ok := currentUser(c); !ok {
		c.Set(fiber.HeaderWWWAuthenticate, wwwAuthenticate)
		return errAPIUnauthenticated
	}
	if !safeMethod(c.Method()) {
		sess, _ := currentSession(c)
		if !h.csrfValid(c, sess, csrfHeaderOnly) {
			return errAPICSRF
		}
	}
	return c.Next()
}

// bearerAuth checks an access token. The token is looked up first (a
// hash and one read by key): a genuine, allowed, unexpired token is never
// refused for throttling, since its 256 bits cannot be guessed, and a
// misconfigured script next to it must not lock its owner out. Every
// refusal (unknown, malformed, expired, outside the white list) is charged
// to the client address in h.tokenFailures, a limiter of its own, so
// wrong tokens hold back token attempts only and never the password login
// of the address. A throttled refusal is answered 429 before it is
// audited, which keeps the audit events one address can cause bounded.
// Expiry and the white list are checked only once the token is proven
// genuine, so that their answers do not confirm that a token id exists.
func (h *Handler) bearerAuth(c *fiber.Ctx, header string) error {
	ip := h.clientIP(c)
	value, ok := parseBearer(header)
	var t model.Token
	var u model.User
	err := model.ErrNotFound
	if ok {
		t, u, err = h.store.TokenByValue(value)
	}
	if err != nil && !errors.Is(err, model.ErrNotFound) {
		return err
	}
	now := h.now()
	if err == nil && !t.Expired(now) && t.AllowsIP(ip) {
		// The one check of a token's scope, before any handler runs: a
		// read token changes nothing, whatever route it calls.
		if m := c.Method(); t.ReadOnly() && m != fiber.MethodGet && m != fiber.MethodHead {
			return errAPIReadOnly
		}
		h.tokenUses.Record(t.Hash, now, ip.String())
		c.Locals(localsUser, u)
		c.Locals(localsSession, nil) // the token, not a cookie, acts here
		c.Locals(localsToken, t)
		return c.Next()
	}
	// A refusal counts as a failure of the address, the refusals of a
	// genuine token too: otherwise a leaked token could flood the audit
	// log with refusals at full speed.
	if _, refused := h.reserveOn(h.tokenFailures, c, ip, "", false, msgTooManyAddressFailures); refused != nil {
		return refused
	}
	if err != nil { // unknown or malformed
		h.audit.Add(model.Actor{IP: ip.String()}, model.EventTokenRefused, 0, "", "unknown or malformed token")
		c.Set(fiber.HeaderWWWAuthenticate, wwwAuthenticate+`, error="invalid_token"`)
		return errAPIBadToken
	}
	// A genuine token refused: the event names the token that acted.
	actor := model.ActorFor(u, ip.String())
	actor.Via = model.ViaToken(t.ID)
	switch {
	case t.Expired(now):
		h.audit.Add(actor, model.EventTokenRefused, u.ID, u.Username, "token "+t.ID+": expired")
		c.Set(fiber.HeaderWWWAuthenticate, wwwAuthenticate+`, error="invalid_token", error_description="expired"`)
		return errAPIExpired
	default:
		h.audit.Add(actor, model.EventTokenRefused, u.ID, u.Username, "token "+t.ID+": address not on the white list")
		return errStatus(fiber.StatusForbidden, "This access token may not be used from "+ip.String()+": the address is not on its IP white list.")
	}
}

// apiNotFound answers unknown /api paths.
func (h *Handler) apiNotFound(c *fiber.Ctx) error {
	return errStatus(fiber.StatusNotFound, "No such API route: see /api/openapi.json.")
}

// decodeJSON reads the request body into dst: Content-Type
// application/json, at most 64 KiB, valid UTF-8 (checked first:
// encoding/json would silently replace invalid bytes), one JSON object
// with no unknown fields and nothing after it. Every failure is a 4xx.
// Compressed bodies never get here: refuseEncodedBodies refuses them in
// front of every route.
func decodeJSON(c *fiber.Ctx, dst any) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEApplicationJSON {
		return errStatus(fiber.StatusUnsupportedMediaType, "The body must be JSON, sent with Content-Type: application/json.")
	}
	// The raw body: c.Body() would decompress without a bound.
	body := c.Request().Body()
	if len(body) > apiBodyLimit {
		return errStatus(fiber.StatusRequestEntityTooLarge, fmt.Sprintf("The body is larger than %d KiB.", apiBodyLimit>>10))
	}
	return decodeJSONBytes(body, dst)
}

// decodeJSONBytes is the part of decodeJSON that reads the bytes.
func decodeJSONBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errStatus(fiber.StatusBadRequest, "The body is empty: send a JSON object.")
	}
	if !utf8.Valid(body) {
		return errStatus(fiber.StatusBadRequest, "The body is not valid UTF-8.")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if trimmed[0] != '{' {
		return errStatus(fiber.StatusBadRequest, "The body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err, dst)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errStatus(fiber.StatusBadRequest, "The body has data after the JSON object.")
	}
	return nil
}

// jsonFieldError is a body whose JSON is well-formed but does not fit: an
// unknown field or a value of the wrong type. It carries the field for the
// problem's errors map.
type jsonFieldError struct {
	field string
	msg   string
}

// Error names the field and what is wrong with it.
func (e *jsonFieldError) Error() string { return e.field + ": " + e.msg }

// fieldProblem is an answer with status about one field of the body.
func fieldProblem(status int, field, msg string) error {
	return &httpError{status: status, msg: "The body does not fit the API: " + field + ": " + msg + ".",
		err: &jsonFieldError{field: field, msg: msg}}
}

// jsonError maps an encoding/json error to an answer; dst is what was
// decoded into, to name the type a field wants.
func jsonError(err error, dst any) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return errStatus(fiber.StatusBadRequest, fmt.Sprintf("The body is not valid JSON (at byte %d).", syn.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errStatus(fiber.StatusBadRequest, "The body is not valid JSON: it ends too early.")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return errStatus(fiber.StatusBadRequest, "The body must be a JSON object.")
		}
		want := typ.Type
		if ft, ok := jsonFieldType(dst, strings.Split(field, ".")[0]); ok {
			want = ft
		}
		return fieldProblem(fiber.StatusUnprocessableEntity, field, "must be "+jsonTypeName(want))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return fieldProblem(fiber.StatusBadRequest, name, "unknown field")
	}
	return errStatus(fiber.StatusBadRequest, "The body is not valid JSON.")
}

// jsonFieldType returns the type of the field of struct *dst whose JSON
// name is name.
func jsonFieldType(dst any, name string) (reflect.Type, bool) {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name {
			return f.Type, true
		}
	}
	return nil, false
}

func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(jsonTypeName(t.Elem()), "a "), "an ") + "s"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Float64:
		return "a number"
	}
	return "an object"
}

// apiTime is a time answered as an RFC 3339 string in UTC, whole seconds.
type apiTime time.Time

// MarshalText writes the time as RFC 3339 text; JSON shows it as a string.
//
// It is a TextMarshaler rather than a json.Marshaler: encoding/json
// quotes a text as it is, but checks and compacts every byte a
// MarshalJSON returns, which cost a list of users a quarter of its time.
func (t apiTime) MarshalText() ([]byte, error) {
	return time.Time(t).UTC().AppendFormat(make([]byte, 0, len(time.RFC3339)), time.RFC3339), nil
}

// optTime is nil for a zero time (answered as null).
func optTime(t time.Time) *apiTime {
	if t.IsZero() {
		return nil
	}
	at := apiTime(t)
	return &at
}

// apiList is the shape of every list answer.
type apiList[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

func newList[T any](items []T, total int) apiList[T] {
	if items == nil {
		items = []T{}
	}
	return apiList[T]{Items: items, Total: total}
}

// apiUser is a user as the API shows it: never a password hash, TOTP
// secret or recovery code hash.
type apiUser struct {
	ID        int     `json:"id"`
	Username  string  `json:"username"`
	Email     string  `json:"email"`
	TwoFactor bool    `json:"two_factor"`
	Passkeys  int     `json:"passkeys"`
	CreatedAt apiTime `json:"created_at"`
	Role      string  `json:"role"`
	Disabled  bool    `json:"disabled"`
	// LastLoginAt is null until the user first signs in.
	LastLoginAt       *apiTime `json:"last_login_at"`
	PasswordChangedAt apiTime  `json:"password_changed_at"`
}

func toAPIUser(u model.User) apiUser {
	out := apiUser{ID: u.ID, Username: u.Username, Email: u.Email, TwoFactor: u.TwoFactor,
		Passkeys: u.Passkeys, CreatedAt: apiTime(u.CreatedAt), Role: u.Role, Disabled: u.Disabled,
		PasswordChangedAt: apiTime(u.PasswordChangedAt)}
	if !u.LastLoginAt.IsZero() {
		t := apiTime(u.LastLoginAt)
		out.LastLoginAt = &t
	}
	return out
}

// apiToken is an access token as the API shows it. Token holds the value
// only in the answer to its creation; the stored hash is never shown.
type apiToken struct {
	ID         string   `json:"id"`
	UserID     int      `json:"user_id"`
	IPs        []string `json:"ips"`
	CreatedAt  apiTime  `json:"created_at"`
	ExpiresAt  apiTime  `json:"expires_at"`
	Expired    bool     `json:"expired"`
	LastUsedAt *apiTime `json:"last_used_at"`
	LastUsedIP *string  `json:"last_used_ip"`
	// Scope is "read" (GET and HEAD only) or "write".
	Scope string `json:"scope"`
	// CreatedBy is the id of the user who created the token; 0 for the
	// gatehouse command and for tokens made before the creator was kept.
	CreatedBy int    `json:"created_by"`
	Token     string `json:"token,omitempty"`
}

func toAPIToken(t model.Token, now time.Time) apiToken {
	ips := t.IPs
	if ips == nil {
		ips = []string{}
	}
	out := apiToken{ID: t.ID, UserID: t.UserID, IPs: ips, CreatedAt: apiTime(t.CreatedAt),
		ExpiresAt: apiTime(t.ExpiresAt), Expired: t.Expired(now), LastUsedAt: optTime(t.LastUsedAt),
		Scope: t.Scope, CreatedBy: t.CreatedBy}
	if t.LastUsedIP != "" {
		ip := t.LastUsedIP
		out.LastUsedIP = &ip
	}
	return out
}

// apiPasskey is a passkey as the API shows it.
type apiPasskey struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	CreatedAt  apiTime  `json:"created_at"`
	LastUsedAt *apiTime `json:"last_used_at"`
}

// apiAuditEvent is one audit log entry: the event, who acted (Actor, null
// for the CLI and outsiders) and how (Via), on whom, from where, and how
// many times for an aggregate of outside failures (Count, 1 otherwise).
// Event and Action are the same; Action is the older name.
type apiAuditEvent struct {
	ID        uint64         `json:"id"`
	Time      apiTime        `json:"time"`
	Event     string         `json:"event"`
	Action    string         `json:"action"`
	Actor     *apiAuditActor `json:"actor"`
	ActorID   *int           `json:"actor_id"`
	ActorName string         `json:"actor_name"`
	Via       *string        `json:"via"`
	// TokenCreatedBy names who created the acting token, for via
	// token:<tid>; null otherwise.
	TokenCreatedBy *string `json:"token_created_by"`
	TargetID       *int    `json:"target_id"`
	Target         string  `json:"target"`
	IP             string  `json:"ip"`
	Detail         string  `json:"detail"`
	Count          int     `json:"count"`
}

// apiAuditActor is the user who acted.
type apiAuditActor struct {
	ID       int    `json:"id"`
	Username string `json:"username"`
}

func newAPIAuditEvent(e model.AuditEvent) apiAuditEvent {
	out := apiAuditEvent{ID: e.ID, Time: apiTime(e.Time), Event: e.Action, Action: e.Action,
		ActorID: optID(e.ActorID), ActorName: e.Actor, TargetID: optID(e.TargetID), Target: e.Target,
		IP: e.IP, Detail: e.Detail, Count: max(e.Count, 1)}
	if e.ActorID != 0 {
		out.Actor = &apiAuditActor{ID: e.ActorID, Username: e.Actor}
	}
	if e.Via != "" {
		via := e.Via
		out.Via = &via
	}
	if e.TokenCreatedBy != "" {
		by := e.TokenCreatedBy
		out.TokenCreatedBy = &by
	}
	return out
}

func optID(id int) *int {
	if id == 0 {
		return nil
	}
	return &id
}
