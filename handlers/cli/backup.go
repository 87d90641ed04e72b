package cli

import (
	"context"
	"fmt"
	"io"
)

// runBackup writes a consistent copy of the database to FILE. The copy is
// compacted from one bbolt read transaction (live records only, see
// model.Store.Backup) in whichever process holds the database and streamed
// here; this process writes the file, so FILE is resolved against the
// caller's working directory and owned by the caller, and never written
// through a symbolic link (see openBackupDest).
func runBackup(ctx context.Context, inv *invocation) error {
	file := inv.args[0]
	force, _ := inv.flags.GetBool("force")
	// Refuse a FILE that cannot be written before the copy is taken.
	dest, err := openBackupDest(file, force, inv.dataDir)
	if err != nil {
		return err
	}
	defer dest.Close()
	if err := inv.connect(ctx); err != nil {
		return err
	}
	n, err := dest.write(func(w io.Writer) (int64, error) { return inv.target.Backup(ctx, w) })
	if err != nil {
		return err
	}
	fmt.Fprintf(inv.env.stdout, "backup written to %s (%d bytes)\n", file, n)
	return nil
}
