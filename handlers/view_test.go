package handlers

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// viewApp is an app with an admin, two members (bob, carol) and a
// session of each; sess are the sessions by username.
type viewApp struct {
	*testApp
	bob, carol model.User
	sess       map[string]*userSession
}

func newViewApp(t *testing.T) *viewApp {
	t.Helper()
	ta := newAPIApp(t)
	a := &viewApp{testApp: ta, bob: testkit.CreateMember(t, ta.Store, "bob"), carol: testkit.CreateMember(t, ta.Store, "carol"),
		sess: map[string]*userSession{}}
	for _, u := range []model.User{ta.Admin, a.bob, a.carol} {
		a.sess[u.Username] = ta.Session(t, u)
		ta.Clock.Advance(time.Second)
	}
	return a
}

// rowsIn counts the table rows of a view with the attribute attr.
func rowsIn(body, attr string) int { return strings.Count(body, attr+`="`) }

// TestSessionView: admins see every user's sessions and filter by user;
// members see their own; 50 a page with links that keep the filter; a
// bad filter is refused at its field.
func TestSessionView(t *testing.T) {
	t.Parallel()
	a := newViewApp(t)
	admin, bob := a.sess["admin"], a.sess["bob"]
	get := func(s *userSession, query string, htmx bool) *response {
		return a.Do(t, request{URL: "/settings/sessions" + query, Session: s, HTMX: htmx})
	}
	t.Run("admin sees all", func(t *testing.T) {
		r := get(admin, "", false)
		if r.Status != 200 || rowsIn(r.Body, "data-session-id") != 3 {
			t.Fatalf("status %d, %d rows, want 3\n%s", r.Status, rowsIn(r.Body, "data-session-id"), r.Body)
		}
		for _, want := range []string{"<title>Sessions · Gatehouse</title>", `aria-current="page" data-testid="nav-sessions"`,
			`<td data-testid="session-user">bob</td>`, `<td data-testid="session-user">carol</td>`, `data-testid="session-current"`,
			`id="session-filter-user"`, "hx-push-url=\"true\"", `hx-confirm="End this session of bob?`,
			fmt.Sprintf(`action="/settings/users/%d/sessions/%s/delete"`, a.bob.ID, a.Store.SessionPublicID(bob.ID))} {
			if !strings.Contains(r.Body, want) {
				t.Errorf("lacks %s", want)
			}
		}
		if strings.Count(r.Body, `data-testid="session-current"`) != 1 || strings.Count(r.Body, `data-testid="end-session"`) != 2 {
			t.Error("the own session must be marked, and only the others have End Session")
		}
	})
	t.Run("admin filters by user", func(t *testing.T) {
		r := get(admin, "?user=BOB", true)
		if r.Status != 200 || rowsIn(r.Body, "data-session-id") != 1 || !strings.Contains(r.Body, `data-testid="session-user">bob<`) {
			t.Fatalf("status %d\n%s", r.Status, r.Body)
		}
		if strings.Contains(r.Body, "<!doctype html>") || !strings.Contains(r.Body, `<div id="session-view"`) {
			t.Error("htmx must get the view's fragment")
		}
	})
	t.Run("member sees own", func(t *testing.T) {
		r := get(bob, "", false)
		if r.Status != 200 || rowsIn(r.Body, "data-session-id") != 1 || strings.Contains(r.Body, "carol") || strings.Contains(r.Body, ">admin<") {
			t.Fatalf("status %d\n%s", r.Status, r.Body)
		}
		if strings.Contains(r.Body, `id="session-filter-user"`) {
			t.Error("a member gets a user filter")
		}
	})
	for _, c := range []struct{ name, query, field, msg string }{
		{"unknown user", "?user=nobody", "user", `there is no user named &#34;nobody&#34;`},
		{"bad page", "?page=x", "page", "page must be a whole number"},
		{"page zero", "?page=0", "page", "page must be a whole number"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := get(admin, c.query, true)
			if r.Status != 422 || !strings.Contains(r.Body, `data-field="`+c.field+`"`) || !strings.Contains(r.Body, c.msg) {
				t.Fatalf("status %d, want 422 with %s at %s\n%s", r.Status, c.msg, c.field, r.Body)
			}
			if c.field == "user" && !strings.Contains(r.Body, `name="user" value="nobody" autocomplete="off" spellcheck="false" placeholder="all users" aria-invalid="true"`) {
				t.Error("the user field is not marked invalid, or lost what was typed")
			}
		})
	}
	t.Run("member names another user", func(t *testing.T) {
		r := get(bob, "?user=carol", false)
		if r.Status != 422 || !strings.Contains(r.Body, "you can see only your own") || strings.Contains(r.Body, `data-testid="session-user">carol`) {
			t.Fatalf("status %d\n%s", r.Status, r.Body)
		}
	})
	t.Run("paged", func(t *testing.T) {
		for range 59 {
			a.Session(t, a.bob)
		}
		r := get(admin, "?user=bob", false)
		next := `href="/settings/sessions?page=2&amp;user=bob"`
		if rowsIn(r.Body, "data-session-id") != 50 || !strings.Contains(r.Body, next) || strings.Contains(r.Body, `rel="prev"`) ||
			!strings.Contains(r.Body, "1–50 of 60 · page 1 of 2") {
			t.Fatalf("page 1: %d rows\n%s", rowsIn(r.Body, "data-session-id"), r.Body)
		}
		r = get(admin, "?user=bob&page=2", false)
		if rowsIn(r.Body, "data-session-id") != 10 || !strings.Contains(r.Body, `href="/settings/sessions?user=bob"`) || strings.Contains(r.Body, `rel="next"`) {
			t.Fatalf("page 2: %d rows\n%s", rowsIn(r.Body, "data-session-id"), r.Body)
		}
		if r := get(admin, "?user=bob&page=9", false); !strings.Contains(r.Body, "page 2 of 2") {
			t.Error("a page past the end does not show the last")
		}
	})
}

