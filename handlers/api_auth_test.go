package handlers

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers/apitest"
	"github.com/gatehouse-panel/gatehouse/handlers/throttle"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestAPIBearerAuth: what a bearer token gets for each way it can be
// wrong, checked in the order of the issue (malformed or unknown → 401;
// expired → 401 only for a genuine token; outside the white list → 403),
// with the refusals audited.
func TestAPIBearerAuth(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t, trustTestPeer)
	bob := testkit.AddUser(t, ta.Store, "bob")
	value, tok := ta.Token(t, bob, "203.0.113.0/24", "2001:db8::/32", "198.51.100.7")
	me := func(header, ip string) *response {
		return ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Headers: map[string]string{"Authorization": header}, ClientIP: ip})
	}
	cases := []struct {
		name, header, ip string
		status           int
	}{
		{"genuine, in a v4 range", "Bearer " + value, "203.0.113.9", 200},
		{"scheme in lower case", "bearer " + value, "203.0.113.9", 200},
		{"several spaces", "Bearer   " + value, "203.0.113.9", 200},
		{"v6 range", "Bearer " + value, "2001:db8::5", 200},
		{"single address", "Bearer " + value, "198.51.100.7", 200},
		{"mapped client address", "Bearer " + value, "::ffff:203.0.113.9", 200},
		{"outside the white list", "Bearer " + value, "203.0.114.1", 403},
		{"next to the single address", "Bearer " + value, "198.51.100.8", 403},
		{"unknown token", "Bearer " + model.NewTokenValue(), "203.0.113.9", 401},
		{"typo", "Bearer " + value[:20] + otherChar(value[20]) + value[21:], "203.0.113.9", 401},
		{"truncated", "Bearer " + value[:40], "203.0.113.9", 401},
		{"other scheme", "Basic " + value, "203.0.113.9", 401},
		{"no token", "Bearer", "203.0.113.9", 401},
		{"no token after space", "Bearer ", "203.0.113.9", 401},
		{"two tokens", "Bearer " + value + " " + value, "203.0.113.9", 401},
		{"session id as token", "Bearer " + model.RandomToken(32), "203.0.113.9", 401},
	}
	for i, tc := range cases {
		// Each failure comes from its own address, so throttling stays out.
		ip := tc.ip
		if tc.status == 401 {
			ip = fmt.Sprintf("198.51.100.%d", 100+i)
		}
		r := me(tc.header, ip)
		if r.Status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, r.Status, tc.status, r.Body)
		}
		if tc.status == 200 && !strings.Contains(r.Body, `"username":"bob"`) {
			t.Errorf("%s: body %s", tc.name, r.Body)
		}
		if tc.status == 401 && !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: WWW-Authenticate %q", tc.name, r.Header.Get("WWW-Authenticate"))
		}
		if tc.status == 403 && !strings.Contains(r.Body, "IP white list") {
			t.Errorf("%s: body %s", tc.name, r.Body)
		}
	}
	refused := ta.AuditEvents(t, model.EventTokenRefused)
	var notListed, unknown int
	for _, e := range refused {
		switch {
		case strings.Contains(e.Detail, "white list"):
			notListed++
			if e.TargetID != bob.ID || !strings.Contains(e.Detail, tok.ID) {
				t.Errorf("refusal event %+v", e)
			}
		case strings.Contains(e.Detail, "unknown"):
			unknown++
		}
		if strings.Contains(e.Detail, value) {
			t.Error("an audit event holds the token value")
		}
	}
	if notListed != 2 || unknown != 8 {
		t.Errorf("refusals: %d not on the white list (want 2), %d unknown (want 8): %+v", notListed, unknown, refused)
	}

	t.Run("expired only after proven genuine", func(t *testing.T) {
		exp := ta.Clock.Now().Add(time.Minute)
		value, tok, err := ta.Store.CreateToken(bob.ID, model.NewToken{ExpiresAt: exp, IPs: []string{"192.0.2.1"}}, model.CLIActor)
		if err != nil {
			t.Fatal(err)
		}
		ta.Clock.Advance(time.Minute)
		r := me("Bearer "+value, "192.0.2.1")
		wantAnswer(t, r, 401, "expired")
		// From outside the white list an expired token is still "expired":
		// the expiry is checked first, and only for a genuine token.
		wantAnswer(t, me("Bearer "+value, "192.0.2.2"), 401, "expired")
		// A forged token of the same shape is only "invalid".
		r = me("Bearer "+model.NewTokenValue(), "192.0.2.1")
		wantAnswer(t, r, 401, "invalid")
		if strings.Contains(r.Body, "expired") {
			t.Error("an unknown token is answered as expired")
		}
		ev := ta.AuditEvents(t, model.EventTokenRefused)
		if last := ev[len(ev)-2]; last.Detail != "token "+tok.ID+": expired" {
			t.Errorf("expired refusal event %+v", last)
		}
	})

	t.Run("bearer wins over the session cookie", func(t *testing.T) {
		sess := ta.Session(t, ta.Admin)
		r := ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: value, Session: sess, ClientIP: "203.0.113.1"})
		wantAnswer(t, r, 200, `"username":"bob"`)
		// A wrong token is refused even with a good cookie.
		r = ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: model.NewTokenValue(), Session: sess, ClientIP: "203.0.113.2"})
		wantAnswer(t, r, 401)
		// The token's request carries no session: no CSRF header needed,
		// and a cookie without its CSRF header changes nothing either.
		r = ta.Do(t, request{Method: "PATCH", URL: "/api/v1/users/1", Body: map[string]string{"email": "x@example.com"}, Token: value, Session: sess, ClientIP: "203.0.113.1"})
		wantAnswer(t, r, 200)
	})
}

