package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gatehouse-panel/gatehouse/model"
)

// runBackup writes a consistent copy of the database to FILE. The copy is
// compacted from one bbolt read transaction (live records only, see
// model.Store.Backup) in whichever process holds the database and streamed
// here; this process writes the file, so FILE is resolved against the
// caller's working directory and owned by the caller.
func runBackup(ctx context.Context, inv *invocation) error {
	file := inv.args[0]
	force, _ := inv.flags.GetBool("force")
	if err := checkBackupFile(file, force, inv.dataDir); err != nil {
		return err
	}
	if err := inv.connect(ctx); err != nil {
		return err
	}
	n, err := writeBackup(file, func(w io.Writer) (int64, error) { return inv.target.Backup(ctx, w) })
	if err != nil {
		return err
	}
	fmt.Fprintf(inv.env.stdout, "backup written to %s (%d bytes)\n", file, n)
	return nil
}

// checkBackupFile refuses a FILE that would be overwritten without --force,
// and the live database itself: renaming over it would cut the panel off
// from its own file.
func checkBackupFile(file string, force bool, dataDir string) error {
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory; name the backup file", file)
	case !force:
		return fmt.Errorf("%s exists; use --force to overwrite", file)
	}
	if db, err := os.Stat(filepath.Join(dataDir, model.DBFile)); err == nil && os.SameFile(fi, db) {
		return fmt.Errorf("%s is the database itself; write the backup elsewhere", file)
	}
	return nil
}
