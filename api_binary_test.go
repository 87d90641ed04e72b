package main

// The access-token white list on real connections: the real binary serves
// on loopback, tokens come from `gatehouse token create` (through the
// running panel), and the API is called from several source addresses
// (127.0.0.1, 127.0.0.2, 127.0.0.5 and ::1) by binding the client's local
// address. app.Test cannot show this: it always reports the peer 0.0.0.0.

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// hasIPv6Loopback reports whether ::1 can be bound here.
func hasIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func TestBinaryAPIWhiteList(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ipv6 := hasIPv6Loopback()
	if !ipv6 {
		t.Log("IPv6 checks skipped: this machine has no ::1 (the IPv4 checks still run)")
	}
	bin := testkit.Binary(t)
	data := filepath.Join(t.TempDir(), "data")
	portStr := strconv.Itoa(testkit.FreePorts(t, 1)[0])
	listen := "127.0.0.1:" + portStr
	if ipv6 {
		// Dual stack: IPv4 clients arrive as ::ffff:127.0.0.x, which the
		// panel must unmap before matching the white list.
		listen = "[::]:" + portStr
	}
	serve := serveBinary(t, bin, data, listen, "http://127.0.0.1:"+portStr+"/healthz")

	create := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := runBinary(t, bin, "", append([]string{"token", "create", "admin", "--data", data}, args...)...)
		wantExit(t, "token create "+strings.Join(args, " "), code, stdout, stderr, 0)
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

	from := map[string]*apiClient{}
	for _, src := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.5"} {
		from[src] = newAPIClient(t, "http://127.0.0.1:"+portStr, src)
	}
	if ipv6 {
		from["::1"] = newAPIClient(t, "http://[::1]:"+portStr, "::1")
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
	stopServe(t, serve)
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