// otherChar returns a base62 character other than c.
func otherChar(c byte) string {
	if c == 'x' {
		return "y"
	}
	return "x"
}

// TestAPISessionAuth: the browser session reads without the CSRF header,
// changes only with it, and a header of another session does not count.
func TestAPISessionAuth(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t)
	sess := ta.Session(t, ta.Admin)
	wantAnswer(t, ta.Do(t, request{Method: "GET", URL: "/api/v1/users", Session: sess}), 200)
	body := map[string]string{"email": "new@example.com"}
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: "/api/v1/users/1", Body: body, Session: sess}), 403, "CSRF")
	other := ta.Session(t, ta.Admin)
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: "/api/v1/users/1", Body: body, Session: sess,
		Headers: map[string]string{csrfHeader: other.CSRF}}), 403)
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: "/api/v1/users/1", Body: body, Session: sess,
		Headers: map[string]string{"Sec-Fetch-Site": "cross-site", csrfHeader: sess.CSRF}}), 403)
	if u := storedUser(t, ta, "admin"); u.Email != "admin@example.com" {
		t.Fatalf("a refused change was saved: %s", u.Email)
	}
	wantAnswer(t, ta.Do(t, request{Method: "PATCH", URL: "/api/v1/users/1", Body: body, Session: sess, CSRF: true}), 200, "new@example.com")
	// A session that ended is 401, not a redirect to the login page.
	if err := ta.Store.DeleteSession(sess.ID); err != nil {
		t.Fatal(err)
	}
	r := ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Session: sess})
	wantAnswer(t, r, 401)
	if r.Header.Get("Location") != "" {
		t.Errorf("redirected to %s", r.Header.Get("Location"))
	}
}

