package main

// The panel's listeners: plain HTTP on --listen, or, with --domain, HTTPS
// through certmagic on --https-port and a small net/http server on
// --http-port that answers ACME HTTP-01 challenges and redirects everything
// else to HTTPS.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/gofiber/fiber/v2"
	"github.com/mholt/acmez/v3"
	"go.uber.org/zap"

	"github.com/gatehouse-panel/gatehouse/model"
)

// certDir is certmagic's storage inside the data directory (its default
// would be under $HOME, which a system service may not have).
const certDir = "certmagic"

// checkDomains normalises and validates the --domain values and the
// settings that go with them.
func (c *Config) checkDomains() error {
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

// httpsPublicURL is the URL of the first domain on the HTTPS port.
func (c Config) httpsPublicURL() string {
	u := "https://" + c.Domains[0]
	if c.HTTPSPort != 443 {
		u += ":" + strconv.Itoa(c.HTTPSPort)
	}
	return u
}

// servers are the bound listeners of the panel.
type servers struct {
	app  *fiber.App
	main net.Listener // plain, or TLS with --domain
	// With --domain only:
	http    *http.Server
	httpLn  net.Listener
	magic   *certmagic.Config
	cache   *certmagic.Cache
	domains []string
	stop    context.CancelFunc
}

// bindServers binds the listeners; nothing is served yet. With domains,
// certificates come later (manage): the listeners must exist first, so
// that the ACME server can reach our challenge answers, and systemd hears
// READY=1 once they are bound, not when a certificate arrives.
func bindServers(cfg Config, app *fiber.App) (*servers, error) {
	s := &servers{app: app, domains: cfg.Domains}
	if len(cfg.Domains) == 0 {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
		s.main = ln
		return s, nil
	}

	// certmagic logs through zap; its events (below) give the lines that
	// matter, in our log format.
	nop := zap.NewNop()
	s.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return s.magic, nil },
		Logger:           nop,
	})
	s.magic = certmagic.New(s.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: filepath.Join(cfg.DataDir, certDir)},
		OnEvent: logCertEvent,
		Logger:  nop,
		// OnDemand stays nil: certificates only for the configured names,
		// never for whatever name a client sends in its TLS handshake.
	})
	issuer := certmagic.ACMEIssuer{
		CA:     cfg.ACMECA,
		Email:  cfg.ACMEEmail,
		Agreed: true,
		// The ports our listeners are on: certmagic then sees them taken
		// and relies on us to answer (HTTP-01 through HTTPChallengeHandler
		// below, TLS-ALPN-01 through the TLS config's GetCertificate).
		AltHTTPPort:    cfg.HTTPPort,
		AltTLSALPNPort: cfg.HTTPSPort,
		Logger:         nop,
	}
	if issuer.CA == "" {
		issuer.CA = certmagic.LetsEncryptProductionCA
	}
	if cfg.ACMECARoot != "" {
		pool, err := loadRoots(cfg.ACMECARoot)
		if err != nil {
			s.cache.Stop()
			return nil, fmt.Errorf("--acme-ca-root: %w", err)
		}
		issuer.TrustedRoots = pool
	}
	acme := certmagic.NewACMEIssuer(s.magic, issuer)
	s.magic.Issuers = []certmagic.Issuer{acme}

	tlsCfg := s.magic.TLSConfig()
	// certmagic advertises only acme-tls/1; fasthttp speaks HTTP/1.1 (no
	// HTTP/2), and browsers need a protocol they can use.
	tlsCfg.NextProtos = []string{"http/1.1", acmez.ACMETLS1Protocol}
	tlsCfg.MinVersion = tls.VersionTLS12

	httpsAddr := net.JoinHostPort("", strconv.Itoa(cfg.HTTPSPort))
	ln, err := net.Listen("tcp", httpsAddr)
	if err != nil {
		s.cache.Stop()
		return nil, fmt.Errorf("listen on %s (--https-port): %w", httpsAddr, err)
	}
	s.main = tls.NewListener(ln, tlsCfg)

	httpAddr := net.JoinHostPort("", strconv.Itoa(cfg.HTTPPort))
	s.httpLn, err = net.Listen("tcp", httpAddr)
	if err != nil {
		ln.Close()
		s.cache.Stop()
		return nil, fmt.Errorf("listen on %s (--http-port): %w", httpAddr, err)
	}
	s.http = &http.Server{
		Handler:           acme.HTTPChallengeHandler(redirectToHTTPS(cfg.Domains, cfg.HTTPSPort)),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	return s, nil
}

// redirectToHTTPS sends plain HTTP requests to the same path over HTTPS on
// one of our domains (an unknown Host goes to the first domain: the
// redirect never points elsewhere). 308 keeps the method and body.
func redirectToHTTPS(domains []string, httpsPort int) http.Handler {
	port := ""
	if httpsPort != 443 {
		port = ":" + strconv.Itoa(httpsPort)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !slices.Contains(domains, host) {
			host = domains[0]
		}
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, "https://"+host+port+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// serve starts serving on the bound listeners and, with domains, starts
// certificate management in the background: certmagic obtains missing
// certificates and renews them, retrying failures with exponential
// back-off; it never stops the panel. The first error of a server is sent
// on the returned channel.
func (s *servers) serve(ctx context.Context) (<-chan error, error) {
	errc := make(chan error, 2)
	go func() { errc <- s.app.Listener(s.main) }()
	if s.http == nil {
		return errc, nil
	}
	go func() {
		if err := s.http.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http (ACME and redirect) server: %w", err)
		}
	}()
	mctx, cancel := context.WithCancel(ctx)
	s.stop = cancel
	if err := s.magic.ManageAsync(mctx, s.domains); err != nil {
		return errc, fmt.Errorf("certificates for %s: %w", strings.Join(s.domains, ", "), err)
	}
	return errc, nil
}

// addrs describes the listeners for the log.
func (s *servers) addrs() string {
	if s.http == nil {
		return s.main.Addr().String()
	}
	return "https " + s.main.Addr().String() + ", http " + s.httpLn.Addr().String()
}

// shutdown stops the servers and certificate management.
func (s *servers) shutdown(ctx context.Context) {
	if s.stop != nil {
		s.stop()
	}
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			slog.Warn("shutdown of the http server", "err", err)
		}
	}
	if err := s.app.ShutdownWithContext(ctx); err != nil {
		slog.Warn("shutdown", "err", err)
	}
	if s.cache != nil {
		s.cache.Stop()
	}
}

// logCertEvent writes certmagic's certificate events to our log, each in
// one line: obtained, renewed, failed (with the reason; certmagic retries
// with back-off), loaded from storage.
func logCertEvent(_ context.Context, event string, data map[string]any) error {
	id, _ := data["identifier"].(string)
	renewal, _ := data["renewal"].(bool)
	switch event {
	case "cert_obtaining":
		slog.Info("requesting a certificate", "domain", id, "renewal", renewal)
	case "cert_obtained":
		msg := "certificate obtained"
		if renewal {
			msg = "certificate renewed"
		}
		slog.Info(msg, "domain", id, "issuer", data["issuer"])
	case "cert_failed":
		err, _ := data["error"].(error)
		msg := "certificate could not be obtained; retrying with back-off"
		if renewal {
			msg = "certificate could not be renewed; retrying with back-off"
		}
		slog.Error(msg, "domain", id, "err", err)
	case "cached_managed_cert":
		slog.Info("certificate loaded", "domains", data["sans"])
	}
	return nil
}
