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
	"github.com/gatehouse-panel/gatehouse/handlers/cli"
	"github.com/gatehouse-panel/gatehouse/handlers/control"
	"github.com/gatehouse-panel/gatehouse/handlers/server"
	"github.com/gatehouse-panel/gatehouse/model"
)

// Set by the linker (see Makefile).
var (
	version = "dev"
	commit  = "unknown"
)

// Config is everything `serve` reads from flags and the environment: the
// data directory, and the configuration of each package, which the flags
// fill in place (see parseServe). The defaults are those packages' own.
type Config struct {
	// DataDir holds the database (--data); the serving side keeps its
	// certificates there too.
	DataDir  string
	Server   server.Config
	Handlers handlers.Config
	// AuditRetention is how long the store keeps security events and
	// sign-ins (--audit-retention).
	AuditRetention time.Duration
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
		fmt.Fprint(stdout, cli.Usage())
		return 0
	}
	return cli.Run(context.Background(), append([]string{cmd}, args...), stdin, stdout, stderr)
}

// parseServe reads serve's flags, with defaults from the environment, and
// where neither is given the defaults of the packages that own them.
func parseServe(args []string, getenv func(string) string) (Config, error) {
	c := Config{Server: server.DefaultConfig(), Handlers: handlers.DefaultConfig(), AuditRetention: model.DefaultAuditRetention}
	fs, envErrs := serveFlags(&c, getenv)
	if err := fs.Parse(args); err != nil {
		var bad *pflag.InvalidValueError
		if errors.As(err, &bad) {
			return c, fmt.Errorf("--%s %q: %w", bad.GetFlag().Name, bad.GetValue(), errors.Unwrap(bad))
		}
		return c, err
	}
	for _, e := range envErrs {
		if !fs.Changed(e.flag) {
			return c, e.err
		}
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("serve takes no arguments, got %q", fs.Arg(0))
	}
	if c.Handlers.Sessions.Max < c.Handlers.Sessions.Idle {
		return c, fmt.Errorf("--session-max %q: %w", fs.Lookup("session-max").Value, errSessionMax)
	}
	if c.DataDir == "" {
		c.DataDir = model.DefaultDataDir()
	}
	if err := c.Server.Check(); err != nil {
		return c, err
	}
	// What the HTTP side needs to know of the serving configuration.
	c.Server.DataDir = c.DataDir
	c.Handlers.PublicURL = c.Server.PublicURL()
	c.Handlers.Domains = c.Server.Domains
	c.Handlers.Version = version
	return c, nil
}

// envError is a bad value of the environment variable of a flag; it counts
// only when no flag replaces that value.
type envError struct {
	flag string
	err  error
}

