package main

// The access-token white list on real connections: the real binary serves
// on loopback, tokens come from `gatehouse token create` (through the
// running panel), and the API is called from several source addresses
// (127.0.0.1, 127.0.0.2, 127.0.0.5 and ::1) by binding the client's local
// address. app.Test cannot show this: it always reports the peer 0.0.0.0.

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers/apitest"
	"github.com/gatehouse-panel/gatehouse/model"
)

// apiBinHasIPv6Loopback reports whether ::1 can be bound here.
func apiBinHasIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// apiBinClient calls the panel from the local address src.
type apiBinClient struct {
	src    string
	client *http.Client
	base   string
}

func newAPIBinClient(t *testing.T, src string, port int) *apiBinClient {
	t.Helper()
	ip := net.ParseIP(src)
	host := "127.0.0.1"
	if ip.To4() == nil {
		host = "[::1]"
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &apiBinClient{src: src, client: &http.Client{Transport: binAPIChecked(t, tr), Timeout: 10 * time.Second},
		base: "http://" + host + ":" + strconv.Itoa(port)}
}

// binAPISpec is the checker of the binary's API answers, loaded once.
var binAPISpec struct {
	once    sync.Once
	checker *apitest.Checker
	err     error
}

// binAPIChecked wraps next so that every exchange with the API is checked
// against handlers/openapi.json, as the handler tests check theirs: the
// real binary, over real connections, must answer what the document says.
func binAPIChecked(t *testing.T, next http.RoundTripper) http.RoundTripper {
	t.Helper()
	binAPISpec.once.Do(func() {
		spec, err := os.ReadFile(filepath.Join("handlers", "openapi.json"))
		if err != nil {
			binAPISpec.err = err
			return
		}
		binAPISpec.checker, binAPISpec.err = apitest.New(spec)
	})
	if binAPISpec.err != nil {
		t.Fatal(binAPISpec.err)
	}
	return binAPISpec.checker.Transport(next, func(err error) { t.Error(err) })
}

func (c *apiBinClient) do(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, path, c.src, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func TestBinaryAPIWhiteList(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ipv6 := apiBinHasIPv6Loopback()
	if !ipv6 {
		t.Log("IPv6 checks skipped: this machine has no ::1 (the IPv4 checks still run)")
	}
	bin := binBuild(t)
	data := filepath.Join(t.TempDir(), "data")
	_, portStr, _ := net.SplitHostPort(binFreeAddr(t))
	port, _ := strconv.Atoi(portStr)
	listen := "127.0.0.1:" + portStr
	if ipv6 {
		// Dual stack: IPv4 clients arrive as ::ffff:127.0.0.x, which the
		// panel must unmap before matching the white list.
		listen = "[::]:" + portStr
	}
	serve := binServe(t, bin, data, listen, "http://127.0.0.1:"+portStr+"/healthz")

	create := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := binRun(t, bin, "", append([]string{"token", "create", "admin", "--data", data}, args...)...)
		binWant(t, "token create "+strings.Join(args, " "), code, stdout, stderr, 0)
		v := strings.TrimSpace(stdout)
		if !model.WellFormedToken(v) || stdout != v+"\n" {
			t.Fatalf("token create printed %q", stdout)
		}
		return v
	}
	only1 := create("--ip", "127.0.0.1")
	cidr := create("--ip", "127.0.0.0/30", "--expires", "12h")
	only2 := create("--ip=127.0.0.2")
	var only6 string
	if ipv6 {
		only6 = create("--ip", "::1")
	}
	bogus := model.NewTokenValue()

	from := map[string]*apiBinClient{}
	for _, src := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.5"} {
		from[src] = newAPIBinClient(t, src, port)
	}
	if ipv6 {
		from["::1"] = newAPIBinClient(t, "::1", port)
	}
	type check struct {
		token, src string
		status     int
	}
	checks := []check{
		{only1, "127.0.0.1", 200}, {only1, "127.0.0.2", 403},
		{cidr, "127.0.0.1", 200}, {cidr, "127.0.0.2", 200}, {cidr, "127.0.0.5", 403},
		{only2, "127.0.0.2", 200}, {only2, "127.0.0.1", 403},
		{bogus, "127.0.0.5", 401},
	}
	if ipv6 {
		checks = append(checks, check{only6, "::1", 200}, check{only6, "127.0.0.1", 403}, check{only1, "::1", 403})
	}
	for _, c := range checks {
		status, body := from[c.src].do(t, "GET", "/api/v1/me", c.token, nil)
		if status != c.status {
			t.Errorf("token %s… from %s: %d, want %d (%v)", c.token[:8], c.src, status, c.status, body)
		}
		if status == 200 && body["username"] != "admin" {
			t.Errorf("from %s: %v", c.src, body)
		}
	}

	// Modify the CIDR token's white list through the API: .1 is refused
	// at once, .2 still works.
	status, list := from["127.0.0.1"].do(t, "GET", "/api/v1/users/1/tokens", only1, nil)
	if status != 200 {
		t.Fatalf("list tokens: %d %v", status, list)
	}
	var cidrID string
	for _, it := range list["items"].([]any) {
		m := it.(map[string]any)
		if ips := m["ips"].([]any); len(ips) == 1 && ips[0] == "127.0.0.0/30" {
			cidrID = m["id"].(string)
			if m["last_used_ip"] != "127.0.0.2" {
				t.Errorf("the CIDR token was last used from %v, want 127.0.0.2", m["last_used_ip"])
			}
		}
	}
	status, patched := from["127.0.0.1"].do(t, "PATCH", "/api/v1/users/1/tokens/"+cidrID, only1, map[string]any{"ips": []string{"127.0.0.2/32"}})
	if status != 200 {
		t.Fatalf("PATCH: %d %v", status, patched)
	}
	if s, _ := from["127.0.0.1"].do(t, "GET", "/api/v1/me", cidr, nil); s != 403 {
		t.Errorf("after Modify, from 127.0.0.1: %d, want 403", s)
	}
	if s, _ := from["127.0.0.2"].do(t, "GET", "/api/v1/me", cidr, nil); s != 200 {
		t.Errorf("after Modify, from 127.0.0.2: %d, want 200", s)
	}

	// Stop: the last uses are written at shutdown, and the database holds
	// no token value.
	serve.stop(t)
	store, err := model.Open(data, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := store.Tokens(1)
	store.Close()
	if err != nil || len(tokens) < 3 {
		t.Fatalf("stored tokens: %v, %v", tokens, err)
	}
	lastIP := map[string]string{}
	for _, tok := range tokens {
		lastIP[strings.Join(tok.IPs, ",")] = tok.LastUsedIP
	}
	want := map[string]string{"127.0.0.1": "127.0.0.1", "127.0.0.2/32": "127.0.0.2", "127.0.0.2": "127.0.0.2"}
	if ipv6 {
		want["::1"] = "::1"
	}
	for ips, ip := range want {
		if lastIP[ips] != ip {
			t.Errorf("token for %s: last used from %q after shutdown, want %q", ips, lastIP[ips], ip)
		}
	}
	raw, err := os.ReadFile(filepath.Join(data, model.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{only1, cidr, only2, only6} {
		if v != "" && (bytes.Contains(raw, []byte(v)) || bytes.Contains(raw, []byte(v[4:40]))) {
			t.Errorf("the database file holds a token value")
		}
	}
}
