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
)

// TestAPIBearerAuth: what a bearer token gets for each way it can be
// wrong, checked in the order of the issue (malformed or unknown → 401;
// expired → 401 only for a genuine token; outside the white list → 403),
// with the refusals audited.
func TestAPIBearerAuth(t *testing.T) {
	ta := apiNewApp(t, apiTrustTestPeer)
	bob := thCreateUser(t, ta, "bob")
	value, tok := ta.apiToken(t, bob, "203.0.113.0/24", "2001:db8::/32", "198.51.100.7")
	me := func(header, ip string) *apiResponse {
		return ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Headers: map[string]string{"Authorization": header}, ClientIP: ip})
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
		{"typo", "Bearer " + value[:20] + apiOtherChar(value[20]) + value[21:], "203.0.113.9", 401},
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
		apiWant(t, r, 401, "expired")
		// From outside the white list an expired token is still "expired":
		// the expiry is checked first, and only for a genuine token.
		apiWant(t, me("Bearer "+value, "192.0.2.2"), 401, "expired")
		// A forged token of the same shape is only "invalid".
		r = me("Bearer "+model.NewTokenValue(), "192.0.2.1")
		apiWant(t, r, 401, "invalid")
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
		r := ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: value, Session: sess, ClientIP: "203.0.113.1"})
		apiWant(t, r, 200, `"username":"bob"`)
		// A wrong token is refused even with a good cookie.
		r = ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: model.NewTokenValue(), Session: sess, ClientIP: "203.0.113.2"})
		apiWant(t, r, 401)
		// The token's request carries no session: no CSRF header needed,
		// and a cookie without its CSRF header changes nothing either.
		r = ta.API(t, apiCall{Method: "PATCH", Path: "/api/v1/users/1", Body: map[string]string{"email": "x@example.com"}, Token: value, Session: sess, ClientIP: "203.0.113.1"})
		apiWant(t, r, 200)
	})
}

// apiOtherChar returns a base62 character other than c.
func apiOtherChar(c byte) string {
	if c == 'x' {
		return "y"
	}
	return "x"
}

// TestAPISessionAuth: the browser session reads without the CSRF header,
// changes only with it, and a header of another session does not count.
func TestAPISessionAuth(t *testing.T) {
	ta := apiNewApp(t)
	sess := ta.Session(t, ta.Admin)
	apiWant(t, ta.API(t, apiCall{Method: "GET", Path: "/api/v1/users", Session: sess}), 200)
	body := map[string]string{"email": "new@example.com"}
	apiWant(t, ta.API(t, apiCall{Method: "PATCH", Path: "/api/v1/users/1", Body: body, Session: sess}), 403, "CSRF")
	other := ta.Session(t, ta.Admin)
	apiWant(t, ta.API(t, apiCall{Method: "PATCH", Path: "/api/v1/users/1", Body: body, Session: sess,
		Headers: map[string]string{csrfHeader: other.CSRF}}), 403)
	apiWant(t, ta.API(t, apiCall{Method: "PATCH", Path: "/api/v1/users/1", Body: body, Session: sess,
		Headers: map[string]string{"Sec-Fetch-Site": "cross-site", csrfHeader: sess.CSRF}}), 403)
	if u := thUser(t, ta, "admin"); u.Email != "admin@example.com" {
		t.Fatalf("a refused change was saved: %s", u.Email)
	}
	apiWant(t, ta.API(t, apiCall{Method: "PATCH", Path: "/api/v1/users/1", Body: body, Session: sess, CSRF: true}), 200, "new@example.com")
	// A session that ended is 401, not a redirect to the login page.
	if err := ta.Store.DeleteSession(sess.ID); err != nil {
		t.Fatal(err)
	}
	r := ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Session: sess})
	apiWant(t, r, 401)
	if r.Header.Get("Location") != "" {
		t.Errorf("redirected to %s", r.Header.Get("Location"))
	}
}

