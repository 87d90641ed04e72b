package server_test

// End-to-end over real HTTPS: the real `gatehouse serve --domain` binary
// gets its certificate from a local ACME server (Let's Encrypt's Pebble,
// validating through pebble-challtestsrv's DNS), and Chromium, trusting
// Pebble's issuing root through an NSS database (never
// --ignore-certificate-errors), registers a passkey and signs in with it.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/launcher/flags"

	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
)

const (
	// e2eDomain is the panel's name; Chromium maps it to 127.0.0.1 and
	// challtestsrv answers it (and every name) with 127.0.0.1 for Pebble.
	e2eDomain   = "panel.test"
	e2ePassword = "Adm1n-pass-42"
)

// e2eTools finds the programs the test drives, or skips (fails with
// CI=true) naming what is missing. A name is an absolute file, a program
// on $PATH, or one that `go install` put in e2eGoBin (scripts/test-deps.sh
// installs Pebble there, which need not be on $PATH).
func e2eTools(t *testing.T, names ...string) map[string]string {
	t.Helper()
	gobin := e2eGoBin()
	found := map[string]string{}
	var missing []string
	for _, name := range names {
		if p, ok := e2eFind(name, gobin); ok {
			found[name] = p
			continue
		}
		missing = append(missing, name)
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing %s (run `bash scripts/test-deps.sh`, which `make test` does: Debian chromium and libnss3-tools, "+
			"and pebble/pebble-challtestsrv v2.10.3 with go install)", strings.Join(missing, ", "))
		if os.Getenv("CI") == "true" {
			t.Fatalf("the HTTPS end-to-end test must run in CI: %s", msg)
		}
		t.Skipf("HTTPS end-to-end test skipped: %s; in CI (CI=true) this fails", msg)
	}
	return found
}

