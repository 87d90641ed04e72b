package server

// Configuration and plumbing of HTTPS with --domain. The full path (ACME
// with Pebble, real TLS, Chromium) is https_e2e_test.go.

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
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(root, testRootPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name        string
		set         func(c *Config)
		wantErr     string
		wantDomains []string
	}{
		{name: "no domain", set: func(c *Config) {}},
		{name: "domains are normalised", set: func(c *Config) { c.Domains = []string{"Panel.Example.COM.", " www.panel.test"} },
			wantDomains: []string{"panel.example.com", "www.panel.test"}},
		{name: "other ports", set: func(c *Config) { c.Domains, c.HTTPPort, c.HTTPSPort = []string{"panel.test"}, 8080, 8443 }},
		{name: "a root file", set: func(c *Config) { c.Domains, c.ACMECARoot = []string{"panel.test"}, root }},
		{name: "a private CA and an email", set: func(c *Config) {
			c.Domains, c.ACMECA, c.ACMEEmail = []string{"panel.test"}, "https://127.0.0.1:14000/dir", "admin@example.com"
		}},
		{name: "listen without a port", set: func(c *Config) { c.Listen = "127.0.0.1" }, wantErr: `--listen "127.0.0.1": want host:port`},
		{name: "IP address", set: func(c *Config) { c.Domains = []string{"192.0.2.1"} }, wantErr: "an IP address cannot hold passkeys"},
		{name: "IPv6 address", set: func(c *Config) { c.Domains = []string{"2001:db8::1"} }, wantErr: "an IP address"},
		{name: "wildcard", set: func(c *Config) { c.Domains = []string{"*.example.com"} }, wantErr: "want a DNS name"},
		{name: "scheme", set: func(c *Config) { c.Domains = []string{"https://panel.example.com"} }, wantErr: "want a DNS name"},
		{name: "port", set: func(c *Config) { c.Domains = []string{"panel.example.com:443"} }, wantErr: "want a DNS name"},
		{name: "empty label", set: func(c *Config) { c.Domains = []string{"panel..com"} }, wantErr: "want a DNS name"},
		{name: "label too long", set: func(c *Config) { c.Domains = []string{strings.Repeat("a", 64) + ".test"} }, wantErr: "want a DNS name"},
		{name: "same ports", set: func(c *Config) { c.Domains, c.HTTPPort, c.HTTPSPort = []string{"panel.test"}, 8443, 8443 },
			wantErr: "--http-port and --https-port are both 8443: they must differ"},
		{name: "port out of range", set: func(c *Config) { c.Domains, c.HTTPSPort = []string{"panel.test"}, 70000 },
			wantErr: "--https-port 70000: want a port from 1 to 65535"},
		{name: "port zero", set: func(c *Config) { c.Domains, c.HTTPPort = []string{"panel.test"}, 0 }, wantErr: "--http-port 0: want a port"},
		{name: "bad CA URL", set: func(c *Config) { c.Domains, c.ACMECA = []string{"panel.test"}, "acme.example.com" }, wantErr: "--acme-ca"},
		{name: "missing root file", set: func(c *Config) { c.Domains, c.ACMECARoot = []string{"panel.test"}, filepath.Join(dir, "nope.pem") },
			wantErr: "--acme-ca-root"},
		{name: "root file without a certificate", set: func(c *Config) { c.Domains, c.ACMECARoot = []string{"panel.test"}, empty },
			wantErr: "holds no PEM certificate"},
		{name: "bad ACME email", set: func(c *Config) { c.Domains, c.ACMEEmail = []string{"panel.test"}, "not an address" },
			wantErr: "--acme-email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.set(&c)
			err := c.Check()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantDomains != nil && !slices.Equal(c.Domains, tc.wantDomains) {
				t.Errorf("domains %q, want %q", c.Domains, tc.wantDomains)
			}
		})
	}
}

func TestPublicURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		set  func(c *Config)
		want string
	}{
		{"the default: plain HTTP on localhost", func(c *Config) {}, "http://localhost:8080"},
		{"any address is announced as localhost", func(c *Config) { c.Listen = "[::]:9000" }, "http://localhost:9000"},
		{"no host", func(c *Config) { c.Listen = ":9000" }, "http://localhost:9000"},
		{"another address as it is", func(c *Config) { c.Listen = "192.0.2.7:8080" }, "http://192.0.2.7:8080"},
		{"one domain on the default port", func(c *Config) { c.Domains = []string{"panel.example.com"} }, "https://panel.example.com"},
		{"the first domain on another port", func(c *Config) { c.Domains, c.HTTPSPort = []string{"panel.test", "www.panel.test"}, 8443 },
			"https://panel.test:8443"},
		{"a public URL wins", func(c *Config) { c.Domains, c.URL = []string{"panel.test"}, "https://proxy.example.com/" },
			"https://proxy.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.set(&c)
			if got := c.PublicURL(); got != tc.want {
				t.Errorf("PublicURL() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRedirectToHTTPS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		port       int
		host, path string
		want       string
	}{
		{443, "panel.example.com", "/settings/users?x=1", "https://panel.example.com/settings/users?x=1"},
		{443, "PANEL.example.com:80", "/", "https://panel.example.com/"},
		{443, "www.example.com", "/a", "https://www.example.com/a"},
		{8443, "panel.example.com:8080", "/login", "https://panel.example.com:8443/login"},
		// Another Host is never redirected to: our first domain instead.
		{443, "evil.example", "/login", "https://panel.example.com/login"},
		{443, "", "/login", "https://panel.example.com/login"},
	} {
		h := redirectToHTTPS([]string{"panel.example.com", "www.example.com"}, tc.port)
		r := httptest.NewRequest("POST", "http://x"+tc.path, nil)
		r.Host = tc.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusPermanentRedirect || w.Header().Get("Location") != tc.want {
			t.Errorf("%s%s: %d %q, want 308 %q", tc.host, tc.path, w.Code, w.Header().Get("Location"), tc.want)
		}
	}
}

func TestLogCertEvent(t *testing.T) {
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(old)
	ctx := context.Background()
	logCertEvent(ctx, "cert_obtained", map[string]any{"identifier": "panel.test", "renewal": false, "issuer": "acme"})
	logCertEvent(ctx, "cert_obtained", map[string]any{"identifier": "panel.test", "renewal": true, "issuer": "acme"})
	logCertEvent(ctx, "cert_failed", map[string]any{"identifier": "panel.test", "renewal": false,
		"error": errors.New("connection refused\nsecond line")})
	logCertEvent(ctx, "tls_get_certificate", map[string]any{})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("log lines: %q", lines)
	}
	for i, want := range []string{`msg="certificate obtained" domain=panel.test`, `msg="certificate renewed" domain=panel.test`,
		`level=ERROR msg="certificate could not be obtained; retrying with back-off" domain=panel.test err="connection refused\nsecond line"`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %s, want %s", i, lines[i], want)
		}
	}
}

