package handlers

// Every answer openapi.json documents is exercised by some test: the
// exchanges of all tests are checked against the document (roundTrip), the
// checker records which (method, path, status) it validated, and TestMain
// fails the run when a documented answer was never seen. The tests here
// provoke the answers that the route tests do not: the refusals every
// operation shares (400, 401, 403, 413, 415, 429) and server errors (500).

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// TestMain runs the tests, then, when the whole package ran, fails unless
// every documented API answer was validated by some test.
func TestMain(m *testing.M) {
	code := m.Run()
	if wholeSuite() {
		checker := contract.checker
		if checker == nil {
			checker = contractChecker(&mainTB{})
		}
		documented, missing := checker.Documented(), checker.Missing()
		if testing.Verbose() || len(missing) > 0 {
			fmt.Printf("openapi.json: %d of %d documented answers validated by the tests\n", len(documented)-len(missing), len(documented))
		}
		if len(missing) > 0 {
			fmt.Printf("FAIL: documented answers no test exercised (provoke them in a test, or drop them from openapi.json if the server never answers so):\n\t%s\n",
				strings.Join(missing, "\n\t"))
			code = 1
		}
	}
	os.Exit(code)
}

// wholeSuite reports whether the run covered every test of the package:
// not a -run or -skip selection, not -list, and not a fuzzing worker.
func wholeSuite() bool {
	for _, name := range []string{"test.run", "test.skip", "test.list", "test.fuzzworker"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != "false" {
			return false
		}
	}
	return true
}

// mainTB is the testing.TB of contractChecker outside a test: a document
// that does not load stops the run.
type mainTB struct{ testing.TB }

func (mainTB) Helper() {}

func (mainTB) Fatal(args ...any) {
	fmt.Println(args...)
	os.Exit(1)
}

// operation is a documented operation with what a test needs to call it.
type operation struct {
	Method, Template string
	// Body is a body this operation accepts (nil: it takes none).
	Body any
}

// operations returns every operation of openapi.json under /api/v1,
// each with a body it would accept for bob of an fixture (f), so that a
// refusal is caused by the one thing a test breaks, never by the body.
func operations(t *testing.T, f *fixture) []operation {
	t.Helper()
	bodies := map[string]any{
		"POST /api/v1/reauth":                   map[string]string{"password": testkit.AdminPassword},
		"POST /api/v1/users":                    map[string]string{"username": "carol", "password": "carol-pass-1", "email": "carol@example.com"},
		"PATCH /api/v1/users/{id}":              map[string]string{"email": "robert@example.org"},
		"PUT /api/v1/users/{id}/password":       map[string]string{"password": "new-pass-12"},
		"POST /api/v1/users/{id}/tokens":        map[string]any{"ips": []string{}, "expires_at": f.ta.Clock.Now().Add(time.Hour).Format(time.RFC3339)},
		"PATCH /api/v1/users/{id}/tokens/{tid}": map[string]any{"ips": []string{"10.0.0.0/8"}},
	}
	var ops []operation
	for path, item := range contractChecker(t).Doc().Paths.Map() {
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		for method, op := range item.Operations() {
			o := operation{Method: method, Template: path, Body: bodies[method+" "+path]}
			if op.RequestBody != nil && o.Body == nil {
				t.Fatalf("%s %s takes a body: add one it accepts to operations", method, path)
			}
			ops = append(ops, o)
		}
	}
	return ops
}

