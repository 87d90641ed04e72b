// Package server binds and runs the panel's listeners: plain HTTP on
// --listen, or, with --domain, HTTPS through certmagic on --https-port and
// a small net/http server on --http-port that answers ACME HTTP-01
// challenges and redirects everything else to HTTPS.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/gofiber/fiber/v2"
	"github.com/mholt/acmez/v3"
	"go.uber.org/zap"
)

// Servers are the bound listeners of the panel.
type Servers struct {
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

// Bind binds the listeners of cfg (checked with Config.Check) for app;
// nothing is served yet. With domains, certificates come later (Serve):
// the listeners must exist first, so that the ACME server can reach our
// challenge answers, and systemd hears READY=1 once they are bound, not
// when a certificate arrives.
func Bind(cfg Config, app *fiber.App) (*Servers, error) {
	s := &Servers{app: app, domains: cfg.Domains}
	if len(cfg.Domains) == 0 {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
		}
		s.main = drainListener{ln}
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

	tlsCfg := tlsConfig(s.magic.TLSConfig())

	httpsAddr := net.JoinHostPort("", strconv.Itoa(cfg.HTTPSPort))
	ln, err := net.Listen("tcp", httpsAddr)
	if err != nil {
		s.cache.Stop()
		return nil, fmt.Errorf("listen on %s (--https-port): %w", httpsAddr, err)
	}
	// Draining sits under TLS: fasthttp recognises HTTPS by the
	// connection's TLS methods, which a wrapper would hide.
	s.main = tls.NewListener(drainListener{ln}, tlsCfg)

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

// tlsConfig completes certmagic's TLS configuration (its GetCertificate
// answers TLS-ALPN-01 challenges too) for the HTTPS listener.
func tlsConfig(cfg *tls.Config) *tls.Config {
	// certmagic advertises only acme-tls/1; fasthttp speaks HTTP/1.1 (no
	// HTTP/2), and browsers need a protocol they can use.
	cfg.NextProtos = []string{"http/1.1", acmez.ACMETLS1Protocol}
	cfg.MinVersion = tls.VersionTLS12
	// TLS 1.2 gets AEAD suites with forward secrecy only, as Mozilla's
	// "intermediate" profile: Go's defaults still offer CBC suites with
	// SHA-1 MACs (ECDHE-ECDSA-AES128-SHA …). TLS 1.3 suites are not
	// configurable and all AEAD.
	cfg.CipherSuites = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	return cfg
}

// redirectToHTTPS sends plain HTTP requests to the same path over HTTPS on
// one of our domains (an unknown Host goes to the first domain: the
// redirect never points elsewhere). 308 keeps the method and body.
//
// The target is built from the escaped path and the query only, never
// from the raw request target: an absolute-form or odd target such as
// "http:@evil.net/x" would otherwise be glued to our host and read as
// https://panel.example.com@evil.net/x, a redirect to another site. A
// path that does not start with a slash (opaque or "*" targets) becomes
// "/".
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
		path := r.URL.EscapedPath()
		if !strings.HasPrefix(path, "/") {
			path = "/"
		}
		if r.URL.RawQuery != "" {
			path += "?" + r.URL.RawQuery
		}
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, "https://"+host+port+path, http.StatusPermanentRedirect)
	})
}

// Serve starts serving on the bound listeners and, with domains, starts
// certificate management in the background: certmagic obtains missing
// certificates and renews them, retrying failures with exponential
// back-off; it never stops the panel. The first error of a server is sent
// on the returned channel.
func (s *Servers) Serve(ctx context.Context) (<-chan error, error) {
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

// Addrs describes the listeners for the log.
func (s *Servers) Addrs() string {
	if s.http == nil {
		return s.main.Addr().String()
	}
	return "https " + s.main.Addr().String() + ", http " + s.httpLn.Addr().String()
}

// Shutdown stops the servers and certificate management.
func (s *Servers) Shutdown(ctx context.Context) {
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
