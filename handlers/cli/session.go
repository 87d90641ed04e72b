package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// runUserSessions prints a table of a user's browser sessions, the most
// recently used first (as the model returns them), under the public ids
// the panel and the API show.
// It lists the stored sessions: the CLI does not know the panel's
// --session-idle, and expired ones are deleted by the panel's purge.
func runUserSessions(_ context.Context, call *call) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	list, err := call.store.SessionsOf(u.ID)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintf(call.out, "%s has no sessions\n", u.Username)
		return nil
	}
	tw := tabwriter.NewWriter(call.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tLAST SEEN\tADDRESS\tBROWSER/OS")
	for _, s := range list {
		ip := s.IP
		if ip == "" {
			ip = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", call.store.SessionPublicID(s.ID),
			s.CreatedAt.UTC().Format(time.RFC3339), s.LastSeen.UTC().Format(time.RFC3339), ip,
			model.DescribeDevice(s.SessionUserAgent()))
	}
	return tw.Flush()
}

// runUserLogout ends every session of a user: after a lost laptop, or
// before handing an account over.
func runUserLogout(_ context.Context, call *call) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	n, err := call.store.EndSessionsOf(u.ID, "", model.CLIActor)
	if err != nil {
		return err
	}
	switch n {
	case 0:
		fmt.Fprintf(call.out, "%s had no sessions\n", u.Username)
	case 1:
		fmt.Fprintf(call.out, "1 session of %s ended\n", u.Username)
	default:
		fmt.Fprintf(call.out, "%d sessions of %s ended\n", n, u.Username)
	}
	return nil
}
