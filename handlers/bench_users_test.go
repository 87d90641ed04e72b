package handlers

// Benchmarks of the users list and the login, the inner parts behind
// scripts/bench.sh's figures (which measure the real binary). Compare two
// versions with benchstat:
//
//	go test -run '^$' -bench 'UserList|UsersJSON|Login' -count 6 ./handlers > new.txt
//
//   - BenchmarkUserList: GET /api/v1/users and the User tab's HTML, first
//     page of 10 users, in process, against the bare GET /healthz of the
//     same app; list/bare-rate is the list's rate as a fraction of the
//     bare route's (aims: API ≥ 0.5, HTML ≥ 0.3). The database side of
//     10,000 users is model's BenchmarkUsersPage.
//   - BenchmarkUsersJSON: encoding a page of 10 users, as the API does.
//   - BenchmarkLogin: POST /login against one hash of the password with
//     the store's parameters; login/hash is the ratio (aim: ≤ 1.2 with the
//     default argon2id parameters, which scripts/bench.sh uses; the test
//     store's cheap parameters show the overhead around the hash instead).

import (
	"context"
	"encoding/json"
	"net"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// inProcessReq sends req straight into the app's fasthttp handler from
// 127.0.0.1 and fails unless the status is want.
func inProcessReq(app *fiber.App, req *fasthttp.Request, want int) func(b *testing.B) {
	handler := app.Handler()
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	var ctx fasthttp.RequestCtx
	return func(b *testing.B) {
		ctx.ResetUserValues()
		ctx.Response.Reset()
		ctx.Init(req, remote, nil)
		handler(&ctx)
		if code := ctx.Response.StatusCode(); code != want {
			b.Fatalf("%s %s: %d %s", req.Header.Method(), req.URI(), code, ctx.Response.Body())
		}
	}
}

func benchGet(path string, headers ...string) *fasthttp.Request {
	req := &fasthttp.Request{}
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI(path)
	req.Header.SetHost("localhost:8080")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return req
}

// benchUserApp is a test app with 10 users (the admin and 9 members), an
// admin token and an admin session.
func benchUserApp(b *testing.B) (ta *testApp, bearer, cookie string) {
	ta = newTestApp(b)
	runTokenUses(b, ta)
	for i := 2; i <= 10; i++ {
		testkit.CreateMember(b, ta.Store, "member"+string(rune('a'+i)))
	}
	v, _ := ta.Token(b, ta.Admin)
	s := ta.Session(b, ta.Admin)
	return ta, "Bearer " + v, sessionCookie + "=" + s.Token
}

// BenchmarkUserList: see the file's comment.
func BenchmarkUserList(b *testing.B) {
	ta, bearer, cookie := benchUserApp(b)
	bare := inProcessReq(ta.App, benchGet("/healthz"), fiber.StatusOK)
	api := inProcessReq(ta.App, benchGet("/api/v1/users?per_page=10", fiber.HeaderAuthorization, bearer), fiber.StatusOK)
	html := inProcessReq(ta.App, benchGet("/settings/users?per_page=10", fiber.HeaderCookie, cookie), fiber.StatusOK)
	rate := func(bareNs, listNs float64) float64 { return bareNs / listNs }
	for _, c := range []struct {
		name string
		send func(b *testing.B)
	}{{"bare", bare}, {"api", api}, {"html", html}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.send(b)
			}
		})
	}
	b.Run("api/interleaved", func(b *testing.B) { benchPair(b, "bare", bare, "api", api, "list/bare-rate", rate) })
	b.Run("html/interleaved", func(b *testing.B) { benchPair(b, "bare", bare, "html", html, "list/bare-rate", rate) })
}

// BenchmarkUsersJSON encodes a page of 10 users as GET /api/v1/users does.
func BenchmarkUsersJSON(b *testing.B) {
	ta, _, _ := benchUserApp(b)
	page, err := ta.Store.UsersPage(model.UserQuery{Page: 1, PerPage: 10})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]apiUser, len(page.Users))
	for i, u := range page.Users {
		out[i] = toAPIUser(u)
	}
	list := newList(out, page.Total)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(list); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLogin: see the file's comment.
func BenchmarkLogin(b *testing.B) {
	ta := newTestApp(b)
	req := &fasthttp.Request{}
	req.Header.SetMethod(fiber.MethodPost)
	req.SetRequestURI("/login")
	req.Header.SetHost("localhost:8080")
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBodyString(loginForm("admin", testkit.AdminPassword).Encode())
	login := inProcessReq(ta.App, req, fiber.StatusSeeOther)
	hash := func(b *testing.B) {
		if _, err := ta.Store.Hasher().Hash(context.Background(), testkit.AdminPassword); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("login", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			login(b)
		}
	})
	b.Run("interleaved", func(b *testing.B) {
		benchPair(b, "login", login, "hash", hash, "login/hash", func(loginNs, hashNs float64) float64 { return loginNs / hashNs })
	})
}