// TestAPIRefusalsOfEveryOperation sends every operation of openapi.json
// each way it is refused before it does anything: malformed, oversized or
// non-JSON bodies, no credentials, a token outside its white list, a
// read-only token writing, a session without its CSRF header, another site's request, and a throttled
// address. The answer must be the documented refusal, and nothing changes.
func TestAPIRefusalsOfEveryOperation(t *testing.T) {
	t.Parallel()
	type refusal struct {
		name   string
		status int
		// writes: only operations that change something; body: only
		// operations that take a body.
		writes, body bool
		// call makes a good call of op bad in one way.
		call func(t *testing.T, f *fixture, c request) request
	}
	refusals := []refusal{
		{name: "malformed JSON", status: 400, body: true, call: func(t *testing.T, f *fixture, c request) request {
			c.Body = `{"email":`
			return c
		}},
		{name: "data after the object", status: 400, body: true, call: func(t *testing.T, f *fixture, c request) request {
			c.Body = `{} {}`
			return c
		}},
		{name: "over 64 KiB", status: 413, body: true, call: func(t *testing.T, f *fixture, c request) request {
			c.Body = `{"email":"` + strings.Repeat("a", 65<<10) + `@example.com"}`
			return c
		}},
		{name: "form body", status: 415, body: true, call: func(t *testing.T, f *fixture, c request) request {
			c.Body, c.ContentType = "email=a%40example.com", "application/x-www-form-urlencoded"
			return c
		}},
		{name: "compressed body", status: 415, body: true, call: func(t *testing.T, f *fixture, c request) request {
			c.Headers = map[string]string{"Content-Encoding": "gzip"}
			return c
		}},
		{name: "no credentials", status: 401, call: func(t *testing.T, f *fixture, c request) request {
			c.Token = ""
			return c
		}},
		{name: "unknown token", status: 401, call: func(t *testing.T, f *fixture, c request) request {
			c.Token = model.NewTokenValue()
			return c
		}},
		{name: "token outside its IP white list", status: 403, call: func(t *testing.T, f *fixture, c request) request {
			c.Token, c.ClientIP = f.bobValue, "203.0.113.9" // bob's token allows 192.0.2.0/24
			return c
		}},
		{name: "read-only token", status: 403, writes: true, call: func(t *testing.T, f *fixture, c request) request {
			value, _, err := f.ta.Store.CreateToken(f.admin.ID,
				model.NewToken{ExpiresAt: f.ta.Clock.Now().Add(time.Hour), Scope: model.TokenScopeRead}, model.CLIActor)
			if err != nil {
				t.Fatal(err)
			}
			c.Token = value
			return c
		}},
		{name: "session without CSRF header", status: 403, writes: true, call: func(t *testing.T, f *fixture, c request) request {
			c.Token, c.Session = "", f.session
			return c
		}},
		{name: "another site's request", status: 403, writes: true, call: func(t *testing.T, f *fixture, c request) request {
			c.Headers = map[string]string{"Sec-Fetch-Site": "cross-site"}
			return c
		}},
		{name: "throttled address", status: 429, call: func(t *testing.T, f *fixture, c request) request {
			// Wrong tokens from the address until it is throttled; then the
			// next wrong token waits (a genuine one never does: see
			// TestTokenFailuresLeavePasswordLogin).
			c.ClientIP = "198.51.100.77"
			bad := request{Method: "GET", URL: "/api/v1/me", Token: model.NewTokenValue(), ClientIP: c.ClientIP}
			for i := 0; f.ta.Do(t, bad).Status != 429; i++ {
				if i == 100 {
					t.Fatal("100 wrong tokens and the address is not throttled")
				}
			}
			c.Token = model.NewTokenValue()
			return c
		}},
	}
	f := newFixture(t)
	addPasskey(t, f)
	for _, op := range operations(t, f) {
		for _, rf := range refusals {
			if rf.writes && safeMethod(op.Method) || rf.body && op.Body == nil {
				continue
			}
			t.Run(op.Method+" "+op.Template+"/"+rf.name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t)
				addPasskey(t, f)
				good := request{Method: op.Method, URL: f.expand(op.Template), Body: op.Body, Token: f.adminValue}
				bad := rf.call(t, f, good)
				before := f.ta.Snapshot(t)
				r := f.ta.Do(t, bad)
				wantAnswer(t, r, rf.status)
				if after := f.ta.Snapshot(t); after != before {
					t.Errorf("a refused request changed the state:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
	}
}

// TestAPIServerErrors: when the database fails, every operation answers a
// problem+json 500, not a panic, a hang or a leaked error. The failure is
// real: the store is closed under the running app. Operations that read
// the database fail there, after authentication (the token lookup is
// served from the store's cache, valid while nothing was written); GET
// /api/v1/me reads nothing after authentication, so it gets its 500 from
// the lookup of a token not yet cached.
func TestAPIServerErrors(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, trustTestPeer)
	f := &fixture{ta: ta, admin: ta.Admin, bob: testkit.AddUser(t, ta.Store, "bob")}
	f.adminValue, _ = ta.Token(t, ta.Admin)
	f.bobValue, f.bobToken = ta.Token(t, f.bob)
	addPasskey(t, f)
	ops := operations(t, f)
	// Only a browser session re-authenticates; its lookup fails too.
	s := ta.Session(t, ta.Admin)
	wantAnswer(t, ta.Do(t, request{Method: "GET", URL: "/api/v1/me", Token: f.adminValue}), 200) // now cached
	if err := ta.Store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		t.Run(op.Method+" "+op.Template, func(t *testing.T) {
			c := request{Method: op.Method, URL: f.expand(op.Template), Body: op.Body, Token: f.adminValue}
			if op.Template == "/api/v1/me" {
				c.Token = f.bobValue
			}
			if op.Template == "/api/v1/reauth" {
				c.Token, c.Session, c.CSRF = "", s, true
			}
			r := ta.Do(t, c)
			wantAnswer(t, r, 500, "Something went wrong on the server")
			if strings.Contains(r.Body, "database not open") {
				t.Errorf("the answer shows the internal error: %s", r.Body)
			}
		})
	}
}