// testRootPEM returns a new self-signed CA certificate in PEM.
func testRootPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestRedirectToHTTPSRequestTargets sends raw request lines to the
// redirect on a real listener: whatever the request target (absolute-form,
// scheme-only, authority tricks), the Location is one of our domains with
// a path that starts with a slash, so it can never name another host.
func TestRedirectToHTTPSRequestTargets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: redirectToHTTPS([]string{"panel.example.com"}, 443), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	for _, tc := range []struct {
		target string
		want   string
	}{
		{"/x?y=1", "https://panel.example.com/x?y=1"},
		{"http:@evil.net/x", "https://panel.example.com/"},
		{"http://evil.net/x?y=1", "https://panel.example.com/x?y=1"},
		{"http://panel.example.com@evil.net/x", "https://panel.example.com/x"},
		{"https:evil.net", "https://panel.example.com/"},
		{"//evil.net/x", "https://panel.example.com//evil.net/x"},
		{"/x\\@evil.net", "https://panel.example.com/x%5C@evil.net"},
		{"*", "https://panel.example.com/"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: panel.example.com\r\nConnection: close\r\n\r\n", tc.target)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			if resp.StatusCode != http.StatusPermanentRedirect || loc != tc.want {
				t.Fatalf("%d Location %q, want 308 %q", resp.StatusCode, loc, tc.want)
			}
			u, err := url.Parse(loc)
			if err != nil || u.Host != "panel.example.com" || u.User != nil {
				t.Errorf("Location %q leads to host %q (user %v)", loc, u.Host, u.User)
			}
		})
	}
}

// TestTLSConfigAEADOnly handshakes with the TLS configuration the HTTPS
// listener uses: a TLS 1.2 client offering only CBC suites (with SHA-1 or
// SHA-256 MACs) is refused, as is TLS 1.1; AEAD suites over TLS 1.2 and
// TLS 1.3 work. Only ECDHE suites with AES-GCM or ChaCha20-Poly1305 are
// configured (Mozilla's "intermediate" profile).
func TestTLSConfigAEADOnly(t *testing.T) {
	cert := testCert(t)
	cfg := tlsConfig(&tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }})
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", cfg.MinVersion)
	}
	if len(cfg.CipherSuites) == 0 {
		t.Error("no cipher suites configured: Go's defaults include CBC suites")
	}
	for _, id := range cfg.CipherSuites {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "_GCM_") || strings.Contains(name, "CHACHA20_POLY1305")) {
			t.Errorf("cipher suite %s is not ECDHE with an AEAD", name)
		}
	}
	if !slices.Contains(cfg.NextProtos, "http/1.1") {
		t.Errorf("NextProtos %q lacks http/1.1", cfg.NextProtos)
	}

	var cbc []uint16
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if strings.Contains(s.Name, "_CBC_") && slices.Contains(s.SupportedVersions, tls.VersionTLS12) {
			cbc = append(cbc, s.ID)
		}
	}
	for _, tc := range []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"TLS 1.2 with CBC suites only", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: cbc}, false},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, false},
		{"TLS 1.2 with AES-GCM", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, true},
		{"TLS 1.2 with ChaCha20-Poly1305", &tls.Config{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, true},
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.client.InsecureSkipVerify = true // the handshake's parameters are tested, not the certificate
			tc.client.ServerName = "panel.test"
			c, s := net.Pipe()
			defer c.Close()
			defer s.Close()
			srvErr := make(chan error, 1)
			go func() { srvErr <- tls.Server(s, cfg).Handshake(); s.Close() }()
			cc := tls.Client(c, tc.client)
			err := cc.Handshake()
			<-srvErr
			if tc.ok && err != nil {
				t.Fatalf("handshake failed: %v", err)
			}
			if !tc.ok && err == nil {
				t.Fatalf("handshake succeeded with %s", tls.CipherSuiteName(cc.ConnectionState().CipherSuite))
			}
		})
	}
}

// testCert returns a self-signed ECDSA certificate for panel.test, as
// certmagic's default key type.
func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "panel.test"}, DNSNames: []string{"panel.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
