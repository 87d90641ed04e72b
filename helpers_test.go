package main

// Helpers of the tests that run the real binary: serve and the CLI as
// separate processes, the way an operator runs them, and an API client
// whose every exchange is checked against handlers/openapi.json. The
// binary, processes and ports come from the shared kit, model/testkit.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers/apitest"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// adminPassword is the password serveBinary gives the first user, admin.
const adminPassword = "Adm1n-pass-42"

// TestMain removes the binary testkit.Binary builds once the tests end.
func TestMain(m *testing.M) { testkit.Main(m) }

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(testkit.FreePorts(t, 1)[0])
}

// runBinary runs the binary to completion and returns its exit status and
// output.
func runBinary(t *testing.T, bin, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = testkit.Env()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("%v: %v", args, err)
	}
	return code, out.String(), errb.String()
}

// wantExit checks the exit status of a command, and that its standard
// output holds each of wantOut.
func wantExit(t *testing.T, what string, code int, stdout, stderr string, wantCode int, wantOut ...string) {
	t.Helper()
	if code != wantCode {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, code, wantCode, stdout, stderr)
	}
	for _, w := range wantOut {
		if !strings.Contains(stdout, w) {
			t.Errorf("%s: stdout lacks %q:\n%s", what, w, stdout)
		}
	}
}

// serveBinary starts `bin serve` on data and listen, with the admin
// password set, and waits until health (its /healthz URL) answers.
func serveBinary(t *testing.T, bin, data, listen, health string) *testkit.Proc {
	t.Helper()
	p := testkit.Start(t, "serve", []string{"GATEHOUSE_ADMIN_PASSWORD=" + adminPassword}, bin, "serve", "--data", data, "--listen", listen)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if !p.Running() {
			t.Fatalf("serve exited early: %v", p.Err())
		}
		resp, err := http.Get(health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("serve did not become healthy")
	return nil
}

// stopServe ends serve with SIGTERM, as an operator does, and fails the
// test unless it exits cleanly.
func stopServe(t *testing.T, p *testkit.Proc) {
	t.Helper()
	if err := p.Stop(); err != nil {
		t.Errorf("serve after SIGTERM: %v", err)
	}
}

// contract is the checker of the binary's API answers, loaded once.
var contract struct {
	once    sync.Once
	checker *apitest.Checker
	err     error
}

// checkedTransport wraps next so that every exchange with the API is
// checked against handlers/openapi.json, as the handler tests check
// theirs: the real binary, over real connections, must answer what the
// document says.
func checkedTransport(t *testing.T, next http.RoundTripper) http.RoundTripper {
	t.Helper()
	contract.once.Do(func() {
		spec, err := os.ReadFile(filepath.Join("handlers", "openapi.json"))
		if err != nil {
			contract.err = err
			return
		}
		contract.checker, contract.err = apitest.New(spec)
	})
	if contract.err != nil {
		t.Fatal(contract.err)
	}
	return contract.checker.Transport(next, func(err error) { t.Error(err) })
}

// apiClient calls the panel's JSON API with bearer tokens; every exchange
// is checked against openapi.json.
type apiClient struct {
	base string // http://host:port
	src  string // the local address connections come from; "" for any
	http *http.Client
}

// newAPIClient returns a client of the panel at base whose connections
// come from the loopback address src (any address of 127.0.0.0/8, or ::1),
// or from any address when src is "".
func newAPIClient(t *testing.T, base, src string) *apiClient {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	if src != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		tr = &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &apiClient{base: base, src: src, http: &http.Client{Transport: checkedTransport(t, tr), Timeout: 20 * time.Second}}
}

// call sends a JSON request. err is a transport error, or an answer cut off
// midway: the panel is gone, and nothing was acknowledged.
func (c *apiClient) call(ctx context.Context, method, path, token string, in any) (status int, out map[string]any, err error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, nil
}

// do is call for a panel that must answer: a transport error fails the
// test.
func (c *apiClient) do(t *testing.T, method, path, token string, in any) (int, map[string]any) {
	t.Helper()
	status, out, err := c.call(context.Background(), method, path, token, in)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, path, c.src, err)
	}
	return status, out
}

// freshPanel is a new panel served by the real binary, with an access
// token of admin (made with the CLI while the panel runs).
type freshPanel struct {
	bin, data, addr string
	serve           *testkit.Proc
	adminToken      string
}

// startFreshPanel builds the binary, starts serve on a new data directory
// and creates admin's access token.
func startFreshPanel(t *testing.T) *freshPanel {
	t.Helper()
	p := &freshPanel{bin: testkit.Binary(t), data: filepath.Join(t.TempDir(), "data"), addr: freeAddr(t)}
	p.serve = serveBinary(t, p.bin, p.data, p.addr, "http://"+p.addr+"/healthz")
	code, stdout, stderr := runBinary(t, p.bin, "", "token", "create", "admin", "--data", p.data)
	wantExit(t, "token create", code, stdout, stderr, 0)
	p.adminToken = strings.TrimSpace(stdout)
	return p
}
