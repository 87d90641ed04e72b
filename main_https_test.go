package main

// Configuration and plumbing of HTTPS with --domain. The full path (ACME
// with Pebble, real TLS, Chromium) is handlers/https_e2e_test.go.

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
	"strings"
	"testing"
	"time"
)

func TestParseServeDomains(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(root, testRootPEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, []byte("not a certificate"), 0o600)
	noenv := func(string) string { return "" }

	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "one domain on the default ports",
			args: []string{"--domain", "Panel.Example.COM."},
			check: func(t *testing.T, c Config) {
				if len(c.Domains) != 1 || c.Domains[0] != "panel.example.com" || c.HTTPPort != 80 || c.HTTPSPort != 443 {
					t.Errorf("config %+v", c)
				}
				if got := c.publicURL(); got != "https://panel.example.com" {
					t.Errorf("public URL %q", got)
				}
			},
		},
		{
			name: "domains from the environment, ports by flag",
			args: []string{"--http-port", "8080", "--https-port", "8443"},
			env:  map[string]string{"GATEHOUSE_DOMAINS": "panel.test, www.panel.test", "GATEHOUSE_ACME_CA": "https://127.0.0.1:14000/dir"},
			check: func(t *testing.T, c Config) {
				if strings.Join(c.Domains, ",") != "panel.test,www.panel.test" || c.ACMECA != "https://127.0.0.1:14000/dir" {
					t.Errorf("config %+v", c)
				}
				if got := c.publicURL(); got != "https://panel.test:8443" {
					t.Errorf("public URL %q", got)
				}
			},
		},
		{
			name: "ports from the environment",
			args: []string{"--domain", "panel.test"},
			env:  map[string]string{"GATEHOUSE_HTTP_PORT": "8081", "GATEHOUSE_HTTPS_PORT": "8444"},
			check: func(t *testing.T, c Config) {
				if c.HTTPPort != 8081 || c.HTTPSPort != 8444 {
					t.Errorf("ports %d %d", c.HTTPPort, c.HTTPSPort)
				}
			},
		},
		{
			name: "a public URL wins for display",
			args: []string{"--domain", "panel.test", "--public-url", "https://panel.test/"},
			check: func(t *testing.T, c Config) {
				if got := c.publicURL(); got != "https://panel.test" {
					t.Errorf("public URL %q", got)
				}
			},
		},
		{name: "a root file", args: []string{"--domain", "panel.test", "--acme-ca-root", root}},
		{name: "no domain: plain HTTP on localhost", args: nil, check: func(t *testing.T, c Config) {
			if got := c.publicURL(); got != "http://localhost:8080" {
				t.Errorf("public URL %q", got)
			}
		}},
		{name: "IP address", args: []string{"--domain", "192.0.2.1"}, wantErr: "an IP address cannot hold passkeys"},
		{name: "IPv6 address", args: []string{"--domain", "2001:db8::1"}, wantErr: "an IP address"},
		{name: "wildcard", args: []string{"--domain", "*.example.com"}, wantErr: "want a DNS name"},
		{name: "scheme", args: []string{"--domain", "https://panel.example.com"}, wantErr: "want a DNS name"},
		{name: "port", args: []string{"--domain", "panel.example.com:443"}, wantErr: "want a DNS name"},
		{name: "empty label", args: []string{"--domain", "panel..com"}, wantErr: "want a DNS name"},
		{name: "same ports", args: []string{"--domain", "panel.test", "--http-port", "8443", "--https-port", "8443"}, wantErr: "must differ"},
		{name: "port out of range", args: []string{"--domain", "panel.test", "--https-port", "70000"}, wantErr: "from 1 to 65535"},
		{name: "port not a number", args: []string{"--domain", "panel.test", "--http-port", "eighty"}, wantErr: "want a port number"},
		{name: "bad CA URL", args: []string{"--domain", "panel.test", "--acme-ca", "acme.example.com"}, wantErr: "--acme-ca"},
		{name: "missing root file", args: []string{"--domain", "panel.test", "--acme-ca-root", filepath.Join(dir, "nope.pem")}, wantErr: "--acme-ca-root"},
		{name: "root file without a certificate", args: []string{"--domain", "panel.test", "--acme-ca-root", empty}, wantErr: "holds no PEM certificate"},
		{name: "bad ACME email", args: []string{"--domain", "panel.test", "--acme-email", "not an address"}, wantErr: "--acme-email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := noenv
			if tc.env != nil {
				getenv = func(k string) string { return tc.env[k] }
			}
			c, err := parseServe(append([]string{"--data", dir}, tc.args...), getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestRedirectToHTTPS(t *testing.T) {
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