// TestAPIWrongTokensThrottled: wrong tokens are throttled per IP, with
// 429 and Retry-After, in a limiter of their own: a genuine token from the
// throttled address still works, other addresses are unaffected, and the
// password-login limiter of the address counts nothing.
func TestAPIWrongTokensThrottled(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t, trustTestPeer)
	value, _ := ta.Token(t, ta.Admin)
	bad := request{Method: "GET", URL: "/api/v1/me", Token: model.NewTokenValue(), ClientIP: "198.51.100.20"}
	free := throttle.DefaultConfig().IPFree
	for i := 0; i <= free; i++ {
		wantAnswer(t, ta.Do(t, bad), 401)
	}
	r := ta.Do(t, bad)
	wantAnswer(t, r, 429)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	good := request{Method: "GET", URL: "/api/v1/me", Token: value, ClientIP: "198.51.100.20"}
	wantAnswer(t, ta.Do(t, good), 200)
	bad.ClientIP = "198.51.100.21"
	wantAnswer(t, ta.Do(t, bad), 401)
	// The penalty ends.
	ta.Clock.Advance(2 * time.Second)
	bad.ClientIP = "198.51.100.20"
	wantAnswer(t, ta.Do(t, bad), 401)
	// The login limiter of the address holds nothing of the tokens.
	if ips, users := ta.H.limiter.Len(); ips != 0 || users != 0 {
		t.Errorf("the login limiter holds %d addresses and %d names after token failures only", ips, users)
	}
	if tk, ok, _ := ta.H.limiter.Reserve(netip.MustParseAddr("198.51.100.20"), "admin", false); !ok {
		t.Error("wrong tokens hold back the password login")
	} else {
		ta.H.limiter.Refund(tk)
	}
}

// TestAPIGenuineTokenThrottling: accepted tokens cost nothing however many
// there are and are never held back, while a genuine token refused for its
// address or its expiry still counts, so a leaked token cannot flood the
// audit log with refusals at full speed.
func TestAPIGenuineTokenThrottling(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t, trustTestPeer)
	free := throttle.DefaultConfig().IPFree
	value, _ := ta.Token(t, ta.Admin, "203.0.113.0/24")
	call := func(token, ip string) *response {
		t.Helper()
		return ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: token, ClientIP: ip})
	}
	t.Run("accepted tokens cost nothing", func(t *testing.T) {
		for range 4 * free {
			wantAnswer(t, call(value, "203.0.113.5"), 200)
		}
		for i := 0; i <= free; i++ {
			wantAnswer(t, call(model.NewTokenValue(), "203.0.113.5"), 401)
		}
		wantAnswer(t, call(model.NewTokenValue(), "203.0.113.5"), 429)
		wantAnswer(t, call(value, "203.0.113.5"), 200)
	})
	t.Run("outside the white list counts", func(t *testing.T) {
		for i := 0; i <= free; i++ {
			wantAnswer(t, call(value, "198.51.100.30"), 403)
		}
		wantAnswer(t, call(value, "198.51.100.30"), 429)
	})
	t.Run("expired counts", func(t *testing.T) {
		expiring, _, err := ta.Store.CreateToken(ta.Admin.ID, model.NewToken{ExpiresAt: ta.Clock.Now().Add(time.Minute)}, model.CLIActor)
		if err != nil {
			t.Fatal(err)
		}
		ta.Clock.Advance(time.Minute)
		for i := 0; i <= free; i++ {
			wantAnswer(t, call(expiring, "203.0.113.6"), 401, "expired")
		}
		wantAnswer(t, call(expiring, "203.0.113.6"), 429)
	})
}