// e2eFind is the path of the program name (see e2eTools).
func e2eFind(name, gobin string) (string, bool) {
	if filepath.IsAbs(name) {
		_, err := os.Stat(name)
		return name, err == nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	if gobin == "" {
		return "", false
	}
	p := filepath.Join(gobin, name)
	_, err := os.Stat(p)
	return p, err == nil
}

// e2eGoBin is where `go install` puts programs: $GOBIN, or else the bin
// folder of the first GOPATH entry; "" when the go tool cannot tell.
// (Read as JSON: the plain output starts with an empty line when GOBIN is
// unset, which trimming would lose.)
func e2eGoBin() string {
	out, err := exec.Command("go", "env", "-json", "GOBIN", "GOPATH").Output()
	if err != nil {
		return ""
	}
	var env struct{ GOBIN, GOPATH string }
	if err := json.Unmarshal(out, &env); err != nil {
		return ""
	}
	if env.GOBIN != "" {
		return env.GOBIN
	}
	if first, _, _ := strings.Cut(env.GOPATH, string(os.PathListSeparator)); first != "" {
		return filepath.Join(first, "bin")
	}
	return ""
}

// TestE2EFindsGoInstalledPrograms: a program that `go install` put in
// GOPATH's bin folder is found without being on $PATH, also when GOBIN is
// unset.
func TestE2EFindsGoInstalledPrograms(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	gopath := t.TempDir()
	prog := filepath.Join(gopath, "bin", "gatehouse-test-tool")
	if err := os.MkdirAll(filepath.Dir(prog), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", filepath.Dir(goTool))
	t.Setenv("GOPATH", gopath+string(os.PathListSeparator)+t.TempDir())
	t.Setenv("GOBIN", "")
	if got, ok := e2eFind("gatehouse-test-tool", e2eGoBin()); !ok || got != prog {
		t.Errorf("found %q (%v), want %s", got, ok, prog)
	}
	if _, ok := e2eFind("gatehouse-no-such-tool", e2eGoBin()); ok {
		t.Error("found a program that does not exist")
	}
}

// e2eBinary builds the gatehouse binary (CGO off, like `make build`) into
// the test's temporary directory; Go's build cache makes the second build
// of a run quick.
func e2eBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	// The main package by its import path: no path to the module root.
	cmd := exec.Command("go", "build", "-o", bin, "github.com/gatehouse-panel/gatehouse")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// e2eFreePorts returns n loopback TCP ports that were free a moment ago.
func e2eFreePorts(t *testing.T, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// e2eLog collects a process's output; safe while it runs.
type e2eLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *e2eLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *e2eLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// e2eProc is a started program, stopped (by its pid) when the test ends.
type e2eProc struct {
	name   string
	cmd    *exec.Cmd
	out    *e2eLog
	exited chan struct{}
	err    error
}

func e2eStart(t *testing.T, name string, env []string, bin string, args ...string) *e2eProc {
	t.Helper()
	p := &e2eProc{name: name, cmd: exec.Command(bin, args...), out: &e2eLog{}, exited: make(chan struct{})}
	p.cmd.Env = append(e2eEnv(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out.String())
		}
	})
	return p
}

// e2eEnv is the environment without proxy settings (Pebble must reach
// the panel directly, and the panel Pebble) and without GATEHOUSE_*
// settings of the machine running the tests.
func e2eEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GATEHOUSE_") || strings.HasSuffix(strings.ToLower(k), "_proxy") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// stop ends the process with SIGTERM (SIGKILL after 10 s) and waits.
func (p *e2eProc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *e2eProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitLog waits until the output contains want.
func (p *e2eProc) waitLog(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.out.String(), want) {
			return
		}
		if !p.running() {
			t.Fatalf("%s exited (%v) before logging %q", p.name, p.err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not log %q within %v", p.name, want, timeout)
}

// e2eListenerCA makes Pebble's own listener certificate (for 127.0.0.1),
// signed by a CA made here, and returns the CA's PEM file and the
// certificate and key files.
func e2eListenerCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Gatehouse test: Pebble listener CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "listener-ca.pem"), filepath.Join(dir, "listener.pem"), filepath.Join(dir, "listener.key")
	for f, b := range map[string][]byte{
		caFile:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}

// e2eClient is an HTTPS client that trusts roots and sends panel.test to
// 127.0.0.1, and does not follow redirects.
func e2eClient(roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, _ := net.SplitHostPort(addr)
				if host == e2eDomain {
					addr = net.JoinHostPort("127.0.0.1", port)
				}
				return d.DialContext(ctx, network, addr)
			},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func e2ePool(t *testing.T, pemBytes []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("no certificate in %q", pemBytes)
	}
	return pool
}

// TestHTTPSEndToEnd: `gatehouse serve --domain panel.test` obtains a
// certificate from Pebble over ACME, serves HTTPS with it (HSTS, HTTP
// redirected), and a passkey is registered and used in Chromium over that
// connection.
func TestHTTPSEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Pebble, the gatehouse binary and Chromium")
	}
	tools := e2eTools(t, "pebble", "pebble-challtestsrv", "certutil", browsertest.ChromiumPath)
	start := time.Now()
	dir := t.TempDir()
	bin := e2eBinary(t)
	ports := e2eFreePorts(t, 6)
	acmePort, mgmtPort, dnsPort, challMgmtPort, httpPort, httpsPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	caFile, certFile, keyFile := e2eListenerCA(t, dir)
	caPEM, _ := os.ReadFile(caFile)
	listenerRoots := e2ePool(t, caPEM)

	// DNS for Pebble: every name is 127.0.0.1, no AAAA answers, and none
	// of challtestsrv's own challenge servers (they would take the ports).
	dnsAddr := "127.0.0.1:" + strconv.Itoa(dnsPort)
	chall := e2eStart(t, "pebble-challtestsrv", nil, tools["pebble-challtestsrv"],
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-dnsserver", dnsAddr, "-management", "127.0.0.1:"+strconv.Itoa(challMgmtPort))
	chall.waitLog(t, "Starting management server", 10*time.Second)

	// Pebble validates on our ports: HTTP-01 on --http-port, TLS-ALPN-01
	// on --https-port.
	cfg, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress":                  "127.0.0.1:" + strconv.Itoa(acmePort),
		"managementListenAddress":        "127.0.0.1:" + strconv.Itoa(mgmtPort),
		"certificate":                    certFile,
		"privateKey":                     keyFile,
		"httpPort":                       httpPort,
		"tlsPort":                        httpsPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"profiles":                       map[string]any{"default": map[string]any{"description": "test", "validityPeriod": 7776000}},
	}})
	cfgFile := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(cfgFile, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	pebble := e2eStart(t, "pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"}, tools["pebble"],
		"-config", cfgFile, "-dnsserver", dnsAddr)
	pebble.waitLog(t, "ACME directory available", 10*time.Second)

	// Pebble's issuing root, from its management interface.
	resp, err := e2eClient(listenerRoots).Get("https://127.0.0.1:" + strconv.Itoa(mgmtPort) + "/roots/0")
	if err != nil {
		t.Fatalf("Pebble's root: %v", err)
	}
	rootPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rootFile := filepath.Join(dir, "pebble-root.pem")
	if err := os.WriteFile(rootFile, rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	issuedRoots := e2ePool(t, rootPEM)

	// The panel, as an operator starts it (unprivileged ports).
	data := filepath.Join(dir, "data")
	gh := e2eStart(t, "gatehouse", []string{"GATEHOUSE_ADMIN_PASSWORD=" + e2ePassword}, bin, "serve",
		"--data", data, "--domain", e2eDomain,
		"--http-port", strconv.Itoa(httpPort), "--https-port", strconv.Itoa(httpsPort),
		"--acme-ca", "https://127.0.0.1:"+strconv.Itoa(acmePort)+"/dir", "--acme-ca-root", caFile,
		"--acme-email", "admin@example.com")
	gh.waitLog(t, "msg=listening", 15*time.Second)
	gh.waitLog(t, `msg="certificate obtained" domain=panel.test`, 30*time.Second)
	t.Logf("certificate obtained %v after the start", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(gh.out.String(), "running at https://panel.test:"+strconv.Itoa(httpsPort)) {
		t.Errorf("the announced URL is not https://panel.test:%d:\n%s", httpsPort, gh.out.String())
	}

	base := "https://" + e2eDomain + ":" + strconv.Itoa(httpsPort)
	client := e2eClient(issuedRoots)

	t.Run("certificate", func(t *testing.T) {
		conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(httpsPort), &tls.Config{
			ServerName: e2eDomain, RootCAs: issuedRoots, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatalf("TLS with Pebble's root as the only trust anchor: %v", err)
		}
		st := conn.ConnectionState()
		conn.Close()
		leaf := st.PeerCertificates[0]
		if err := leaf.VerifyHostname(e2eDomain); err != nil || len(st.VerifiedChains) == 0 {
			t.Errorf("certificate %v: %v", leaf.Subject, err)
		}
		if !strings.HasPrefix(leaf.Issuer.CommonName, "Pebble Intermediate CA") {
			t.Errorf("issuer %q, want Pebble's intermediate", leaf.Issuer.CommonName)
		}
		// fasthttp speaks HTTP/1.1 only; certmagic alone would offer just acme-tls/1.
		if st.NegotiatedProtocol != "http/1.1" {
			t.Errorf("ALPN %q, want http/1.1", st.NegotiatedProtocol)
		}
		// Stored under the data directory, not $HOME.
		var stored []string
		filepath.WalkDir(filepath.Join(data, "certmagic"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, e2eDomain+".crt") {
				stored = append(stored, p)
			}
			return nil
		})
		if len(stored) != 1 {
			t.Errorf("certificate files under %s/certmagic: %v", data, stored)
		}
	})

	t.Run("HSTS and the HTTP redirect", func(t *testing.T) {
		resp, err := client.Get(base + "/login")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "max-age=31536000" {
			t.Errorf("GET /login over HTTPS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
		}
		for path, want := range map[string]string{
			"/settings/users?x=1": base + "/settings/users?x=1",
			"/":                   base + "/",
		} {
			resp, err := client.Get("http://" + e2eDomain + ":" + strconv.Itoa(httpPort) + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
				t.Errorf("GET http://…%s: %d to %q, want 308 to %q", path, resp.StatusCode, resp.Header.Get("Location"), want)
			}
			if resp.Header.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS over plain HTTP (browsers ignore it there)")
			}
		}
		// An unknown Host is sent to our own name, never elsewhere.
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(httpPort)+"/login", nil)
		req.Host = "evil.example"
		resp, err = client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != base+"/login" {
			t.Errorf("redirect for Host evil.example: %q", loc)
		}
	})

	t.Run("passkeys in Chromium", func(t *testing.T) {
		browser := func(home string) *browsertest.UI {
			return browsertest.New(t, base, func(l *launcher.Launcher) {
				l.Env(append(e2eEnv(), "HOME="+home)...)
				l.Set(flags.Flag("host-resolver-rules"), "MAP "+e2eDomain+" 127.0.0.1")
				l.Set(flags.Flag("no-proxy-server"))
			})
		}
		// Without the root Chromium refuses the panel: the certificate
		// is really checked.
		untrusting := browser(t.TempDir())
		if err := untrusting.Page.Timeout(browsertest.Wait).Navigate(base + "/login"); err == nil || !strings.Contains(err.Error(), "ERR_CERT_AUTHORITY_INVALID") {
			t.Fatalf("Chromium without Pebble's root: navigation error %v, want ERR_CERT_AUTHORITY_INVALID", err)
		}

		// Trust Pebble's issuing root the way a person trusts a private CA
		// in Chromium on Linux: an NSS database in $HOME/.pki/nssdb.
		home := filepath.Join(dir, "home")
		nssdb := filepath.Join(home, ".pki", "nssdb")
		if err := os.MkdirAll(nssdb, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{"-d", "sql:" + nssdb, "-N", "--empty-password"},
			{"-d", "sql:" + nssdb, "-A", "-t", "C,,", "-n", "Pebble test root", "-i", rootFile},
		} {
			if out, err := exec.Command(tools["certutil"], args...).CombinedOutput(); err != nil {
				t.Fatalf("certutil %v: %v\n%s", args, err, out)
			}
		}
		b := browser(home)
		b.Navigate("/login")
		b.El("#username")
		b.WaitJS("a secure context over https", `() => window.isSecureContext && location.protocol === "https:"`)
		b.Screenshot("https-login.png")
		browsertest.RunPasskeyScenario(t, b, e2ePassword, nil)
		b.CheckConsole()
	})

	gh.stop()
	if gh.err != nil {
		t.Errorf("gatehouse exited with %v after SIGTERM", gh.err)
	}
	if n := strings.Count(gh.out.String(), `msg="certificate obtained"`); n != 1 {
		t.Errorf("%d certificate obtained lines, want 1", n)
	}
	for _, line := range strings.Split(gh.out.String(), "\n") {
		if strings.Contains(line, "passkey") && strings.Contains(line, "level=ERROR") {
			t.Errorf("error in the log: %s", line)
		}
	}
	t.Logf("end-to-end test took %v", time.Since(start).Round(time.Millisecond))
}

