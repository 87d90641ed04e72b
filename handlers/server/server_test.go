package server

// Configuration and plumbing of HTTPS with --domain. The full path (ACME
// with Pebble, real TLS, Chromium) is https_e2e_test.go.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
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
