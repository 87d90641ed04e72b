// Command gatehouse is the login and user-management core of a self-hosted
// server panel: one binary that serves the web UI and JSON API and offers a
// CLI for the same features.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/gatehouse-panel/gatehouse/handlers"
	"github.com/gatehouse-panel/gatehouse/model"
)

// Set by the linker (see Makefile).
var (
	version = "dev"
	commit  = "unknown"
)

// Config is everything `serve` reads from flags and the environment.
type Config struct {
	DataDir        string
	Listen         string
	Domains        []string
	HTTPPort       int
	HTTPSPort      int
	ACMEEmail      string
	ACMECA         string
	ACMECARoot     string
	TrustedProxies []netip.Prefix
	PublicURL      string
	SessionIdle    time.Duration
	SessionMax     time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		cfg, err := parseServe(args, os.Getenv)
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		if err != nil {
			fmt.Fprintln(stderr, "gatehouse:", err)
			return 1
		}
		if err := serve(cfg, stdout); err != nil {
			fmt.Fprintln(stderr, "gatehouse:", err)
			return 1
		}
		return 0
	case "version", "--version":
		fmt.Fprintf(stdout, "gatehouse %s (commit %s, %s %s/%s)\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	return handlers.RunCLI(context.Background(), append([]string{cmd}, args...), stdin, stdout, stderr)
}

const usage = `gatehouse: login and user management for a self-hosted server panel

Usage:
  gatehouse [serve] [flags]                 run the panel (gatehouse serve --help)
  gatehouse user list                       table of users
  gatehouse user add NAME --email E         create a user (password from --password-stdin or a prompt)
  gatehouse user passwd NAME                set a password; ends that user's sessions
  gatehouse user delete NAME                delete a user (never the last one)
  gatehouse user 2fa-off NAME               lock-out recovery: turn two-factor authentication off
  gatehouse user passkeys-clear NAME        delete all passkeys of a user
  gatehouse token create NAME [--ip IP/CIDR]… [--expires 90d|12h|RFC3339]
                                            print a new access token of user NAME (for scripts)
  gatehouse backup FILE [--force]           consistent copy of the database, also while the panel runs
  gatehouse version                         version, commit, Go version

Every command takes --data DIR (or GATEHOUSE_DATA).
`

// envList splits a comma-separated environment value.
func envList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func parseServe(args []string, getenv func(string) string) (Config, error) {
	def := func(env, fallback string) string {
		if v := getenv(env); v != "" {
			return v
		}
		return fallback
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	var c Config
	var proxies []string
	var idle, max string
	fs.StringVar(&c.DataDir, "data", def("GATEHOUSE_DATA", ""), "data directory (default /var/lib/gatehouse when it holds a database, else ./data)")
	fs.StringVar(&c.Listen, "listen", def("GATEHOUSE_LISTEN", "127.0.0.1:8080"), "address for plain HTTP without a domain")
	fs.StringSliceVar(&c.Domains, "domain", envList(getenv("GATEHOUSE_DOMAINS")), "domain to serve over HTTPS with an ACME certificate (repeatable)")
	var httpPort, httpsPort string
	fs.StringVar(&httpPort, "http-port", def("GATEHOUSE_HTTP_PORT", "80"), "HTTP port for ACME challenges and the HTTPS redirect (with --domain)")
	fs.StringVar(&httpsPort, "https-port", def("GATEHOUSE_HTTPS_PORT", "443"), "HTTPS port (with --domain)")
	fs.StringVar(&c.ACMEEmail, "acme-email", def("GATEHOUSE_ACME_EMAIL", ""), "contact email for the ACME account")
	fs.StringVar(&c.ACMECA, "acme-ca", def("GATEHOUSE_ACME_CA", ""), "ACME directory URL (default Let's Encrypt production)")
	fs.StringVar(&c.ACMECARoot, "acme-ca-root", def("GATEHOUSE_ACME_CA_ROOT", ""), "PEM file of a root that signs the ACME server's certificate")
	fs.StringSliceVar(&proxies, "trusted-proxy", envList(getenv("GATEHOUSE_TRUSTED_PROXIES")), "CIDR or address of a reverse proxy whose X-Forwarded-* headers are believed (repeatable)")
	fs.StringVar(&c.PublicURL, "public-url", def("GATEHOUSE_PUBLIC_URL", ""), "URL users reach the panel at (needed behind a TLS-terminating proxy)")
	fs.StringVar(&idle, "session-idle", def("GATEHOUSE_SESSION_IDLE", "1h"), "log out after this long without a request")
	fs.StringVar(&max, "session-max", def("GATEHOUSE_SESSION_MAX", "12h"), "log out this long after login")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve takes no arguments, got %q", fs.Arg(0))
	}
	if c.DataDir == "" {
		c.DataDir = model.DefaultDataDir()
	}
	for _, p := range proxies {
		pr, err := parsePrefix(p)
		if err != nil {
			return c, fmt.Errorf("--trusted-proxy %q: %w", p, err)
		}
		c.TrustedProxies = append(c.TrustedProxies, pr)
	}
	var err error
	if c.SessionIdle, err = time.ParseDuration(idle); err != nil || c.SessionIdle <= 0 {
		return c, fmt.Errorf("--session-idle %q: want a positive duration such as 30m", idle)
	}
	if c.SessionMax, err = time.ParseDuration(max); err != nil || c.SessionMax < c.SessionIdle {
		return c, fmt.Errorf("--session-max %q: want a duration such as 12h, at least --session-idle", max)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return c, fmt.Errorf("--listen %q: want host:port", c.Listen)
	}
	if c.HTTPPort, err = strconv.Atoi(httpPort); err != nil {
		return c, fmt.Errorf("--http-port %q: want a port number", httpPort)
	}
	if c.HTTPSPort, err = strconv.Atoi(httpsPort); err != nil {
		return c, fmt.Errorf("--https-port %q: want a port number", httpsPort)
	}
	if err := c.checkDomains(); err != nil {
		return c, err
	}
	return c, nil
}

// parsePrefix accepts a CIDR or a single address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// publicURL is the address printed at start and used for origin checks.
func (c Config) publicURL() string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
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

func serve(cfg Config, stdout io.Writer) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	slog.SetDefault(log)
	store, err := model.Open(cfg.DataDir, model.Options{Create: true})
	if err != nil {
		return err
	}
	defer store.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	generated, created, err := store.EnsureAdmin(ctx, os.Getenv("GATEHOUSE_ADMIN_PASSWORD"))
	if err != nil {
		return err
	}

	// Creating the admin and the hasher's dummy hash each took an argon2id
	// buffer (19 MiB); hand that memory back so the idle panel stays small.
	debug.FreeOSMemory()

	audit := model.NewAuditBuffer(store, time.Second)
	go audit.Run(ctx)
	// Run stops when ctx ends: end it first, or a start that fails after
	// this point would wait here forever.
	defer func() { stop(); audit.Wait() }()

	// Last uses of access tokens are written in batches. Run writes what is
	// left when usesCtx ends: stopped by this defer, after the servers
	// have shut down (the end of serve) and before the store closes.
	uses := model.NewTokenUseBuffer(store)
	usesCtx, stopUses := context.WithCancel(context.Background())
	go uses.Run(usesCtx)
	defer func() { stopUses(); uses.Wait() }()

	h, err := handlers.New(store, handlers.Config{
		PublicURL:      cfg.publicURL(),
		TrustedProxies: cfg.TrustedProxies,
		Domains:        cfg.Domains,
		SessionIdle:    cfg.SessionIdle,
		SessionMax:     cfg.SessionMax,
		Version:        version,
	}, audit, uses)
	if err != nil {
		return err
	}
	ctl, err := handlers.ListenControl(store)
	if err != nil {
		return err
	}
	defer ctl.Close()
	go ctl.Serve(ctx)

	app := h.App()
	srv, err := bindServers(cfg, app)
	if err != nil {
		return err
	}
	errc, err := srv.serve(ctx)
	if err != nil {
		srv.shutdown(context.Background())
		return err
	}
	go purgeSessions(ctx, store, cfg)

	url := cfg.publicURL()
	fmt.Fprintf(stdout, "Gatehouse %s is running at %s (data in %s)\n", version, url, cfg.DataDir)
	if created {
		pwFile := filepath.Join(cfg.DataDir, model.InitialPasswordFile)
		switch {
		case generated == "":
			fmt.Fprintln(stdout, "Log in as admin with the password from GATEHOUSE_ADMIN_PASSWORD.")
		case isTerminal(stdout):
			fmt.Fprintf(stdout, "Log in as admin with password: %s\n(also saved in %s until you change it)\n", generated, pwFile)
		default:
			// A journal must never hold a password.
			fmt.Fprintf(stdout, "Log in as admin; the password is in %s (removed once you change it).\n", pwFile)
		}
	} else if _, err := os.Stat(filepath.Join(cfg.DataDir, model.InitialPasswordFile)); err == nil {
		fmt.Fprintf(stdout, "The first admin password is still in %s.\n", filepath.Join(cfg.DataDir, model.InitialPasswordFile))
	}
	slog.Info("listening", "addr", srv.addrs(), "url", url, "data", cfg.DataDir)
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		slog.Warn("sd_notify failed", "err", err)
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	daemon.SdNotify(false, daemon.SdNotifyStopping)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.shutdown(shutdownCtx)
	return nil
}

func purgeSessions(ctx context.Context, store *model.Store, cfg Config) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := store.PurgeSessions(model.SessionPolicy{Idle: cfg.SessionIdle, Max: cfg.SessionMax}); err != nil {
				slog.Error("purge sessions", "err", err)
			} else if n > 0 {
				slog.Info("expired sessions removed", "count", n)
			}
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
