package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteBackupFailure: a failing copy (a full disk) leaves neither the
// file nor the partial file behind and reports the reason.
func TestWriteBackupFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		src  func(w io.Writer) (int64, error)
		want string
	}{
		{"disk full", func(w io.Writer) (int64, error) {
			n, _ := w.Write(bytes.Repeat([]byte{1}, 4096))
			return int64(n), fmt.Errorf("write: %w", syscall.ENOSPC)
		}, "no space left on device"},
		{"short copy", func(w io.Writer) (int64, error) {
			w.Write([]byte("abc"))
			return 4096, nil
		}, "holds 3 bytes, the database sent 4096"},
		{"empty copy", func(w io.Writer) (int64, error) { return 0, nil }, "holds 0 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "b.db")
			_, err := writeBackup(file, tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("files left behind: %v", ents)
			}
		})
	}
}
