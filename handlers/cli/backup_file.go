package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// writeBackup writes what src produces to file through FILE.partial-XXXX
// in the same directory (mode 0600, synced, then renamed into place), so
// that FILE is never a half-written copy. On failure the partial file is
// removed.
func writeBackup(file string, src func(io.Writer) (int64, error)) (n int64, err error) {
	f, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".partial-*")
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp uses 0600 already; say so explicitly, since the copy holds
	// every password hash.
	if err := f.Chmod(0o600); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if n, err = src(f); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if n == 0 || fi.Size() != n {
		return 0, fmt.Errorf("backup: %s holds %d bytes, the database sent %d", tmp, fi.Size(), n)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	// Make the rename itself durable; some file systems cannot sync a
	// directory, and the file is complete either way.
	if d, err := os.Open(filepath.Dir(file)); err == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}
