package handlers

// Tests of the HTTP edge: what every answer carries and what is refused
// before any handler runs (foreign Host names, wrong methods, oversized
// bodies, case variants of paths).

import (
	"bufio"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"
)

// thAppTest sends req through app.Test without the openapi.json check of
// roundTrip: the answers tested here (421) come before any route, for
// every operation alike, and are not part of the API's document.
func thAppTest(t testing.TB, ta *testApp, req *http.Request) *thResponse {
	t.Helper()
	resp, err := ta.App.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return thRead(t, resp)
}

// thRawHTTP sends a raw request to the listener at base (http://host:port)
// and reads the answer.
func thRawHTTP(t testing.TB, base, raw string) *thResponse {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read the answer to %q: %v", raw, err)
	}
	return thRead(t, resp)
}

// TestHostCheck: DNS rebinding. A page that an attacker serves at their
// own name, rebound to the panel's address, reaches the panel with the
// attacker's name in Host (and a matching Origin). Such requests are
// refused with 421 before any handler runs; the panel answers its
// configured names (the public URL's host, every --domain), localhost, and
// address literals (an address cannot be rebound), on any port. /healthz
// answers whatever the Host, for probes by address or container name.
func TestHostCheck(t *testing.T) {
	domains := func(c *Config) {
		c.PublicURL, c.Domains = "https://panel.test:8443", []string{"panel.test", "www.panel.test"}
	}
	proxy := func(c *Config) { c.PublicURL = "https://panel.example.com" }
	login := url.Values{"username": {"admin"}, "password": {"wrong-password"}}
	for _, tc := range []struct {
		name   string
		opts   []func(*Config)
		method string
		url    string
		form   url.Values
		origin string
		status int
		// problem: the refusal is problem+json (the API's route group).
		problem bool
	}{
		{name: "localhost", url: "http://localhost:8080/login", status: 200},
		{name: "localhost in capitals", url: "http://LOCALHOST:8080/login", status: 200},
		{name: "localhost on another port", url: "http://localhost:9000/login", status: 200},
		{name: "the loopback address", url: "http://127.0.0.1:8080/login", status: 200},
		{name: "the IPv6 loopback address", url: "http://[::1]:8080/login", status: 200},
		{name: "another address", url: "http://192.0.2.7/login", status: 200},
		{name: "a rebound name", url: "http://rebind.evil.test:8080/login", status: 421},
		{name: "a rebound name posting its own origin", method: "POST", url: "http://rebind.evil.test:8080/login",
			form: login, origin: "http://rebind.evil.test:8080", status: 421},
		{name: "a rebound name on the API", url: "http://rebind.evil.test:8080/api/v1/me", status: 421, problem: true},
		{name: "a name ending in localhost", url: "http://localhost.evil.test:8080/login", status: 421},
		{name: "a name starting with localhost", url: "http://localhostevil:8080/login", status: 421},
		{name: "health checks by any name", url: "http://rebind.evil.test:8080/healthz", status: 200},
		{name: "domain", opts: []func(*Config){domains}, url: "http://panel.test:8443/login", status: 200},
		{name: "second domain", opts: []func(*Config){domains}, url: "http://www.panel.test:8443/login", status: 200},
		{name: "domain with a trailing name", opts: []func(*Config){domains}, url: "http://panel.test.evil.test/login", status: 421},
		{name: "public URL behind a proxy", opts: []func(*Config){proxy}, url: "http://panel.example.com/login", status: 200},
		{name: "proxy forwarding to the address", opts: []func(*Config){proxy}, url: "http://127.0.0.1:8080/login", status: 200},
		{name: "another name behind a proxy", opts: []func(*Config){proxy}, url: "http://evil.example.com/login", status: 421},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestApp(t, tc.opts...)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			req := thReq{Method: method, URL: tc.url, Form: tc.form}.Request()
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			r := thAppTest(t, ta, req)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d; body:\n%s", r.Status, tc.status, thTrim(r.Body))
			}
			if tc.status != 421 {
				return
			}
			ct := r.Header.Get("Content-Type")
			if tc.problem != (ct == "application/problem+json") {
				t.Errorf("Content-Type %q (problem+json wanted: %v)", ct, tc.problem)
			}
			if strings.Contains(r.Body, "evil") {
				t.Errorf("the refusal repeats the foreign name: %s", thTrim(r.Body))
			}
			if events := ta.AuditEvents(t, ""); len(events) != 1 { // the admin's creation
				t.Errorf("a refused request was audited: %+v", events)
			}
		})
	}
}

// TestHostCheckListener: over a real listener, a client that names the
// listen address (curl http://127.0.0.1:PORT) is served; a foreign name or
// none is refused with 421.
func TestHostCheckListener(t *testing.T) {
	ta := newTestApp(t)
	base := thServe(t, ta)
	resp, err := http.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	if r := thRead(t, resp); r.Status != 200 {
		t.Errorf("GET %s/login: %d", base, r.Status)
	}
	for _, raw := range []string{
		"GET /login HTTP/1.1\r\nHost: rebind.evil.test\r\nConnection: close\r\n\r\n",
		"GET /login HTTP/1.0\r\n\r\n",
	} {
		if r := thRawHTTP(t, base, raw); r.Status != 421 {
			t.Errorf("%q: %d, want 421", raw, r.Status)
		}
	}
	if r := thRawHTTP(t, base, "GET /healthz HTTP/1.0\r\n\r\n"); r.Status != 200 {
		t.Errorf("/healthz without Host: %d, want 200", r.Status)
	}
}

// FuzzHostAllowed: a Host header is allowed only when the host name that a
// URL parser reads from it is one of the panel's names or an address.
func FuzzHostAllowed(f *testing.F) {
	for _, s := range []string{"localhost:8080", "[::1]:8080", "127.0.0.1", "panel.test", "evil.test:80", "::1", "[::1]", "a:b:c", "", "localhost:", "[fe80::1%25lo]:1"} {
		f.Add(s)
	}
	hosts := allowedHosts(&url.URL{Scheme: "https", Host: "panel.test:8443"}, []string{"www.panel.test"})
	f.Fuzz(func(t *testing.T, host string) {
		if !hostAllowed(hosts, host) {
			return
		}
		u, err := url.Parse("http://" + host + "/")
		if err != nil || u.Host != host {
			t.Fatalf("%q allowed, but it is not a host[:port]: %v", host, err)
		}
		name := strings.ToLower(u.Hostname())
		if _, err := netip.ParseAddr(name); err != nil && !hosts[name] {
			t.Fatalf("%q allowed: %q is neither an address nor one of %v", host, name, hosts)
		}
	})
}
