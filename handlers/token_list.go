package handlers

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// The Access Tokens dialog of a user: the list, the create form, the value
// of a new token shown once, and Modify and delete per token. Every action
// answers with the whole dialog (#tokens), so a message always lands next
// to its field and the list is always current. The dialog may hold a token
// value, so it stays out of htmx's history cache (hx-history="false") and
// is never cached.

// localLayout is the value format of a datetime-local input.
const localLayout = "2006-01-02T15:04"

// tokenFormData is the create or Modify form as the template shows it.
type tokenFormData struct {
	// TID is the token being modified; empty for the create form.
	TID string
	IPs string
	// ExpiresLocal is the datetime-local value. ExpiresUTC, when set, is
	// the same time in RFC 3339, which app.js turns into the browser's time
	// zone. TZ is the Time zone choice (tz_offset, minutes to add to get
	// UTC): app.js picks the browser's; without JavaScript it stays UTC,
	// shown as such, unless the person picks another.
	ExpiresLocal string
	ExpiresUTC   string
	TZ           string
	// Scope is the checked choice: read (the proposal for a new token,
	// the least a script may need) or write.
	Scope  string
	Errors map[string]string
}

// tokenRow is one token in the list.
type tokenRow struct {
	model.Token
	Expired bool
	// Creator names who created the token: a username, "CLI", or
	// "user #N" for a creator deleted since.
	Creator string
}

// tokenCreated is a new token's value, shown once.
type tokenCreated struct {
	ID    string
	Value string
}

func formForExpiry(t time.Time) tokenFormData {
	t = t.UTC()
	return tokenFormData{ExpiresLocal: t.Format(localLayout), ExpiresUTC: t.Format(time.RFC3339), TZ: "0"}
}

// renderTokens renders the dialog of user u with status.
func (h *Handler) renderTokens(c *fiber.Ctx, status int, u model.User, form tokenFormData, created *tokenCreated, flash string) error {
	list, err := h.tokensOf(u.ID)
	if err != nil {
		return err
	}
	now := h.now()
	rows := make([]tokenRow, len(list))
	names := map[int]string{0: "CLI"}
	for i, t := range list {
		name, ok := names[t.CreatedBy]
		if !ok {
			name = fmt.Sprintf("user #%d", t.CreatedBy)
			if cu, err := h.store.User(t.CreatedBy); err == nil {
				name = cu.Username
			} else if !errors.Is(err, model.ErrNotFound) {
				return err
			}
			names[t.CreatedBy] = name
		}
		rows[i] = tokenRow{Token: t, Expired: t.Expired(now), Creator: name}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "pages/token_list", "partials/token_dialog", fiber.Map{
		"Title": "Access Tokens", "U": u, "Tokens": rows, "Form": form, "Created": created, "Flash": flash,
	})
}

// tokenList opens the Access Tokens dialog of a user (a page without
// JavaScript). The create form proposes 90 days.
func (h *Handler) tokenList(c *fiber.Ctx) error {
	u, err := h.userParam(c)
	if err != nil {
		return err
	}
	return h.renderTokens(c, fiber.StatusOK, u, h.newTokenForm(), nil, "")
}

func (h *Handler) newTokenForm() tokenFormData {
	form := formForExpiry(h.now().AddDate(0, 0, 90).Truncate(time.Minute))
	form.Scope = model.TokenScopeRead
	return form
}

// tokenFormInput reads the fields of the create and Modify forms. The
// scope radio always sends a value; Form.Scope stays empty without one.
// expErr is a validation error of the expires_at or tz_offset field. A
// local time without a time zone is refused rather than read as UTC: the
// form always sends its Time zone choice, so only a form from elsewhere
// lacks it, and a guess would be hours off without anyone noticing.
func tokenFormInput(c *fiber.Ctx) (form tokenFormData, ips []string, expiresAt time.Time, expErr error) {
	form = tokenFormData{
		IPs:          postField(c, "ips"),
		ExpiresLocal: postField(c, "expires_at"),
		TZ:           postField(c, "tz_offset"),
		Scope:        postField(c, "scope"),
	}
	ips = model.SplitIPList(form.IPs)
	if strings.TrimSpace(form.TZ) == "" && strings.TrimSpace(form.ExpiresLocal) != "" {
		if _, err := model.ParseTokenExpiry(strings.TrimSpace(form.ExpiresLocal)); err != nil {
			return form, ips, time.Time{}, model.FieldError("tz_offset", "choose the time zone of the expiration time")
		}
	}
	expiresAt, err := model.ParseLocalExpiry(form.ExpiresLocal, form.TZ)
	if err != nil {
		expErr = model.FieldError("expires_at", err.Error())
	}
	return form, ips, expiresAt, expErr
}

// tzOption is one choice of the Time zone select.
type tzOption struct {
	Value, Label string
	Selected     bool
}

// tzOffsets are the UTC offsets in use, in minutes east of UTC.
var tzOffsets = []int{-12 * 60, -11 * 60, -10 * 60, -9*60 - 30, -9 * 60, -8 * 60, -7 * 60, -6 * 60, -5 * 60, -4 * 60,
	-3*60 - 30, -3 * 60, -2 * 60, -60, 0, 60, 2 * 60, 3 * 60, 3*60 + 30, 4 * 60, 4*60 + 30, 5 * 60, 5*60 + 30, 5*60 + 45,
	6 * 60, 6*60 + 30, 7 * 60, 8 * 60, 8*60 + 45, 9 * 60, 9*60 + 30, 10 * 60, 10*60 + 30, 11 * 60, 12 * 60, 12*60 + 45,
	13 * 60, 14 * 60}

// TZOptions lists the Time zone choices, with the form's selected: each
// value is what app.js sends for that zone (getTimezoneOffset: minutes to
// add to get UTC, so UTC+02:00 is -120). A valid value not in the list
// (a zone of the past) is added, so a refused form shows what was sent.
func (f tokenFormData) TZOptions() []tzOption {
	sel, err := strconv.Atoi(strings.TrimSpace(f.TZ))
	if err != nil || sel < -16*60 || sel > 16*60 {
		sel = 0
	}
	offsets := tzOffsets
	if !slices.Contains(offsets, -sel) {
		offsets = append(slices.Clone(offsets), -sel)
		slices.Sort(offsets)
	}
	out := make([]tzOption, len(offsets))
	for i, east := range offsets {
		label := "UTC"
		if east != 0 {
			sign, m := "+", east
			if east < 0 {
				sign, m = "−", -east
			}
			label = fmt.Sprintf("UTC%s%02d:%02d", sign, m/60, m%60)
		}
		out[i] = tzOption{Value: strconv.Itoa(-east), Label: label, Selected: -east == sel}
	}
	return out
}

// tokenInvalid re-renders the dialog with the form's messages (422).
func (h *Handler) tokenInvalid(c *fiber.Ctx, u model.User, form tokenFormData, err error) error {
	v, _ := model.AsValidation(err)
	form.Errors = v.Fields
	return h.renderTokens(c, fiber.StatusUnprocessableEntity, u, form, nil, "")
}