// TestAPIWrongTokensThrottled: wrong tokens are throttled per IP, with
// 429 and Retry-After, in a limiter of their own: a genuine token from the
// throttled address still works, other addresses are unaffected, and the
// password-login limiter of the address counts nothing.
func TestAPIWrongTokensThrottled(t *testing.T) {
	ta := apiNewApp(t, apiTrustTestPeer)
	value, _ := ta.apiToken(t, ta.Admin)
	bad := apiCall{Method: "GET", Path: "/api/v1/me", Token: model.NewTokenValue(), ClientIP: "198.51.100.20"}
	free := throttle.DefaultConfig().IPFree
	for i := 0; i <= free; i++ {
		apiWant(t, ta.API(t, bad), 401)
	}
	r := ta.API(t, bad)
	apiWant(t, r, 429)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	good := apiCall{Method: "GET", Path: "/api/v1/me", Token: value, ClientIP: "198.51.100.20"}
	apiWant(t, ta.API(t, good), 200)
	bad.ClientIP = "198.51.100.21"
	apiWant(t, ta.API(t, bad), 401)
	// The penalty ends.
	ta.Clock.Advance(2 * time.Second)
	bad.ClientIP = "198.51.100.20"
	apiWant(t, ta.API(t, bad), 401)
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
	ta := apiNewApp(t, apiTrustTestPeer)
	free := throttle.DefaultConfig().IPFree
	value, _ := ta.apiToken(t, ta.Admin, "203.0.113.0/24")
	call := func(token, ip string) *apiResponse {
		t.Helper()
		return ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: token, ClientIP: ip})
	}
	t.Run("accepted tokens cost nothing", func(t *testing.T) {
		for range 4 * free {
			apiWant(t, call(value, "203.0.113.5"), 200)
		}
		for i := 0; i <= free; i++ {
			apiWant(t, call(model.NewTokenValue(), "203.0.113.5"), 401)
		}
		apiWant(t, call(model.NewTokenValue(), "203.0.113.5"), 429)
		apiWant(t, call(value, "203.0.113.5"), 200)
	})
	t.Run("outside the white list counts", func(t *testing.T) {
		for i := 0; i <= free; i++ {
			apiWant(t, call(value, "198.51.100.30"), 403)
		}
		apiWant(t, call(value, "198.51.100.30"), 429)
	})
	t.Run("expired counts", func(t *testing.T) {
		expiring, _, err := ta.Store.CreateToken(ta.Admin.ID, model.NewToken{ExpiresAt: ta.Clock.Now().Add(time.Minute)}, model.CLIActor)
		if err != nil {
			t.Fatal(err)
		}
		ta.Clock.Advance(time.Minute)
		for i := 0; i <= free; i++ {
			apiWant(t, call(expiring, "203.0.113.6"), 401, "expired")
		}
		apiWant(t, call(expiring, "203.0.113.6"), 429)
	})
}