// TestHTTPSIssuanceFailure: when the ACME server cannot be reached, the
// panel logs why in one line, keeps its listeners (the HTTP redirect still
// answers) and does not crash.
func TestHTTPSIssuanceFailure(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the gatehouse binary")
	}
	dir := t.TempDir()
	bin := e2eBinary(t)
	ports := e2eFreePorts(t, 3)
	caFile, _, _ := e2eListenerCA(t, dir)
	gh := e2eStart(t, "gatehouse", []string{"GATEHOUSE_ADMIN_PASSWORD=" + e2ePassword}, bin, "serve",
		"--data", filepath.Join(dir, "data"), "--domain", e2eDomain,
		"--http-port", strconv.Itoa(ports[0]), "--https-port", strconv.Itoa(ports[1]),
		// Nothing listens there.
		"--acme-ca", "https://127.0.0.1:"+strconv.Itoa(ports[2])+"/dir", "--acme-ca-root", caFile)
	gh.waitLog(t, "msg=listening", 15*time.Second)
	gh.waitLog(t, `msg="certificate could not be obtained; retrying with back-off" domain=panel.test err=`, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	if !gh.running() {
		t.Fatalf("gatehouse exited after a failed issuance: %v", gh.err)
	}
	var failures []string
	sc := bufio.NewScanner(strings.NewReader(gh.out.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "could not be obtained") {
			failures = append(failures, sc.Text())
		}
	}
	if len(failures) != 1 || !strings.Contains(failures[0], "connection refused") {
		t.Errorf("failure lines: %q", failures)
	}
	resp, err := e2eClient(nil).Get("http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/login")
	if err != nil {
		t.Fatalf("the HTTP port does not answer while the certificate is missing: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect {
		t.Errorf("HTTP answer while the certificate is missing: %d", resp.StatusCode)
	}
	gh.stop()
	if gh.err != nil {
		t.Errorf("gatehouse exited with %v after SIGTERM", gh.err)
	}
}