// TestSessionViewEnd: End Session in the view goes through the dialog's
// route: a plain form comes back to the view as it was filtered, htmx
// gets a toast (and the row is swapped away), and the back address is
// only ever the view.
func TestSessionViewEnd(t *testing.T) {
	t.Parallel()
	a := newViewApp(t)
	admin := a.sess["admin"]
	end := func(s *userSession, back string, htmx bool) *response {
		target := fmt.Sprintf("/settings/users/%d/sessions/%s/delete", s.User.ID, a.Store.SessionPublicID(s.ID))
		return a.Do(t, request{Method: "POST", URL: target, Session: admin, CSRFField: admin.CSRF, HTMX: htmx,
			Form: url.Values{"back": {back}}})
	}
	r := end(a.sess["bob"], "/settings/sessions?user=bob", false)
	if r.Status != 303 || r.Header.Get("Location") != "/settings/sessions?user=bob" || a.SessionAlive(t, a.sess["bob"]) {
		t.Fatalf("plain form: %d to %q", r.Status, r.Header.Get("Location"))
	}
	r = end(a.sess["carol"], "/settings/sessions", true)
	var trig map[string]string
	if err := json.Unmarshal([]byte(r.Header.Get("HX-Trigger")), &trig); r.Status != 200 || err != nil || trig["gh-toast"] != "Session of carol ended." {
		t.Fatalf("htmx: %d, HX-Trigger %q (%v)", r.Status, r.Header.Get("HX-Trigger"), err)
	}
	again := end(a.sess["carol"], "/settings/sessions", true)
	if again.Status != 404 || !strings.Contains(again.Body, "already ended") {
		t.Errorf("ending an ended session: %d %s", again.Status, again.Body)
	}
	other := a.Session(t, a.bob)
	for _, back := range []string{"https://evil.example/", "//evil.example/settings/sessions", "/settings/sessionsx", "/settings/users"} {
		s := a.Session(t, a.bob)
		r := end(s, back, false)
		if loc := r.Header.Get("Location"); loc != fmt.Sprintf("/settings/users/%d/sessions", a.bob.ID) {
			t.Errorf("back %q sent the browser to %q", back, loc)
		}
	}
	if !a.SessionAlive(t, other) {
		t.Error("another session ended")
	}
}

