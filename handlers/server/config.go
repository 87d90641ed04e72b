package server

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/gatehouse-panel/gatehouse/model"
)

// Config is what the listeners need. main fills it from flags and the
// environment (the comments name the flags); start from DefaultConfig,
// which holds the only copy of the defaults, and call Check before Bind.
type Config struct {
	// Listen is the host:port of plain HTTP without a domain (--listen).
	Listen string
	// Domains are the names served over HTTPS with ACME certificates
	// (--domain); with none, the panel serves plain HTTP on Listen.
	Domains []string
	// HTTPPort answers ACME HTTP-01 challenges and redirects everything
	// else to HTTPS (--http-port); HTTPSPort serves the panel
	// (--https-port). Both only with Domains.
	HTTPPort  int
	HTTPSPort int
	// ACMEEmail is the ACME account's contact (--acme-email), ACMECA the
	// ACME directory URL (--acme-ca; empty means Let's Encrypt production)
	// and ACMECARoot a PEM file of a root that signs the ACME server's own
	// certificate (--acme-ca-root), for a private or test ACME server.
	ACMEEmail  string
	ACMECA     string
	ACMECARoot string
	// DataDir is the panel's data directory; certificates are stored in
	// its certmagic folder (certmagic's default would be under $HOME,
	// which a system service may not have).
	DataDir string
	// URL is the address users reach the panel at when it is not the one
	// Listen or Domains give (--public-url, behind a TLS-terminating
	// proxy). Read the effective address with PublicURL.
	URL string
}

// DefaultConfig is the configuration without flags or environment: plain
// HTTP on the loopback, and the standard ports once a domain is set.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:8080", HTTPPort: 80, HTTPSPort: 443}
}

// certDir is certmagic's storage inside the data directory.
const certDir = "certmagic"

// Check normalises the domain names and validates the settings that go
// with them; its messages name the flags, as an operator typed them.
func (c *Config) Check() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("--listen %q: want host:port", c.Listen)
	}
	for i, d := range c.Domains {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if net.ParseIP(d) != nil {
			return fmt.Errorf("--domain %q: an IP address cannot hold passkeys (browsers refuse it as WebAuthn relying party); use a DNS name", d)
		}
		if !validHostname(d) {
			return fmt.Errorf("--domain %q: want a DNS name such as panel.example.com (no scheme, port or wildcard)", c.Domains[i])
		}
		c.Domains[i] = d
	}
	if len(c.Domains) == 0 {
		return nil
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"--http-port", c.HTTPPort}, {"--https-port", c.HTTPSPort}} {
		if p.v < 1 || p.v > 65535 {
			return fmt.Errorf("%s %d: want a port from 1 to 65535", p.name, p.v)
		}
	}
	if c.HTTPPort == c.HTTPSPort {
		return fmt.Errorf("--http-port and --https-port are both %d: they must differ", c.HTTPPort)
	}
	if c.ACMECA != "" {
		u, err := url.Parse(c.ACMECA)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("--acme-ca %q: want the URL of an ACME directory, e.g. https://acme-v02.api.letsencrypt.org/directory", c.ACMECA)
		}
	}
	if c.ACMEEmail != "" {
		if err := model.ValidateEmail(c.ACMEEmail); err != nil {
			return fmt.Errorf("--acme-email: %w", err)
		}
	}
	if c.ACMECARoot != "" {
		if _, err := loadRoots(c.ACMECARoot); err != nil {
			return fmt.Errorf("--acme-ca-root: %w", err)
		}
	}
	return nil
}

// validHostname reports whether s is a DNS name of letter-digit-hyphen
// labels (RFC 1123), at most 253 characters.
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// loadRoots reads a PEM file of root certificates and adds them to the
// system's roots, so that a private ACME server (Pebble in tests) is
// trusted for talking to it and public ones still are.
func loadRoots(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// PublicURL is the address printed at start and used for origin checks:
// URL when set, else the first domain over HTTPS, else Listen.
func (c Config) PublicURL() string {
	if c.URL != "" {
		return strings.TrimSuffix(c.URL, "/")
	}
	if len(c.Domains) > 0 {
		return c.httpsPublicURL()
	}
	host, port, _ := net.SplitHostPort(c.Listen)
	if ip, err := netip.ParseAddr(host); (err == nil && (ip.IsLoopback() || ip.IsUnspecified())) || host == "" || host == "localhost" {
		// Browsers treat http://localhost as a secure context (and as a
		// valid WebAuthn RP ID); http://127.0.0.1 is not.
		return "http://localhost:" + port
	}
	return "http://" + c.Listen
}

// httpsPublicURL is the URL of the first domain on the HTTPS port.
func (c Config) httpsPublicURL() string {
	u := "https://" + c.Domains[0]
	if c.HTTPSPort != 443 {
		u += ":" + strconv.Itoa(c.HTTPSPort)
	}
	return u
}