// serveFlags binds serve's flags to the fields of c, which hold the
// defaults; a set environment variable replaces a default.
func serveFlags(c *Config, getenv func(string) string) (*pflag.FlagSet, []envError) {
	env := func(name, fallback string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return fallback
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.StringVar(&c.DataDir, "data", env("GATEHOUSE_DATA", ""), "data directory (default /var/lib/gatehouse when it holds a database, else ./data)")
	fs.StringVar(&c.Server.Listen, "listen", env("GATEHOUSE_LISTEN", c.Server.Listen), "address for plain HTTP without a domain")
	fs.StringSliceVar(&c.Server.Domains, "domain", envList(getenv("GATEHOUSE_DOMAINS")), "domain to serve over HTTPS with an ACME certificate (repeatable)")
	fs.StringVar(&c.Server.ACMEEmail, "acme-email", env("GATEHOUSE_ACME_EMAIL", ""), "contact email for the ACME account")
	fs.StringVar(&c.Server.ACMECA, "acme-ca", env("GATEHOUSE_ACME_CA", ""), "ACME directory URL (default Let's Encrypt production)")
	fs.StringVar(&c.Server.ACMECARoot, "acme-ca-root", env("GATEHOUSE_ACME_CA_ROOT", ""), "PEM file of a root that signs the ACME server's certificate")
	fs.StringVar(&c.Server.URL, "public-url", env("GATEHOUSE_PUBLIC_URL", ""), "URL users reach the panel at (needed behind a TLS-terminating proxy)")
	// Flags of other types parse into their fields too.
	proxies := &prefixesValue{p: &c.Handlers.TrustedProxies}
	var envErrs []envError
	for _, f := range []struct {
		value            pflag.Value
		name, env, usage string
	}{
		{newParsedValue(&c.Server.HTTPPort, strconv.Itoa, parsePort), "http-port", "GATEHOUSE_HTTP_PORT",
			"HTTP port for ACME challenges and the HTTPS redirect (with --domain)"},
		{newParsedValue(&c.Server.HTTPSPort, strconv.Itoa, parsePort), "https-port", "GATEHOUSE_HTTPS_PORT",
			"HTTPS port (with --domain)"},
		{proxies, "trusted-proxy", "GATEHOUSE_TRUSTED_PROXIES",
			"CIDR or address of a reverse proxy whose X-Forwarded-* headers are believed (repeatable)"},
		{newParsedValue(&c.Handlers.Sessions.Idle, shortDuration, parseSessionIdle), "session-idle", "GATEHOUSE_SESSION_IDLE",
			"log out after this long without a request"},
		{newParsedValue(&c.Handlers.Sessions.Max, shortDuration, parseSessionMax), "session-max", "GATEHOUSE_SESSION_MAX",
			"log out this long after login"},
		{newParsedValue(&c.AuditRetention, shortDuration, parseRetention), "audit-retention", "GATEHOUSE_AUDIT_RETENTION",
			"keep security events and sign-ins in the audit log this long (e.g. 8760h or 365d)"},
		{newParsedValue(&c.Handlers.StepUp, shortDuration, parseStepUp), "step-up", "GATEHOUSE_STEP_UP",
			"how long after signing in or confirming it is you a session may change passwords, 2FA, tokens and passkeys"},
	} {
		if v := getenv(f.env); v != "" {
			if err := f.value.Set(v); err != nil {
				// Reported like a bad flag.
				envErrs = append(envErrs, envError{f.name, fmt.Errorf("--%s %q: %w", f.name, v, err)})
			}
		}
		fs.Var(f.value, f.name, f.usage)
	}
	// The environment's list is a default: the first flag replaces it.
	proxies.changed = false
	return fs, envErrs
}

// envList splits a comma-separated list, as environment variables and
// list flags hold them.
func envList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parsedValue is a flag that parses its text into a field of a package's
// Config; its text stays as typed, for help and messages.
type parsedValue[T any] struct {
	p     *T
	text  string
	parse func(string) (T, error)
}

// newParsedValue binds a flag to *p, whose value is the default; format
// writes that default for the help.
func newParsedValue[T any](p *T, format func(T) string, parse func(string) (T, error)) *parsedValue[T] {
	return &parsedValue[T]{p: p, text: format(*p), parse: parse}
}

func (v *parsedValue[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return err
	}
	*v.p, v.text = x, s
	return nil
}

func (v *parsedValue[T]) String() string { return v.text }

// Type is "string", as pflag shows it in the help: the flag takes text,
// checked when it is parsed.
func (v *parsedValue[T]) Type() string { return "string" }

func parsePort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, errors.New("want a port number")
	}
	return n, nil
}

func parseSessionIdle(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive duration such as 30m")
	}
	return d, nil
}

// parseRetention reads a positive duration; whole days may be written
// with d (365d), since a retention is counted in days.
func parseRetention(s string) (time.Duration, error) {
	bad := errors.New("want a positive duration such as 8760h or 365d")
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// parseStepUp reads the step-up window: a positive duration.
func parseStepUp(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, errors.New("want a positive duration such as 10m")
	}
	return d, nil
}

// errSessionMax is the one message for a --session-max that cannot be.
var errSessionMax = errors.New("want a duration such as 12h, at least --session-idle")

func parseSessionMax(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errSessionMax
	}
	return d, nil
}

// shortDuration writes d as a person would type it: 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// prefixesValue is the repeatable --trusted-proxy flag: CIDRs or single
// addresses, comma-separated or one per flag. As with pflag's own lists,
// the first flag replaces the default (from the environment); later ones
// add to it.
type prefixesValue struct {
	p       *[]netip.Prefix
	changed bool
}

