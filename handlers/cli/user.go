package cli

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

// userNamed looks a user up for a command, with a message naming it.
func userNamed(store *model.Store, name string) (model.User, error) {
	u, err := store.UserByName(name)
	if errors.Is(err, model.ErrNotFound) {
		return model.User{}, fmt.Errorf("no user named %q", name)
	}
	return u, err
}

func runUserList(_ context.Context, call *call) error {
	users, err := call.store.Users()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(call.out, 0, 0, 2, ' ', 0)
	// ROLE and STATUS come last, so scripts that read the older columns
	// by position keep working.
	fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\t2FA\tPASSKEYS\tCREATED\tROLE\tSTATUS")
	for _, u := range users {
		twoFA := "off"
		if u.TwoFactor {
			twoFA = "on"
		}
		status := "enabled"
		if u.Disabled {
			status = "disabled"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", u.ID, u.Username, u.Email, twoFA, u.Passkeys,
			u.CreatedAt.UTC().Format(time.RFC3339), u.Role, status)
	}
	return tw.Flush()
}

func runUserAdd(ctx context.Context, call *call) error {
	email, _ := call.flags.GetString("email")
	role, _ := call.flags.GetString("role")
	u, err := call.store.CreateUser(ctx, model.NewUser{Username: call.args[0], Password: call.password, Email: email, Role: role}, model.CLIActor)
	if err != nil {
		return err
	}
	fmt.Fprintf(call.out, "user %s created (id %d)\n", u.Username, u.ID)
	return nil
}

func runUserRole(_ context.Context, call *call) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	role := call.args[1]
	if _, err := call.store.UpdateUser(u.ID, model.UserPatch{Role: &role}, model.CLIActor); err != nil {
		return err
	}
	fmt.Fprintf(call.out, "%s is now %s\n", u.Username, role)
	return nil
}

// runUserDisabled returns the run of "user disable" (disabled true) or
// "user enable".
func runUserDisabled(disabled bool) func(context.Context, *call) error {
	return func(_ context.Context, call *call) error {
		u, err := userNamed(call.store, call.args[0])
		if err != nil {
			return err
		}
		if _, err := call.store.UpdateUser(u.ID, model.UserPatch{Disabled: &disabled}, model.CLIActor); err != nil {
			return err
		}
		if disabled {
			fmt.Fprintf(call.out, "%s is disabled; their sessions were ended\n", u.Username)
		} else {
			fmt.Fprintf(call.out, "%s is enabled\n", u.Username)
		}
		return nil
	}
}

func runUserPasswd(ctx context.Context, call *call) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	// No session to keep: the CLI has none, so all of them end.
	if err := call.store.SetPassword(ctx, u.ID, call.password, "", model.CLIActor); err != nil {
		return err
	}
	fmt.Fprintf(call.out, "password of %s changed; all of their sessions were ended\n", u.Username)
	return nil
}

func runUserDelete(_ context.Context, call *call) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	if err := call.store.DeleteUser(u.ID, model.CLIActor); err != nil {
		return err
	}
	fmt.Fprintf(call.out, "user %s deleted\n", u.Username)
	return nil
}

func runUserTwoFactorOff(_ context.Context, call *call) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	if !u.TwoFactor {
		fmt.Fprintf(call.out, "two-factor authentication of %s was already off\n", u.Username)
		return nil
	}
	if err := call.store.DisableTwoFactor(u.ID, model.CLIActor); err != nil {
		return err
	}
	fmt.Fprintf(call.out, "two-factor authentication of %s is off; its secret and recovery codes were deleted\n", u.Username)
	return nil
}
