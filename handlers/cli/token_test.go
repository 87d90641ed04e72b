package cli

import (
	"cmp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// TestCLITokenCreate: `gatehouse token create NAME [--ip …] [--expires …] [--scope …]`
// prints only the value (for scripts), with the same rules as the UI and
// the API, flags before or after NAME; failures are one line on stderr.
func TestCLITokenCreate(t *testing.T) {
	t.Parallel()
	dir := newDB(t)
	type created struct {
		ips []string
		exp func(now time.Time) (time.Time, time.Time) // accepted range
		// scope: write when empty, the default for existing scripts.
		scope string
	}
	between := func(d time.Duration) func(now time.Time) (time.Time, time.Time) {
		return func(now time.Time) (time.Time, time.Time) { return now.Add(d - time.Minute), now.Add(d + time.Minute) }
	}
	ok := []struct {
		name string
		args []string
		want created
	}{
		{"defaults: any address, 90 days, write", []string{"token", "create", "admin"}, created{nil, between(90 * 24 * time.Hour), ""}},
		{"read scope", []string{"token", "create", "admin", "--scope", "read"}, created{nil, between(90 * 24 * time.Hour), "read"}},
		{"write scope", []string{"token", "create", "--scope=write", "admin"}, created{nil, between(90 * 24 * time.Hour), "write"}},
		{"flags after NAME", []string{"token", "create", "ADMIN", "--ip", "203.0.113.0/24", "--ip", "2001:db8::/32", "--expires", "12h"},
			created{[]string{"203.0.113.0/24", "2001:db8::/32"}, between(12 * time.Hour), ""}},
		{"flags before NAME, comma list", []string{"token", "create", "--ip=127.0.0.1,::1", "--expires=30d", "admin"},
			created{[]string{"127.0.0.1", "::1"}, between(30 * 24 * time.Hour), ""}},
		{"RFC 3339", []string{"token", "create", "admin", "--expires", "2031-01-02T03:04:05+02:00"},
			created{nil, func(time.Time) (time.Time, time.Time) {
				at := time.Date(2031, 1, 2, 1, 4, 5, 0, time.UTC)
				return at, at
			}, ""}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			code, stdout, stderr := runCmd(t, "", append(tc.args, "--data", dir)...)
			checkOutput(t, code, stdout, stderr, 0, nil, nil)
			value := strings.TrimSuffix(stdout, "\n")
			if !model.WellFormedToken(value) || stdout != value+"\n" || stderr != "" {
				t.Fatalf("stdout %q stderr %q: want only the token value", stdout, stderr)
			}
			withStore(t, dir, func(s *model.Store) {
				tok, u, err := s.TokenByValue(value)
				if err != nil || u.Username != "admin" {
					t.Fatalf("the printed token does not work: %v", err)
				}
				if want := cmp.Or(tc.want.scope, model.TokenScopeWrite); tok.Scope != want || tok.CreatedBy != 0 {
					t.Errorf("scope %q created by %d, want %q by the CLI (0)", tok.Scope, tok.CreatedBy, want)
				}
				if strings.Join(tok.IPs, ",") != strings.Join(tc.want.ips, ",") {
					t.Errorf("white list %q, want %q", tok.IPs, tc.want.ips)
				}
				lo, hi := tc.want.exp(now)
				if tok.ExpiresAt.Before(lo) || tok.ExpiresAt.After(hi) {
					t.Errorf("expires %v, want between %v and %v", tok.ExpiresAt, lo, hi)
				}
				ev, _, _ := s.AuditEvents(model.AuditFilter{Limit: 1})
				if ev[0].Action != model.EventTokenCreated || ev[0].Actor != "cli" {
					t.Errorf("last event %+v", ev[0])
				}
			})
		})
	}
	bad := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"unknown user", []string{"token", "create", "nobody"}, 1, `no user named "nobody"`},
		{"host bits", []string{"token", "create", "admin", "--ip", "10.0.0.1/8"}, 1, "did you mean 10.0.0.0/8?"},
		{"bad range", []string{"token", "create", "admin", "--ip", "10.0.0.0/33"}, 1, "prefix length"},
		{"zone", []string{"token", "create", "admin", "--ip", "fe80::1%eth0"}, 1, "zones"},
		{"past", []string{"token", "create", "admin", "--expires", "2001-01-01T00:00:00Z"}, 1, "in the future"},
		{"too far", []string{"token", "create", "admin", "--expires", "3660d"}, 1, "at most 10 years"},
		{"not a duration", []string{"token", "create", "admin", "--expires", "soon"}, 1, "want a duration such as 90d"},
		{"no NAME", []string{"token", "create"}, 1, "needs NAME"},
		{"unknown flag", []string{"token", "create", "admin", "--role", "x"}, 1, "unknown flag"},
		{"bad scope", []string{"token", "create", "admin", "--scope", "admin"}, 1, `--scope "admin": want read or write`},
		{"empty scope", []string{"token", "create", "admin", "--scope="}, 1, `--scope "": want read or write`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			var before int
			withStore(t, dir, func(s *model.Store) { l, _ := s.Tokens(1); before = len(l) })
			code, stdout, stderr := runCmd(t, "", append(tc.args, "--data", dir)...)
			if code != tc.code || !strings.Contains(stderr, tc.wantErr) || stdout != "" {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, tc.code, stdout, stderr, tc.wantErr)
			}
			checkOutput(t, code, stdout, stderr, 1, nil, nil)
			withStore(t, dir, func(s *model.Store) {
				if l, _ := s.Tokens(1); len(l) != before {
					t.Error("a refused command created a token")
				}
			})
		})
	}
	t.Run("help", func(t *testing.T) {
		code, stdout, _ := runCmd(t, "", "token", "create", "--help")
		if code != 0 || !strings.Contains(stdout, "--ip") || !strings.Contains(stdout, "--expires") || !strings.Contains(stdout, "90d") || !strings.Contains(stdout, "--scope") {
			t.Errorf("exit %d: %s", code, stdout)
		}
	})
}