func (v *prefixesValue) Set(s string) error {
	var list []netip.Prefix
	for _, e := range envList(s) {
		p, err := parsePrefix(e)
		if err != nil {
			return err
		}
		list = append(list, p)
	}
	if !v.changed {
		*v.p = nil
	}
	*v.p, v.changed = append(*v.p, list...), true
	return nil
}

// String is empty for no proxies, which the help then leaves out.
func (v *prefixesValue) String() string {
	if len(*v.p) == 0 {
		return ""
	}
	var s []string
	for _, p := range *v.p {
		s = append(s, p.String())
	}
	return "[" + strings.Join(s, ",") + "]"
}

// Type is "strings", as pflag shows its own lists in the help.
func (v *prefixesValue) Type() string { return "strings" }

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

func serve(cfg Config, stdout io.Writer) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	slog.SetDefault(log)
	store, err := model.Open(cfg.DataDir, model.Options{Create: true, AuditRetention: cfg.AuditRetention})
	if err != nil {
		return err
	}
	defer store.Close()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	generated, created, err := ensureAdmin(ctx, store)
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

	h, err := handlers.New(store, cfg.Handlers, audit, uses)
	if err != nil {
		return err
	}
	ctl, err := control.Listen(store, cli.Exec)
	if err != nil {
		return err
	}
	stopControl := ctl.Start()
	defer func() {
		if err := stopControl(); err != nil {
			slog.Error("control socket", "err", err)
		}
	}()

	srv, err := server.Bind(cfg.Server, h.App())
	if err != nil {
		return err
	}
	errc, err := srv.Serve(ctx)
	if err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	go purgeSessions(ctx, store, cfg.Handlers.Sessions)

	announce(stdout, cfg, generated, created)
	slog.Info("listening", "addr", srv.Addrs(), "url", cfg.Handlers.PublicURL, "data", cfg.DataDir)
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
	srv.Shutdown(shutdownCtx)
	return nil
}

// adminPasswordEnv names the environment variable that sets the first
// admin's password.
const adminPasswordEnv = "GATEHOUSE_ADMIN_PASSWORD"

// ensureAdmin creates the first admin when the database has no user, with
// the password from adminPasswordEnv when it is set (see
// model.Store.EnsureAdmin). The variable is removed from the environment
// first, used or not: nothing the panel starts or reads later (a child
// process, a dump of the environment) should find the password there.
// /proc/PID/environ keeps the environment the process started with; only
// the same user and root can read it.
func ensureAdmin(ctx context.Context, store *model.Store) (generated string, created bool, err error) {
	password := os.Getenv(adminPasswordEnv)
	if err := os.Unsetenv(adminPasswordEnv); err != nil {
		return "", false, fmt.Errorf("remove %s from the environment: %w", adminPasswordEnv, err)
	}
	return store.EnsureAdmin(ctx, password)
}

// announce tells the operator where the panel runs and how to log in the
// first time.
func announce(stdout io.Writer, cfg Config, generated string, created bool) {
	fmt.Fprintf(stdout, "Gatehouse %s is running at %s (data in %s)\n", version, cfg.Handlers.PublicURL, cfg.DataDir)
	pwFile := filepath.Join(cfg.DataDir, model.InitialPasswordFile)
	if created {
		switch {
		case generated == "":
			fmt.Fprintln(stdout, "Log in as admin with the password from GATEHOUSE_ADMIN_PASSWORD.")
		case isTerminal(stdout):
			fmt.Fprintf(stdout, "Log in as admin with password: %s\n(also saved in %s until you change it)\n", generated, pwFile)
		default:
			// A journal must never hold a password.
			fmt.Fprintf(stdout, "Log in as admin; the password is in %s (removed once you change it).\n", pwFile)
		}
	} else if _, err := os.Stat(pwFile); err == nil {
		fmt.Fprintf(stdout, "The first admin password is still in %s.\n", pwFile)
	}
}

func purgeSessions(ctx context.Context, store *model.Store, policy model.SessionPolicy) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := store.PurgeSessions(policy); err != nil {
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
