package handlers

import (
	"strconv"
	"testing"
)

// TestPasskeyAdvice: where passkeys cannot work, the Passkeys dialog says
// what would make them work at that very address: HTTPS (--domain, or a
// TLS reverse proxy with --public-url and --trusted-proxy) with the host
// name the panel is reached at, a host name instead of an IP address, or
// http://localhost where the panel runs there; it talks about IP addresses
// only at an IP address and offers localhost only where the panel is
// configured for it. The login page offers no passkey button there.
func TestPasskeyAdvice(t *testing.T) {
	t.Parallel()
	public := func(u string) []func(*Config) { return []func(*Config){func(c *Config) { c.PublicURL = u }} }
	https := []string{"Passkeys need HTTPS", "--domain", "--public-url https://", "--trusted-proxy"}
	for _, tc := range []struct {
		name      string
		opts      []func(*Config)
		host      string
		want, not []string
	}{
		{name: "plain HTTP at a host name", opts: public("http://panel.test:8080"), host: "http://panel.test:8080",
			want: append([]string{"plain HTTP only at localhost", "--domain panel.test", "--public-url https://panel.test "}, https...),
			not:  []string{"IP address", "http://localhost", "SSH"}},
		{name: "plain HTTP at an address", opts: public("http://192.0.2.10:8080"), host: "http://192.0.2.10:8080",
			want: append([]string{"at an IP address such as 192.0.2.10", "a host name"}, https...),
			not:  []string{"http://localhost", "--domain 192.0.2.10"}},
		{name: "localhost panel at 127.0.0.1", host: "http://127.0.0.1:8080",
			want: append([]string{"at an IP address such as 127.0.0.1", "http://localhost:8080"}, https...)},
		{name: "localhost panel at a LAN address", host: "http://192.0.2.10:8080",
			want: append([]string{"at an IP address such as 192.0.2.10", "http://localhost:8080", "SSH tunnel"}, https...),
			not:  []string{"such as 127.0.0.1"}},
		{name: "localhost panel on another port", host: "http://localhost:9000",
			want: []string{"Open the panel at http://localhost:8080"},
			not:  []string{"IP address"}},
		{name: "host-name panel at localhost", opts: public("http://panel.test:8080"), host: "http://localhost:8080",
			want: append([]string{"--domain panel.test", "--public-url http://localhost:"}, https...),
			not:  []string{"IP address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ta := newTestApp(t, tc.opts...)
			s := ta.Session(t, ta.Admin)
			login := ta.Do(t, request{URL: tc.host + "/login"})
			checkResponse(t, login, 200, nil, []string{"Sign in with a passkey", "passkey-login"}, nil)
			dlg := ta.Do(t, request{URL: tc.host + "/settings/users/" + strconv.Itoa(ta.Admin.ID) + "/passkeys", HTMX: true, Session: s})
			checkResponse(t, dlg, 200, append([]string{`data-testid="passkeys-unavailable"`}, tc.want...),
				append([]string{`id="passkey-register"`}, tc.not...), nil)
		})
	}
}
