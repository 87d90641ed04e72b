package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-panel/gatehouse/model"
)

// defaultExpires is the default of token create's --expires.
const defaultExpires = "90d"

// tokenCreateFlags defines the flags of `gatehouse token create`.
func tokenCreateFlags(fs *pflag.FlagSet) {
	fs.StringSlice("ip", nil, "allow only this IPv4 or IPv6 address or CIDR range (repeatable; default: any address)")
	fs.String("expires", defaultExpires, "expiry: a duration such as 90d or 12h, or an RFC 3339 time (at most 10 years away)")
	// write stays the default: scripts written before scopes existed
	// expect a token that can change things.
	fs.String("scope", model.TokenScopeWrite, "read (GET requests only) or write (everything the user may do)")
}

// runTokenCreate creates an access token for the user NAME and prints only
// its value, so that a script can capture it: TOKEN=$(gatehouse token create admin).
func runTokenCreate(_ context.Context, call *call) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	ips, _ := call.flags.GetStringSlice("ip")
	expires, _ := call.flags.GetString("expires")
	exp, err := parseExpires(expires, call.store.Now())
	if err != nil {
		return model.FieldError("expires_at", err.Error())
	}
	scope, _ := call.flags.GetString("scope")
	if err := model.ValidateTokenScope(scope); err != nil {
		return model.FieldError("scope", fmt.Sprintf("--scope %q: want read or write", scope))
	}
	value, _, err := call.store.CreateToken(u.ID, model.NewToken{IPs: ips, ExpiresAt: exp, Scope: scope}, model.CLIActor)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(call.out, value)
	return err
}

// parseExpires reads --expires: a duration from now ("90d", "12h",
// "1h30m"; d is 24 hours) or an RFC 3339 time, in UTC to the second. It
// does not check the limits; model.ValidateTokenExpiry does, when the
// token is created.
func parseExpires(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("--expires %q: want a duration such as 90d or 12h, or an RFC 3339 time", s)
	if s == "" {
		return time.Time{}, bad
	}
	if strings.Contains(s, "T") || strings.Count(s, "-") >= 2 {
		t, err := model.ParseTokenExpiry(s)
		if err != nil {
			return time.Time{}, bad
		}
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		// A bound above the 10-year limit keeps the multiplication from
		// overflowing; the limit itself is the model's to check.
		if err != nil || days <= 0 || days > 366*model.TokenMaxLifetimeYears+1 || n[0] == '+' {
			return time.Time{}, bad
		}
		return now.Add(time.Duration(days) * 24 * time.Hour).UTC().Truncate(time.Second), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, bad
	}
	return now.Add(d).UTC().Truncate(time.Second), nil
}