// TestAPIBodyRules: every malformed body is a 4xx problem, never a 500,
// and changes nothing.
func TestAPIBodyRules(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t)
	value, _ := ta.Token(t, ta.Admin)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"email":"zip@example.com"}`))
	zw.Close()
	rows := []scenario[*testApp]{
		{Name: "form body", Body: "email=x%40example.com", ContentType: "application/x-www-form-urlencoded", WantStatus: 415, Want: []string{"application/json"}, Unchanged: true},
		{Name: "no content type", Body: `{"email":"a@example.com"}`, ContentType: "text/plain", WantStatus: 415, Unchanged: true},
		{Name: "json with charset", Body: `{"email":"ok@example.com"}`, ContentType: "application/json; charset=utf-8", WantStatus: 200, Want: []string{"ok@example.com"}},
		{Name: "bad media type", Body: `{}`, ContentType: "application/json; ===", WantStatus: 415, Unchanged: true},
		{Name: "gzip", Body: gz.Bytes(), Headers: map[string]string{"Content-Encoding": "gzip"}, WantStatus: 415, Want: []string{"Compressed"}, Unchanged: true},
		{Name: "too large", Body: `{"email":"` + strings.Repeat("a", 70<<10) + `@example.com"}`, WantStatus: 413, Want: []string{"64 KiB"}, Unchanged: true},
		{Name: "invalid UTF-8", Body: []byte("{\"email\":\"\xff@example.com\"}"), WantStatus: 400, Want: []string{"UTF-8"}, Unchanged: true},
		{Name: "empty", Body: "", WantStatus: 400, Want: []string{"empty"}, Unchanged: true},
		{Name: "spaces", Body: "  \n ", WantStatus: 400, Want: []string{"empty"}, Unchanged: true},
		{Name: "not JSON", Body: "email", WantStatus: 400, Want: []string{"object"}, Unchanged: true},
		{Name: "broken JSON", Body: `{"email":`, WantStatus: 400, Want: []string{"ends too early"}, Unchanged: true},
		{Name: "syntax error", Body: `{"email" "x"}`, WantStatus: 400, Want: []string{"not valid JSON"}, Unchanged: true},
		{Name: "array", Body: `[{"email":"a@example.com"}]`, WantStatus: 400, Want: []string{"object"}, Unchanged: true},
		{Name: "string", Body: `"a"`, WantStatus: 400, Want: []string{"object"}, Unchanged: true},
		{Name: "null", Body: `null`, WantStatus: 400, Want: []string{"object"}, Unchanged: true},
		{Name: "trailing data", Body: `{"email":"a@example.com"} {}`, WantStatus: 400, Want: []string{"after the JSON"}, Unchanged: true},
		{Name: "trailing garbage", Body: `{"email":"a@example.com"}x`, WantStatus: 400, Want: []string{"after the JSON"}, Unchanged: true},
		{Name: "unknown field", Body: `{"email":"a@example.com","admin":true}`, WantStatus: 400, Want: []string{"unknown field"}, Unchanged: true},
		{Name: "wrong type", Body: `{"email":42}`, WantStatus: 422, Want: []string{"must be a string"}, Unchanged: true},
		{Name: "deep nesting", Body: strings.Repeat("[", 20000), WantStatus: 400, Unchanged: true},
	}
	for i := range rows {
		rows[i].Method, rows[i].URL, rows[i].Token = "PATCH", "/api/v1/users/1", true
	}
	runScenarios(t, newAPIApp, rows)
	r := ta.Do(t, request{Method: "PATCH", URL: "/api/v1/users/1", Body: `{"email":1,"x":2}`, Token: value})
	if r.Status != 400 && r.Status != 422 {
		t.Errorf("status %d", r.Status)
	}
	r = ta.Do(t, request{Method: "POST", URL: "/api/v1/users/1/tokens", Body: `{"ips":[1],"expires_at":"2031-01-01T00:00:00Z"}`, Token: value})
	wantAnswer(t, r, 422, "must be a list of strings")
}

// TestAPITokenExpiryBoundaries: creating with now is refused, now + 1
// minute is accepted (and the token stops once its time passes, shown with
// the injected clock), now + 10 years is accepted, + 10 years + 1 day is
// refused.
func TestAPITokenExpiryBoundaries(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t)
	admin, _ := ta.Token(t, ta.Admin)
	bob := testkit.AddUser(t, ta.Store, "bob")
	create := func(exp time.Time) *response {
		return ta.Do(t, request{Method: "POST", URL: "/api/v1/users/2/tokens", Token: admin,
			Body: map[string]any{"expires_at": exp.Format(time.RFC3339)}})
	}
	now := ta.Clock.Now()
	wantAnswer(t, create(now), 422, "in the future")
	wantAnswer(t, create(now.AddDate(10, 0, 1)), 422, "at most 10 years")
	wantAnswer(t, create(now.AddDate(10, 0, 0).Add(time.Second)), 422, "at most 10 years")
	wantAnswer(t, create(now.AddDate(10, 0, 0)), 201)
	r := create(now.Add(time.Minute))
	wantAnswer(t, r, 201)
	value := r.JSON["token"].(string)
	meAsBob := request{Method: "GET", URL: "/api/v1/me", Token: value}
	wantAnswer(t, ta.Do(t, meAsBob), 200, `"username":"bob"`)
	ta.Clock.Advance(59 * time.Second)
	wantAnswer(t, ta.Do(t, meAsBob), 200)
	ta.Clock.Advance(time.Second)
	wantAnswer(t, ta.Do(t, meAsBob), 401, "expired")
	// Listed as expired; Modify may extend it, and then it works again.
	list := ta.Do(t, request{Method: "GET", URL: "/api/v1/users/2/tokens", Token: admin})
	var tid string
	for _, it := range list.Items() {
		if it["expired"] == true {
			tid = it["id"].(string)
		}
	}
	if tid == "" {
		t.Fatalf("no expired token listed: %s", list.Body)
	}
	r = ta.Do(t, request{Method: "PATCH", URL: "/api/v1/users/2/tokens/" + tid, Token: admin,
		Body: map[string]any{"expires_at": ta.Clock.Now().Add(time.Hour).Format(time.RFC3339)}})
	wantAnswer(t, r, 200, `"expired":false`)
	wantAnswer(t, ta.Do(t, meAsBob), 200)
	_ = bob
}

// TestAPITokenLastUsed: a use shows at once in the list (from memory),
// is written in a batch (not per request), and a token deleted before the
// batch is written stays deleted.
func TestAPITokenLastUsed(t *testing.T) {
	t.Parallel()
	ta := newAPIApp(t, trustTestPeer)
	stopUses := runTokenUses(t, ta)
	admin, adminTok := ta.Token(t, ta.Admin)
	bob := testkit.AddUser(t, ta.Store, "bob")
	bobValue, bobTok := ta.Token(t, bob)
	ta.Clock.Advance(time.Minute)
	wantAnswer(t, ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: bobValue, ClientIP: "203.0.113.50"}), 200)
	used := ta.Clock.Now().UTC().Format(time.RFC3339)
	r := ta.Do(t, request{Method: "GET", URL: "/api/v1/users/2/tokens", Token: admin, ClientIP: "2001:db8::9"})
	wantAnswer(t, r, 200, `"last_used_at":"`+used+`"`, `"last_used_ip":"203.0.113.50"`)
	if stored, _ := ta.Store.Token(bob.ID, bobTok.ID); !stored.LastUsedAt.IsZero() {
		t.Error("the use was written per request")
	}
	if err := ta.Uses.Flush(); err != nil {
		t.Fatal(err)
	}
	stored, _ := ta.Store.Token(bob.ID, bobTok.ID)
	if stored.LastUsedIP != "203.0.113.50" || stored.LastUsedAt.UTC().Format(time.RFC3339) != used {
		t.Errorf("after the flush: %v from %q", stored.LastUsedAt, stored.LastUsedIP)
	}
	adminStored, _ := ta.Store.Token(ta.Admin.ID, adminTok.ID)
	if adminStored.LastUsedIP != "2001:db8::9" {
		t.Errorf("admin's token last used from %q", adminStored.LastUsedIP)
	}
	// Used, then deleted before the next batch: stopping the writer (as
	// main does at shutdown) writes the batch and the token stays deleted.
	ta.Clock.Advance(time.Second)
	wantAnswer(t, ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: bobValue, ClientIP: "203.0.113.51"}), 200)
	wantAnswer(t, ta.Do(t, request{Method: "DELETE", URL: "/api/v1/users/2/tokens/" + bobTok.ID, Token: admin}), 204)
	wantAnswer(t, ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: admin, ClientIP: "2001:db8::10"}), 200)
	stopUses()
	if _, err := ta.Store.Token(bob.ID, bobTok.ID); err == nil {
		t.Error("writing the last uses brought a deleted token back")
	}
	if adminStored, _ := ta.Store.Token(ta.Admin.ID, adminTok.ID); adminStored.LastUsedIP != "2001:db8::10" {
		t.Errorf("after the writer stopped, admin's token last used from %q, want 2001:db8::10", adminStored.LastUsedIP)
	}
	if err := ta.Uses.Flush(); err != nil {
		t.Errorf("a flush with nothing left: %v", err)
	}
}

// TestAPIContractCheckHasTeeth: the contract check refuses exchanges that
// do not match openapi.json, so that passing it means something. It uses a
// checker of its own: these exchanges must not count as exercised answers.
func TestAPIContractCheckHasTeeth(t *testing.T) {
	t.Parallel()
	checker, err := apitest.New(openAPIDoc)
	if err != nil {
		t.Fatal(err)
	}
	user := `{"id":1,"username":"admin","email":"a@example.com","two_factor":false,"passkeys":0,"created_at":"2025-01-01T00:00:00Z",` +
		`"role":"admin","disabled":false,"last_login_at":null,"password_changed_at":"2025-01-01T00:00:00Z"}`
	problem := func(status int) string {
		return fmt.Sprintf(`{"type":"about:blank","title":"x","status":%d,"detail":"x"}`, status)
	}
	for name, tc := range map[string]struct {
		method, path, reqBody string
		status                int
		ct, body              string
	}{
		"missing fields":        {"GET", "/api/v1/me", "", 200, "application/json", `{"id":1}`},
		"extra secret field":    {"GET", "/api/v1/me", "", 200, "application/json", strings.TrimSuffix(user, "}") + `,"password_hash":"x"}`},
		"undocumented status":   {"GET", "/api/v1/me", "", 418, "application/problem+json", problem(418)},
		"problem without title": {"GET", "/api/v1/me", "", 404, "application/problem+json", `{"type":"about:blank","status":404,"detail":"x"}`},
		"error as plain JSON":   {"GET", "/api/v1/me", "", 401, "application/json", problem(401)},
		"a hash in an answer":   {"GET", "/api/v1/users", "", 200, "application/json", `{"items":[],"total":0,"x":"` + strings.Repeat("ab", 32) + `"}`},
		"unknown path answered": {"GET", "/api/v1/nope", "", 200, "application/json", `{}`},
		"invalid body accepted": {"POST", "/api/v1/users", `{"username":5,"password":"x","email":"a@example.com"}`, 201, "application/json", user},
		"missing Retry-After":   {"GET", "/api/v1/me", "", 429, "application/problem+json", problem(429)},
	} {
		req, _ := http.NewRequest(tc.method, publicURL+tc.path, nil)
		if tc.reqBody != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		x := apitest.Exchange{Request: req, RequestBody: []byte(tc.reqBody), Status: tc.status,
			Header: http.Header{"Content-Type": {tc.ct}}, Body: []byte(tc.body)}
		if err := checker.Check(x); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if missing := checker.Missing(); len(missing) != len(checker.Documented()) {
		t.Errorf("refused exchanges were counted as exercised: %d of %d missing", len(missing), len(checker.Documented()))
	}
	// A good exchange passes and counts.
	req, _ := http.NewRequest("GET", publicURL+"/api/v1/me", nil)
	if err := checker.Check(apitest.Exchange{Request: req, Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(user)}); err != nil {
		t.Errorf("a good answer was refused: %v", err)
	}
	if !checker.Seen("GET", "/api/v1/me", 200) || slices.Contains(checker.Missing(), apitest.Key("GET", "/api/v1/me", 200)) {
		t.Error("a validated answer was not recorded")
	}
}
