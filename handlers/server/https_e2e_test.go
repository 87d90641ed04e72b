package server_test

// End-to-end over real HTTPS: the real `gatehouse serve --domain` binary
// gets its certificate from a local ACME server (Let's Encrypt's Pebble,
// validating through pebble-challtestsrv's DNS), and Chromium, trusting
// Pebble's issuing root through an NSS database (never
// --ignore-certificate-errors), registers a passkey and signs in with it.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
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
	"testing"
	"time"

	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/launcher/flags"

	"github.com/gatehouse-panel/gatehouse/handlers/internal/browsertest"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

const (
	// panelDomain is the panel's name; Chromium maps it to 127.0.0.1 and
	// challtestsrv answers it (and every name) with 127.0.0.1 for Pebble.
	panelDomain   = "panel.test"
	adminPassword = "Adm1n-pass-42"
)

// TestMain removes the binary testkit.Binary builds once the tests end.
func TestMain(m *testing.M) { testkit.Main(m) }

// listenerCA makes Pebble's own listener certificate (for 127.0.0.1),
// signed by a CA made here, and returns the CA's PEM file and the
// certificate and key files.
func listenerCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
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

// httpsClient is an HTTPS client that trusts roots and sends panel.test to
// 127.0.0.1, and does not follow redirects.
func httpsClient(roots *x509.CertPool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				host, port, _ := net.SplitHostPort(addr)
				if host == panelDomain {
					addr = net.JoinHostPort("127.0.0.1", port)
				}
				return d.DialContext(ctx, network, addr)
			},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func certPool(t *testing.T, pemBytes []byte) *x509.CertPool {
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
	t.Parallel()
	if testing.Short() {
		t.Skip("starts Pebble, the gatehouse binary and Chromium")
	}
	pebbleBin, challBin, certutil := testkit.Need(t, "pebble"), testkit.Need(t, "pebble-challtestsrv"), testkit.Need(t, "certutil")
	testkit.Need(t, "chromium")
	start := time.Now()
	dir := t.TempDir()
	bin := testkit.Binary(t)
	ports := testkit.FreePorts(t, 6)
	acmePort, mgmtPort, dnsPort, challMgmtPort, httpPort, httpsPort := ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]
	caFile, certFile, keyFile := listenerCA(t, dir)
	caPEM, _ := os.ReadFile(caFile)
	listenerRoots := certPool(t, caPEM)

	// DNS for Pebble: every name is 127.0.0.1, no AAAA answers, and none
	// of challtestsrv's own challenge servers (they would take the ports).
	dnsAddr := "127.0.0.1:" + strconv.Itoa(dnsPort)
	chall := testkit.Start(t, "pebble-challtestsrv", nil, challBin,
		"-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
		"-dnsserver", dnsAddr, "-management", "127.0.0.1:"+strconv.Itoa(challMgmtPort))
	chall.WaitLog(t, "Starting management server", 10*time.Second)

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
	pebble := testkit.Start(t, "pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"}, pebbleBin,
		"-config", cfgFile, "-dnsserver", dnsAddr)
	pebble.WaitLog(t, "ACME directory available", 10*time.Second)

	// Pebble's issuing root, from its management interface.
	resp, err := httpsClient(listenerRoots).Get("https://127.0.0.1:" + strconv.Itoa(mgmtPort) + "/roots/0")
	if err != nil {
		t.Fatalf("Pebble's root: %v", err)
	}
	rootPEM, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	rootFile := filepath.Join(dir, "pebble-root.pem")
	if err := os.WriteFile(rootFile, rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	issuedRoots := certPool(t, rootPEM)

	// The panel, as an operator starts it (unprivileged ports).
	data := filepath.Join(dir, "data")
	gh := testkit.Start(t, "gatehouse", []string{"GATEHOUSE_ADMIN_PASSWORD=" + adminPassword}, bin, "serve",
		"--data", data, "--domain", panelDomain,
		"--http-port", strconv.Itoa(httpPort), "--https-port", strconv.Itoa(httpsPort),
		"--acme-ca", "https://127.0.0.1:"+strconv.Itoa(acmePort)+"/dir", "--acme-ca-root", caFile,
		"--acme-email", "admin@example.com")
	gh.WaitLog(t, "msg=listening", 15*time.Second)
	gh.WaitLog(t, `msg="certificate obtained" domain=panel.test`, 30*time.Second)
	t.Logf("certificate obtained %v after the start", time.Since(start).Round(time.Millisecond))
	// certmagic reports "obtained" once the certificate is stored, a moment
	// before it is loaded into the cache the handshakes use: wait for the
	// first handshake that verifies, instead of racing that moment.
	waitForCertificate(t, "127.0.0.1:"+strconv.Itoa(httpsPort), issuedRoots, 10*time.Second)
	if !strings.Contains(gh.Output.String(), "running at https://panel.test:"+strconv.Itoa(httpsPort)) {
		t.Errorf("the announced URL is not https://panel.test:%d:\n%s", httpsPort, gh.Output.String())
	}

	base := "https://" + panelDomain + ":" + strconv.Itoa(httpsPort)
	client := httpsClient(issuedRoots)

	t.Run("certificate", func(t *testing.T) {
		conn, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(httpsPort), &tls.Config{
			ServerName: panelDomain, RootCAs: issuedRoots, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatalf("TLS with Pebble's root as the only trust anchor: %v", err)
		}
		st := conn.ConnectionState()
		conn.Close()
		leaf := st.PeerCertificates[0]
		if err := leaf.VerifyHostname(panelDomain); err != nil || len(st.VerifiedChains) == 0 {
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
			if err == nil && strings.HasSuffix(p, panelDomain+".crt") {
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
			resp, err := client.Get("http://" + panelDomain + ":" + strconv.Itoa(httpPort) + path)
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
				l.Env(append(testkit.Env(), "HOME="+home)...)
				l.Set(flags.Flag("host-resolver-rules"), "MAP "+panelDomain+" 127.0.0.1")
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
			if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
				t.Fatalf("certutil %v: %v\n%s", args, err, out)
			}
		}
		b := browser(home)
		b.Navigate("/login")
		b.El("#username")
		b.WaitJS("a secure context over https", `() => window.isSecureContext && location.protocol === "https:"`)
		b.Screenshot("https-login.png")
		browsertest.RunPasskeyScenario(t, b, adminPassword, nil)
		b.CheckConsole()
	})

	if err := gh.Stop(); err != nil {
		t.Errorf("gatehouse after SIGTERM: %v", err)
	}
	if n := strings.Count(gh.Output.String(), `msg="certificate obtained"`); n != 1 {
		t.Errorf("%d certificate obtained lines, want 1", n)
	}
	for _, line := range strings.Split(gh.Output.String(), "\n") {
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
	t.Parallel()
	if testing.Short() {
		t.Skip("starts the gatehouse binary")
	}
	dir := t.TempDir()
	bin := testkit.Binary(t)
	ports := testkit.FreePorts(t, 3)
	caFile, _, _ := listenerCA(t, dir)
	gh := testkit.Start(t, "gatehouse", []string{"GATEHOUSE_ADMIN_PASSWORD=" + adminPassword}, bin, "serve",
		"--data", filepath.Join(dir, "data"), "--domain", panelDomain,
		"--http-port", strconv.Itoa(ports[0]), "--https-port", strconv.Itoa(ports[1]),
		// Nothing listens there.
		"--acme-ca", "https://127.0.0.1:"+strconv.Itoa(ports[2])+"/dir", "--acme-ca-root", caFile)
	gh.WaitLog(t, "msg=listening", 15*time.Second)
	gh.WaitLog(t, `msg="certificate could not be obtained; retrying with back-off" domain=panel.test err=`, 20*time.Second)
	time.Sleep(500 * time.Millisecond)
	if !gh.Running() {
		t.Fatalf("gatehouse exited after a failed issuance: %v", gh.Err())
	}
	var failures []string
	sc := bufio.NewScanner(strings.NewReader(gh.Output.String()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "could not be obtained") {
			failures = append(failures, sc.Text())
		}
	}
	if len(failures) != 1 || !strings.Contains(failures[0], "connection refused") {
		t.Errorf("failure lines: %q", failures)
	}
	resp, err := httpsClient(nil).Get("http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/login")
	if err != nil {
		t.Fatalf("the HTTP port does not answer while the certificate is missing: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect {
		t.Errorf("HTTP answer while the certificate is missing: %d", resp.StatusCode)
	}
	if err := gh.Stop(); err != nil {
		t.Errorf("gatehouse after SIGTERM: %v", err)
	}
}

// waitForCertificate waits until a TLS handshake with addr verifies
// against roots for the panel's domain.
func waitForCertificate(t *testing.T, addr string, roots *x509.CertPool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: panelDomain, RootCAs: roots, NextProtos: []string{"http/1.1"}})
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no verified TLS handshake with %s within %v: %v", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
