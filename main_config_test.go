package main

// serve's flags and environment variables fill the packages' own Configs;
// the rules of each setting are tested beside them (handlers/server).

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers"
	"github.com/gatehouse-panel/gatehouse/handlers/server"
)

func TestParseServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prefixes := func(s ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, p := range s {
			out = append(out, netip.MustParsePrefix(p))
		}
		return out
	}

	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "defaults: plain HTTP on localhost",
			check: func(t *testing.T, c Config) {
				want := server.DefaultConfig()
				want.DataDir = dir
				if c.Server.Listen != want.Listen || c.Server.HTTPPort != want.HTTPPort || c.Server.HTTPSPort != want.HTTPSPort ||
					len(c.Server.Domains) != 0 || c.Server.DataDir != dir || c.DataDir != dir {
					t.Errorf("server config %+v, want %+v", c.Server, want)
				}
				if c.Handlers.PublicURL != "http://localhost:8080" || c.Handlers.Version != version ||
					c.Handlers.Sessions != handlers.DefaultConfig().Sessions || len(c.Handlers.TrustedProxies) != 0 {
					t.Errorf("handlers config %+v", c.Handlers)
				}
			},
		},
		{
			name: "one domain on the default ports",
			args: []string{"--domain", "Panel.Example.COM."},
			check: func(t *testing.T, c Config) {
				if len(c.Server.Domains) != 1 || c.Server.Domains[0] != "panel.example.com" || c.Server.HTTPPort != 80 || c.Server.HTTPSPort != 443 {
					t.Errorf("config %+v", c.Server)
				}
				if c.Handlers.PublicURL != "https://panel.example.com" || strings.Join(c.Handlers.Domains, ",") != "panel.example.com" {
					t.Errorf("handlers config %+v", c.Handlers)
				}
			},
		},
		{
			name: "domains from the environment, ports by flag",
			args: []string{"--http-port", "8080", "--https-port", "8443"},
			env:  map[string]string{"GATEHOUSE_DOMAINS": "panel.test, www.panel.test", "GATEHOUSE_ACME_CA": "https://127.0.0.1:14000/dir"},
			check: func(t *testing.T, c Config) {
				if strings.Join(c.Server.Domains, ",") != "panel.test,www.panel.test" || c.Server.ACMECA != "https://127.0.0.1:14000/dir" {
					t.Errorf("config %+v", c.Server)
				}
				if c.Handlers.PublicURL != "https://panel.test:8443" {
					t.Errorf("public URL %q", c.Handlers.PublicURL)
				}
			},
		},
		{
			name: "ports from the environment",
			args: []string{"--domain", "panel.test"},
			env:  map[string]string{"GATEHOUSE_HTTP_PORT": "8081", "GATEHOUSE_HTTPS_PORT": "8444"},
			check: func(t *testing.T, c Config) {
				if c.Server.HTTPPort != 8081 || c.Server.HTTPSPort != 8444 {
					t.Errorf("ports %d %d", c.Server.HTTPPort, c.Server.HTTPSPort)
				}
			},
		},
		{
			name: "a flag wins over the environment",
			args: []string{"--listen", "127.0.0.1:9001", "--session-idle", "20m"},
			env:  map[string]string{"GATEHOUSE_LISTEN": "127.0.0.1:9000", "GATEHOUSE_SESSION_IDLE": "10m"},
			check: func(t *testing.T, c Config) {
				if c.Server.Listen != "127.0.0.1:9001" || c.Handlers.Sessions.Idle != 20*time.Minute {
					t.Errorf("listen %q, idle %v", c.Server.Listen, c.Handlers.Sessions.Idle)
				}
			},
		},
		{
			name: "a public URL wins for display",
			args: []string{"--domain", "panel.test", "--public-url", "https://panel.test/"},
			check: func(t *testing.T, c Config) {
				if c.Handlers.PublicURL != "https://panel.test" {
					t.Errorf("public URL %q", c.Handlers.PublicURL)
				}
			},
		},
		{
			name: "session lifetimes",
			args: []string{"--session-max", "90m"},
			env:  map[string]string{"GATEHOUSE_SESSION_IDLE": "30m"},
			check: func(t *testing.T, c Config) {
				if c.Handlers.Sessions.Idle != 30*time.Minute || c.Handlers.Sessions.Max != 90*time.Minute {
					t.Errorf("sessions %+v", c.Handlers.Sessions)
				}
			},
		},
		{
			name: "step-up window: a flag wins over the environment",
			env:  map[string]string{"GATEHOUSE_STEP_UP": "5m"},
			args: []string{"--step-up", "2m"},
			check: func(t *testing.T, c Config) {
				if c.Handlers.StepUp != 2*time.Minute {
					t.Errorf("step-up %v", c.Handlers.StepUp)
				}
			},
		},
		{
			name: "step-up window from the environment",
			env:  map[string]string{"GATEHOUSE_STEP_UP": "90s"},
			check: func(t *testing.T, c Config) {
				if c.Handlers.StepUp != 90*time.Second {
					t.Errorf("step-up %v", c.Handlers.StepUp)
				}
			},
		},
		{
			name: "step-up window by default",
			check: func(t *testing.T, c Config) {
				if c.Handlers.StepUp != 10*time.Minute {
					t.Errorf("step-up %v", c.Handlers.StepUp)
				}
			},
		},
		{
			name: "trusted proxies from the environment",
			env:  map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.1, 192.168.7.9/16,::ffff:127.0.0.1"},
			check: func(t *testing.T, c Config) {
				want := prefixes("10.0.0.1/32", "192.168.0.0/16", "127.0.0.1/32")
				if !slices.Equal(c.Handlers.TrustedProxies, want) {
					t.Errorf("trusted proxies %v, want %v", c.Handlers.TrustedProxies, want)
				}
			},
		},
		{
			name: "trusted-proxy flags replace the environment's list and add up",
			args: []string{"--trusted-proxy", "::1", "--trusted-proxy=10.1.0.0/16,10.2.0.0/16"},
			env:  map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.1"},
			check: func(t *testing.T, c Config) {
				want := prefixes("::1/128", "10.1.0.0/16", "10.2.0.0/16")
				if !slices.Equal(c.Handlers.TrustedProxies, want) {
					t.Errorf("trusted proxies %v, want %v", c.Handlers.TrustedProxies, want)
				}
			},
		},
		{
			name: "a flag replaces a bad value in the environment",
			args: []string{"--https-port", "8443", "--session-idle", "5m"},
			env:  map[string]string{"GATEHOUSE_HTTPS_PORT": "443s", "GATEHOUSE_SESSION_IDLE": "soon"},
			check: func(t *testing.T, c Config) {
				if c.Server.HTTPSPort != 8443 || c.Handlers.Sessions.Idle != 5*time.Minute {
					t.Errorf("https port %d, idle %v", c.Server.HTTPSPort, c.Handlers.Sessions.Idle)
				}
			},
		},
		{name: "port not a number", args: []string{"--domain", "panel.test", "--http-port", "eighty"},
			wantErr: `--http-port "eighty": want a port number`},
		{name: "port not a number in the environment", env: map[string]string{"GATEHOUSE_HTTPS_PORT": "443s"},
			wantErr: `--https-port "443s": want a port number`},
		{name: "a check of the serving configuration", args: []string{"--domain", "192.0.2.1"}, wantErr: "an IP address cannot hold passkeys"},
		{name: "listen without a port", args: []string{"--listen", "localhost"}, wantErr: `--listen "localhost": want host:port`},
		{name: "bad trusted proxy", args: []string{"--trusted-proxy", "proxy.example"}, wantErr: `--trusted-proxy "proxy.example": `},
		{name: "bad trusted proxy in the environment", env: map[string]string{"GATEHOUSE_TRUSTED_PROXIES": "10.0.0.0/40"},
			wantErr: `--trusted-proxy "10.0.0.0/40": `},
		{name: "idle time not positive", args: []string{"--session-idle", "0s"},
			wantErr: `--session-idle "0s": want a positive duration such as 30m`},
		{name: "idle time not a duration", env: map[string]string{"GATEHOUSE_SESSION_IDLE": "1 hour"},
			wantErr: `--session-idle "1 hour": want a positive duration such as 30m`},
		{name: "maximum shorter than the idle time", args: []string{"--session-idle", "2h", "--session-max", "90m"},
			wantErr: `--session-max "90m": want a duration such as 12h, at least --session-idle`},
		{name: "step-up window not positive", args: []string{"--step-up", "0s"},
			wantErr: `--step-up "0s": want a positive duration such as 10m`},
		{name: "step-up window not a duration", env: map[string]string{"GATEHOUSE_STEP_UP": "ten minutes"},
			wantErr: `--step-up "ten minutes": want a positive duration such as 10m`},
		{name: "maximum not a duration", args: []string{"--session-max", "forever"},
			wantErr: `--session-max "forever": want a duration such as 12h, at least --session-idle`},
		{name: "an argument", args: []string{"now"}, wantErr: `serve takes no arguments, got "now"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
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

// TestServeHelp: the help shows each default as an operator would type
// it, from the package that owns it, or from the environment when set.
func TestServeHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{nil, []string{`--listen string `, `(default "127.0.0.1:8080")`, `(default "80")`, `(default "443")`,
			`--session-idle string `, `(default "1h")`, `(default "12h")`, `--trusted-proxy strings `, `--domain strings `}},
		{map[string]string{"GATEHOUSE_LISTEN": "[::1]:9000", "GATEHOUSE_SESSION_MAX": "90m", "GATEHOUSE_TRUSTED_PROXIES": "10.0.0.1,10.1.0.0/16"},
			[]string{`(default "[::1]:9000")`, `(default "90m")`, `(default [10.0.0.1/32,10.1.0.0/16])`}},
	} {
		c := Config{Server: server.DefaultConfig(), Handlers: handlers.DefaultConfig()}
		fs, envErrs := serveFlags(&c, func(k string) string { return tc.env[k] })
		if len(envErrs) > 0 {
			t.Fatalf("env %v: %v", tc.env, envErrs)
		}
		help := fs.FlagUsages()
		for _, w := range tc.want {
			if !strings.Contains(help, w) {
				t.Errorf("env %v: the help lacks %s:\n%s", tc.env, w, help)
			}
		}
		if strings.Contains(help, "(default [])") {
			t.Errorf("env %v: the help shows an empty default:\n%s", tc.env, help)
		}
	}
}