func TestParseExpires(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"90d":                  now.AddDate(0, 0, 90),
		"1d":                   now.Add(24 * time.Hour),
		"12h":                  now.Add(12 * time.Hour),
		"1h30m":                now.Add(90 * time.Minute),
		" 12h ":                now.Add(12 * time.Hour),
		"2030-01-02T03:04:05Z": time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	for s, want := range cases {
		got, err := parseExpires(s, now)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseExpires(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "0d", "-1d", "+3d", "0s", "-1h", "d", "3 days", "1y", "2030-01-02", "99999999d"} {
		_, err := parseExpires(s, now)
		if err == nil {
			t.Errorf("parseExpires(%q) accepted", s)
		} else if !strings.HasPrefix(err.Error(), "--expires ") {
			t.Errorf("parseExpires(%q): %v does not name the flag", s, err)
		}
	}
}

// FuzzParseExpires checks what parseExpires returns, not only that it
// does not panic: a UTC time to the second; from a duration, a time after
// now that reads back as itself in RFC 3339.
func FuzzParseExpires(f *testing.F) {
	for _, s := range []string{"90d", "12h", "1h30m", "2030-01-02T03:04:05Z", "2030-01-02T03:04:05.5+02:00", "2030-01-02T15:04", "-60", "x", "", "3660d"} {
		f.Add(s)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, value string) {
		got, err := parseExpires(value, now)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--expires ") {
				t.Fatalf("parseExpires(%q): %v does not name the flag", value, err)
			}
			return
		}
		if got.Location() != time.UTC || got.Nanosecond() != 0 || got.IsZero() {
			t.Fatalf("parseExpires(%q) = %v: want UTC to the second", value, got)
		}
		s := strings.TrimSpace(value)
		if strings.Contains(s, "T") || strings.Count(s, "-") >= 2 {
			return // an RFC 3339 time may lie anywhere; the model checks it
		}
		if !got.After(now) {
			t.Fatalf("parseExpires(%q) = %v, not after now", value, got)
		}
		if back, err := parseExpires(got.Format(time.RFC3339), now); err != nil || !back.Equal(got) {
			t.Fatalf("parseExpires(%q) = %v, which reads back as %v, %v", value, got, back, err)
		}
	})
}
