package handlers

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/gatehouse-panel/gatehouse/model"
)

// The Audit Log view (GET /settings/audit): security events newest first,
// 50 a page, filtered by user (actor or target), event and time, and the
// filtered events exported whole as JSON lines (?format=jsonl) or CSV
// (?format=csv). Admins see every event; a member only those they made or
// that concern them, as GET /api/v1/audit answers them.

// auditEventNames are the events the Event field proposes (any text is
// taken: the filter is an exact match).
var auditEventNames = []string{
	model.EventLoginSucceeded, model.EventLoginFailed, model.EventLogout, model.EventUserCreated,
	model.EventUserRenamed, model.EventEmailChanged, model.EventPasswordChanged, model.EventUserDeleted,
	model.EventRoleChanged, model.EventUserDisabled, model.EventUserEnabled, model.EventRequestThrottled,
	model.EventPasskeyRegistered, model.EventPasskeyUsed, model.EventPasskeyDeleted, model.EventPasskeyCloneRefused,
	model.EventSessionEnded, model.EventSessionsEnded, model.EventTokenCreated, model.EventTokenModified,
	model.EventTokenDeleted, model.EventTokenRefused, model.EventTwoFactorEnabled, model.EventTwoFactorDisabled,
	model.EventTwoFactorReset, model.EventRecoveryCodeUsed, model.EventRecoveryCodesRegen,
}

// auditExportMax bounds an export: the log holds a year of security events
// and at most model.DefaultAuditMax aggregates, so this is a guard against
// a runaway answer, not a page.
const auditExportMax = 1_000_000

// auditRow is one event as the view shows it.
type auditRow struct {
	model.AuditEvent
	Count int // at least 1
}

// auditView renders the Audit Log view, its fragment (#audit-view) for
// htmx, or the export of the filtered events.
func (h *Handler) auditView(c *fiber.Ctx) error {
	vf := newViewFilter(c, "/settings/audit", "user", "event", "since", "until")
	f := model.AuditFilter{UserID: h.userFilter(c, vf), Action: vf.Values["event"]}
	if err := model.ValidateText("event", f.Action); err != nil {
		vf.fail("event", err.Error())
	} else if len(f.Action) > model.AuditNameMaxLen {
		vf.fail("event", "event must be an event name such as "+model.EventLoginFailed)
	}
	f.Since = auditTime(vf, "since", false)
	f.Until = auditTime(vf, "until", true)
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		vf.fail("until", "until must be after since")
	}
	format := c.Query("format", "html")
	if format != "html" && format != "jsonl" && format != "csv" {
		vf.fail("format", "format must be html, jsonl or csv")
	}
	// A member reads only the events they made or that concern them.
	me, _ := currentUser(c)
	if !me.IsAdmin() {
		f.UserID = me.ID
	}
	if vf.Failed() {
		return h.renderAudit(c, fiber.StatusUnprocessableEntity, vf, viewPager{}, nil, me.IsAdmin())
	}
	// Buffered events (failed logins, refused tokens) first, as the API.
	if err := h.audit.Flush(); err != nil {
		return err
	}
	if format != "html" {
		f.Limit = auditExportMax
		events, _, err := h.store.AuditEvents(f)
		if err != nil {
			return err
		}
		return auditExport(c, format, events)
	}
	f.Limit, f.Offset = viewPerPage, (vf.Page-1)*viewPerPage
	events, total, err := h.store.AuditEvents(f)
	if err != nil {
		return err
	}
	pager := vf.pager(total)
	if len(events) == 0 && total > 0 {
		// A page past the end shows the last.
		f.Offset = (pager.Page - 1) * viewPerPage
		if events, _, err = h.store.AuditEvents(f); err != nil {
			return err
		}
	}
	rows := make([]auditRow, len(events))
	for i, e := range events {
		rows[i] = auditRow{AuditEvent: e, Count: max(e.Count, 1)}
	}
	return h.renderAudit(c, fiber.StatusOK, vf, pager, rows, me.IsAdmin())
}

func (h *Handler) renderAudit(c *fiber.Ctx, status int, vf *viewFilter, pager viewPager, rows []auditRow, admin bool) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	return h.render(c, status, "pages/audit_view", "partials/audit_view", fiber.Map{
		"Title": "Audit Log", "Nav": "audit", "Filter": vf, "Pager": pager, "Rows": rows, "Admin": admin,
		"Events": auditEventNames, "JSONL": vf.URL(1, "format", "jsonl"), "CSV": vf.URL(1, "format", "csv"),
	})
}

// auditTime reads the since or until field: a date (YYYY-MM-DD, a whole
// day in UTC: until includes that day) or an RFC 3339 time (until
// excludes it).
func auditTime(vf *viewFilter, field string, until bool) time.Time {
	s := vf.Values[field]
	if s == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		if until {
			t = t.AddDate(0, 0, 1)
		}
		return t
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		vf.fail(field, field+" must be a date such as 2026-01-31 or an RFC 3339 time such as 2026-01-31T12:00:00Z")
	}
	return t
}

// auditCSVHeader are the columns of the CSV export, named as the API's
// fields.
var auditCSVHeader = []string{"id", "time", "event", "actor_id", "actor_name", "via", "token_created_by",
	"target_id", "target", "ip", "detail", "count"}

// auditExport answers the events as a download: JSON lines (one object of
// GET /api/v1/audit's items per line) or CSV. The log holds no secret (see
// model.AuditEvent); names and details come from outside, so CSV cells
// that a spreadsheet would run as a formula are neutralised.
func auditExport(c *fiber.Ctx, format string, events []model.AuditEvent) error {
	var buf bytes.Buffer
	name := "gatehouse-audit-" + time.Now().UTC().Format("20060102-150405")
	switch format {
	case "jsonl":
		enc := json.NewEncoder(&buf)
		for _, e := range events {
			if err := enc.Encode(newAPIAuditEvent(e)); err != nil {
				return err
			}
		}
		c.Set(fiber.HeaderContentType, "application/jsonl; charset=utf-8")
		name += ".jsonl"
	default:
		w := csv.NewWriter(&buf)
		if err := w.Write(auditCSVHeader); err != nil {
			return err
		}
		for _, e := range events {
			id := func(n int) string {
				if n == 0 {
					return ""
				}
				return strconv.Itoa(n)
			}
			rec := []string{strconv.FormatUint(e.ID, 10), e.Time.UTC().Format(time.RFC3339), e.Action, id(e.ActorID),
				e.Actor, e.Via, e.TokenCreatedBy, id(e.TargetID), e.Target, e.IP, e.Detail, strconv.Itoa(max(e.Count, 1))}
			for i := range rec {
				rec[i] = csvCell(rec[i])
			}
			if err := w.Write(rec); err != nil {
				return err
			}
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		name += ".csv"
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

// csvCell neutralises a cell that a spreadsheet would read as a formula
// (OWASP CSV injection): one starting with = + - @, a tab or a carriage
// return gets a leading apostrophe, which spreadsheets show as text.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