// TestAPIBodyRules: every malformed body is a 4xx problem, never a 500,
// and changes nothing.
func TestAPIBodyRules(t *testing.T) {
	ta := apiNewApp(t)
	value, _ := ta.apiToken(t, ta.Admin)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"email":"zip@example.com"}`))
	zw.Close()
	cases := []struct {
		name    string
		body    any
		ct      string
		headers map[string]string
		status  int
		want    string
	}{
		{"form body", "email=x%40example.com", "application/x-www-form-urlencoded", nil, 415, "application/json"},
		{"no content type", `{"email":"a@example.com"}`, "text/plain", nil, 415, ""},
		{"json with charset", `{"email":"ok@example.com"}`, "application/json; charset=utf-8", nil, 200, "ok@example.com"},
		{"bad media type", `{}`, "application/json; ===", nil, 415, ""},
		{"gzip", gz.Bytes(), "", map[string]string{"Content-Encoding": "gzip"}, 415, "Compressed"},
		{"too large", `{"email":"` + strings.Repeat("a", 70<<10) + `@example.com"}`, "", nil, 413, "64 KiB"},
		{"invalid UTF-8", []byte("{\"email\":\"\xff@example.com\"}"), "", nil, 400, "UTF-8"},
		{"empty", "", "", nil, 400, "empty"},
		{"spaces", "  \n ", "", nil, 400, "empty"},
		{"not JSON", "email", "", nil, 400, "object"},
		{"broken JSON", `{"email":`, "", nil, 400, "ends too early"},
		{"syntax error", `{"email" "x"}`, "", nil, 400, "not valid JSON"},
		{"array", `[{"email":"a@example.com"}]`, "", nil, 400, "object"},
		{"string", `"a"`, "", nil, 400, "object"},
		{"null", `null`, "", nil, 400, "object"},
		{"trailing data", `{"email":"a@example.com"} {}`, "", nil, 400, "after the JSON"},
		{"trailing garbage", `{"email":"a@example.com"}x`, "", nil, 400, "after the JSON"},
		{"unknown field", `{"email":"a@example.com","admin":true}`, "", nil, 400, "unknown field"},
		{"wrong type", `{"email":42}`, "", nil, 422, "must be a string"},
		{"deep nesting", strings.Repeat("[", 20000), "", nil, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := apiState(t, ta)
			r := ta.API(t, apiCall{Method: "PATCH", Path: "/api/v1/users/1", Body: tc.body, ContentType: tc.ct, Token: value, Headers: tc.headers})
			apiWant(t, r, tc.status, tc.want)
			if tc.status != 200 && apiState(t, ta) != before {
				t.Error("a refused body changed the state")
			}
		})
	}
	r := ta.API(t, apiCall{Method: "PATCH", Path: "/api/v1/users/1", Body: `{"email":1,"x":2}`, Token: value})
	if r.Status != 400 && r.Status != 422 {
		t.Errorf("status %d", r.Status)
	}
	r = ta.API(t, apiCall{Method: "POST", Path: "/api/v1/users/1/tokens", Body: `{"ips":[1],"expires_at":"2031-01-01T00:00:00Z"}`, Token: value})
	apiWant(t, r, 422, "must be a list of strings")
}

// TestAPITokenExpiryBoundaries: creating with now is refused, now + 1
// minute is accepted (and the token stops once its time passes, shown with
// the injected clock), now + 10 years is accepted, + 10 years + 1 day is
// refused.
func TestAPITokenExpiryBoundaries(t *testing.T) {
	ta := apiNewApp(t)
	admin, _ := ta.apiToken(t, ta.Admin)
	bob := thCreateUser(t, ta, "bob")
	create := func(exp time.Time) *apiResponse {
		return ta.API(t, apiCall{Method: "POST", Path: "/api/v1/users/2/tokens", Token: admin,
			Body: map[string]any{"expires_at": exp.Format(time.RFC3339)}})
	}
	now := ta.Clock.Now()
	apiWant(t, create(now), 422, "in the future")
	apiWant(t, create(now.AddDate(10, 0, 1)), 422, "at most 10 years")
	apiWant(t, create(now.AddDate(10, 0, 0).Add(time.Second)), 422, "at most 10 years")
	apiWant(t, create(now.AddDate(10, 0, 0)), 201)
	r := create(now.Add(time.Minute))
	apiWant(t, r, 201)
	value := r.JSON["token"].(string)
	meAsBob := apiCall{Method: "GET", Path: "/api/v1/me", Token: value}
	apiWant(t, ta.API(t, meAsBob), 200, `"username":"bob"`)
	ta.Clock.Advance(59 * time.Second)
	apiWant(t, ta.API(t, meAsBob), 200)
	ta.Clock.Advance(time.Second)
	apiWant(t, ta.API(t, meAsBob), 401, "expired")
	// Listed as expired; Modify may extend it, and then it works again.
	list := ta.API(t, apiCall{Method: "GET", Path: "/api/v1/users/2/tokens", Token: admin})
	var tid string
	for _, it := range list.Items() {
		if it["expired"] == true {
			tid = it["id"].(string)
		}
	}
	if tid == "" {
		t.Fatalf("no expired token listed: %s", list.Body)
	}
	r = ta.API(t, apiCall{Method: "PATCH", Path: "/api/v1/users/2/tokens/" + tid, Token: admin,
		Body: map[string]any{"expires_at": ta.Clock.Now().Add(time.Hour).Format(time.RFC3339)}})
	apiWant(t, r, 200, `"expired":false`)
	apiWant(t, ta.API(t, meAsBob), 200)
	_ = bob
}

// TestAPITokenLastUsed: a use shows at once in the list (from memory),
// is written in a batch (not per request), and a token deleted before the
// batch is written stays deleted.
func TestAPITokenLastUsed(t *testing.T) {
	ta := apiNewApp(t, apiTrustTestPeer)
	stopUses := thRunTokenUses(t, ta)
	admin, adminTok := ta.apiToken(t, ta.Admin)
	bob := thCreateUser(t, ta, "bob")
	bobValue, bobTok := ta.apiToken(t, bob)
	ta.Clock.Advance(time.Minute)
	apiWant(t, ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: bobValue, ClientIP: "203.0.113.50"}), 200)
	used := ta.Clock.Now().UTC().Format(time.RFC3339)
	r := ta.API(t, apiCall{Method: "GET", Path: "/api/v1/users/2/tokens", Token: admin, ClientIP: "2001:db8::9"})
	apiWant(t, r, 200, `"last_used_at":"`+used+`"`, `"last_used_ip":"203.0.113.50"`)
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
	apiWant(t, ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: bobValue, ClientIP: "203.0.113.51"}), 200)
	apiWant(t, ta.API(t, apiCall{Method: "DELETE", Path: "/api/v1/users/2/tokens/" + bobTok.ID, Token: admin}), 204)
	apiWant(t, ta.API(t, apiCall{Method: "GET", Path: "/api/v1/me", Token: admin, ClientIP: "2001:db8::10"}), 200)
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
	checker, err := apitest.New(openAPIDoc)
	if err != nil {
		t.Fatal(err)
	}
	user := `{"id":1,"username":"admin","email":"a@example.com","two_factor":false,"passkeys":0,"created_at":"2025-01-01T00:00:00Z"}`
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
		req, _ := http.NewRequest(tc.method, thPublicURL+tc.path, nil)
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
	req, _ := http.NewRequest("GET", thPublicURL+"/api/v1/me", nil)
	if err := checker.Check(apitest.Exchange{Request: req, Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(user)}); err != nil {
		t.Errorf("a good answer was refused: %v", err)
	}
	if !checker.Seen("GET", "/api/v1/me", 200) || slices.Contains(checker.Missing(), apitest.Key("GET", "/api/v1/me", 200)) {
		t.Error("a validated answer was not recorded")
	}
}
