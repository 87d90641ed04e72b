package handlers

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/gatehouse-panel/gatehouse/model"
)

// tokenCreateFlags defines the flags of `gatehouse token create`.
func tokenCreateFlags(fs *pflag.FlagSet) {
	fs.StringSlice("ip", nil, "allow only this IPv4 or IPv6 address or CIDR range (repeatable; default: any address)")
	fs.String("expires", model.TokenDefaultLifetime, "expiry: a duration such as 90d or 12h, or an RFC 3339 time (at most 10 years away)")
}

// runTokenCreate creates an access token for the user NAME and prints only
// its value, so that a script can capture it: TOKEN=$(gatehouse token create admin).
func runTokenCreate(_ context.Context, call *cliCall) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	ips, _ := call.flags.GetStringSlice("ip")
	expires, _ := call.flags.GetString("expires")
	exp, err := model.ParseExpiresIn(expires, call.store.Now())
	if err != nil {
		return model.FieldError("expires_at", err.Error())
	}
	value, _, err := call.store.CreateToken(u.ID, model.NewToken{IPs: ips, ExpiresAt: exp}, model.CLIActor)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(call.out, value)
	return err
}