// auditApp is a viewApp with events: bob's and carol's creation, a
// password change of bob's by admin, and a failed login whose name is a
// spreadsheet formula.
func newAuditApp(t *testing.T) *viewApp {
	t.Helper()
	a := newViewApp(t)
	a.Clock.Advance(24 * time.Hour)
	err := a.Store.Update(func(tx *model.Tx) error {
		if err := tx.Audit(model.ActorFor(a.Admin, "192.0.2.1"), model.EventPasswordChanged, a.bob.ID, "bob", ""); err != nil {
			return err
		}
		return tx.Audit(model.Actor{Name: "=HYPERLINK(\"http://evil.example\")", IP: "@198.51.100.7"}, model.EventLoginFailed, 0, "", "-unknown user")
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range a.sess { // the day ended the first ones
		a.sess[name] = a.Session(t, s.User)
	}
	return a
}

// TestAuditView: the Audit Log view with its filters, pages and the
// access rule of GET /api/v1/audit (a member sees their own events).
func TestAuditView(t *testing.T) {
	t.Parallel()
	a := newAuditApp(t)
	admin, bob := a.sess["admin"], a.sess["bob"]
	get := func(s *userSession, query string) *response {
		return a.Do(t, request{URL: "/settings/audit" + query, Session: s, HTMX: true})
	}
	all, total, err := a.Store.AuditEvents(model.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("admin sees all", func(t *testing.T) {
		r := a.Do(t, request{URL: "/settings/audit", Session: admin})
		if r.Status != 200 || rowsIn(r.Body, "data-event-id") != total {
			t.Fatalf("status %d, %d rows, want %d", r.Status, rowsIn(r.Body, "data-event-id"), total)
		}
		for _, want := range []string{"<title>Audit Log · Gatehouse</title>", `aria-current="page" data-testid="nav-audit"`,
			`<code>user.created</code>`, `id="audit-filter-user"`, `<option value="2fa.enabled">`, `href="/settings/audit?format=csv"`} {
			if !strings.Contains(r.Body, want) {
				t.Errorf("lacks %s", want)
			}
		}
	})
	t.Run("member sees own", func(t *testing.T) {
		r := get(bob, "")
		want := 0
		for _, e := range all {
			if e.ActorID == a.bob.ID || e.TargetID == a.bob.ID {
				want++
			}
		}
		if r.Status != 200 || rowsIn(r.Body, "data-event-id") != want || strings.Contains(r.Body, ">carol<") || strings.Contains(r.Body, "HYPERLINK") {
			t.Fatalf("status %d, %d rows, want %d\n%s", r.Status, rowsIn(r.Body, "data-event-id"), want, r.Body)
		}
		if strings.Contains(r.Body, `id="audit-filter-user"`) {
			t.Error("a member gets a user filter")
		}
		if r := get(bob, "?user=carol"); r.Status != 422 || !strings.Contains(r.Body, `data-field="user"`) {
			t.Errorf("a member naming another user: %d", r.Status)
		}
	})
	t.Run("filters", func(t *testing.T) {
		now := a.Clock.Now().UTC()
		day, yesterday := now.Format(time.DateOnly), now.AddDate(0, 0, -1).Format(time.DateOnly)
		midnight := now.Truncate(24 * time.Hour)
		count := func(keep func(e model.AuditEvent) bool) int {
			n := 0
			for _, e := range all {
				if keep(e) {
					n++
				}
			}
			return n
		}
		for _, c := range []struct {
			query string
			rows  int
			want  string
		}{
			{"?event=user.created", 3, "user.created"},
			{"?user=carol", count(func(e model.AuditEvent) bool { return e.TargetID == a.carol.ID || e.ActorID == a.carol.ID }), ">carol<"},
			{"?user=bob&event=user.password_changed", 1, "user.password_changed"},
			{"?since=" + day, count(func(e model.AuditEvent) bool { return !e.Time.Before(midnight) }), "login.failed"},
			{"?until=" + yesterday, count(func(e model.AuditEvent) bool { return e.Time.Before(midnight) }), "user.created"},
			{"?since=" + yesterday + "&until=" + yesterday, count(func(e model.AuditEvent) bool { return e.Time.Before(midnight) }), "user.created"},
			{"?since=" + day + "T00:00:00Z&until=" + now.Add(time.Second).Format(time.RFC3339), count(func(e model.AuditEvent) bool { return !e.Time.Before(midnight) }), "login.failed"},
			{"?event=nothing.such", 0, "No events match this filter"},
		} {
			r := get(admin, c.query)
			if r.Status != 200 || rowsIn(r.Body, "data-event-id") != c.rows || c.rows == total || !strings.Contains(r.Body, c.want) {
				t.Errorf("%s: status %d, %d rows, want %d of %d with %s", c.query, r.Status, rowsIn(r.Body, "data-event-id"), c.rows, total, c.want)
			}
		}
	})
	for _, c := range []struct{ query, field, msg string }{
		{"?since=yesterday", "since", "since must be a date such as 2026-01-31"},
		{"?until=2026-13-01", "until", "until must be a date"},
		{"?since=2026-02-01&until=2026-01-01", "until", "until must be after since"},
		{"?user=nobody", "user", "there is no user named"},
		{"?event=a%00b", "event", "control or invisible"},
		{"?page=-1", "page", "page must be a whole number"},
		{"?format=xml", "format", "format must be html, jsonl or csv"},
	} {
		t.Run("bad "+c.field+" "+c.query, func(t *testing.T) {
			r := get(admin, c.query)
			if r.Status != 422 || !strings.Contains(r.Body, `data-field="`+c.field+`"`) || !strings.Contains(r.Body, c.msg) ||
				rowsIn(r.Body, "data-event-id") != 0 || !strings.Contains(r.Body, "Correct the filter above") {
				t.Fatalf("status %d, want 422 with %q at %s\n%s", r.Status, c.msg, c.field, r.Body)
			}
			if c.field == "since" && !strings.Contains(r.Body, `value="yesterday" aria-invalid="true"`) {
				t.Error("the field is not marked invalid, or lost what was typed")
			}
			if strings.Contains(r.Body, "export-csv") {
				t.Error("a refused filter offers an export")
			}
		})
	}
	t.Run("paged", func(t *testing.T) {
		err := a.Store.Update(func(tx *model.Tx) error {
			for range 60 {
				if err := tx.Audit(model.CLIActor, model.EventTokenCreated, a.carol.ID, "carol", ""); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		r := get(admin, "?event=token.created")
		if rowsIn(r.Body, "data-event-id") != 50 || !strings.Contains(r.Body, `href="/settings/audit?event=token.created&amp;page=2"`) {
			t.Fatalf("page 1: %d rows", rowsIn(r.Body, "data-event-id"))
		}
		r = get(admin, "?event=token.created&page=2")
		if rowsIn(r.Body, "data-event-id") != 10 || !strings.Contains(r.Body, `href="/settings/audit?event=token.created"`) {
			t.Fatalf("page 2: %d rows", rowsIn(r.Body, "data-event-id"))
		}
	})
}

// TestAuditExport: the filtered events whole, as JSON lines (the API's
// objects) and as CSV whose formula-like cells are neutralised; a member
// exports only their own events.
func TestAuditExport(t *testing.T) {
	t.Parallel()
	a := newAuditApp(t)
	admin, bob := a.sess["admin"], a.sess["bob"]
	_, total, _ := a.Store.AuditEvents(model.AuditFilter{})
	disposition := regexp.MustCompile(`^attachment; filename="gatehouse-audit-\d{8}-\d{6}\.(jsonl|csv)"$`)
	jsonl := func(s *userSession, query string) []map[string]any {
		t.Helper()
		r := a.Do(t, request{URL: "/settings/audit?format=jsonl" + query, Session: s})
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/jsonl") || !disposition.MatchString(r.Header.Get("Content-Disposition")) {
			t.Fatalf("jsonl: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"))
		}
		var out []map[string]any
		sc := bufio.NewScanner(strings.NewReader(r.Body))
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("line %d is not a JSON object: %v: %s", len(out)+1, err, sc.Text())
			}
			out = append(out, m)
		}
		return out
	}
	csvRows := func(s *userSession, query string) [][]string {
		t.Helper()
		r := a.Do(t, request{URL: "/settings/audit?format=csv" + query, Session: s})
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") || !disposition.MatchString(r.Header.Get("Content-Disposition")) {
			t.Fatalf("csv: %d %q %q", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"))
		}
		rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatalf("not CSV: %v\n%s", err, r.Body)
		}
		return rows
	}
	lines := jsonl(admin, "")
	if len(lines) != total {
		t.Fatalf("%d JSON lines, want %d", len(lines), total)
	}
	for _, m := range lines {
		for _, k := range []string{"id", "time", "event", "actor", "via", "target", "ip", "count"} {
			if _, ok := m[k]; !ok {
				t.Errorf("a line lacks %q: %v", k, m)
			}
		}
	}
	rows := csvRows(admin, "")
	if len(rows) != total+1 || strings.Join(rows[0], ",") != "id,time,event,actor_id,actor_name,via,token_created_by,target_id,target,ip,detail,count" {
		t.Fatalf("%d CSV rows (want %d and a header): %v", len(rows), total+1, rows[0])
	}
	found := false
	for _, row := range rows[1:] {
		if row[2] != model.EventLoginFailed {
			continue
		}
		found = true
		if row[4] != `'=HYPERLINK("http://evil.example")` || row[9] != "'@198.51.100.7" || row[10] != "'-unknown user" {
			t.Errorf("formula cells not neutralised: %q", row)
		}
	}
	if !found {
		t.Error("the failed login is not exported")
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Errorf("cell %q starts a formula", cell)
			}
		}
	}
	// Filtered: the export is of the filter, every page.
	if got := csvRows(admin, "&event=user.created"); len(got) != 4 {
		t.Errorf("event filter: %d rows, want 3 and the header", len(got))
	}
	// A member exports their own events only.
	for _, m := range jsonl(bob, "") {
		actor, _ := m["actor_id"].(float64)
		target, _ := m["target_id"].(float64)
		if int(actor) != a.bob.ID && int(target) != a.bob.ID {
			t.Errorf("bob's export holds %v", m)
		}
	}
	if got := csvRows(bob, ""); len(got) < 2 {
		t.Error("bob's CSV is empty")
	}
	if r := a.Do(t, request{URL: "/settings/audit?format=csv&since=nope", Session: admin}); r.Status != 422 || strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("a bad filter exported: %d", r.Status)
	}
}
