package cli

import (
	"context"
	"fmt"

	"github.com/gatehouse-panel/gatehouse/model"
)

// runUserPasskeysClear deletes all passkeys of a user: recovery when a
// device is lost or the panel moved to another domain.
func runUserPasskeysClear(_ context.Context, call *call) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	n, err := call.store.ClearPasskeys(u.ID, model.CLIActor)
	if err != nil {
		return err
	}
	switch n {
	case 0:
		fmt.Fprintf(call.out, "%s had no passkeys\n", u.Username)
	case 1:
		fmt.Fprintf(call.out, "1 passkey of %s deleted\n", u.Username)
	default:
		fmt.Fprintf(call.out, "%d passkeys of %s deleted\n", n, u.Username)
	}
	return nil
}
