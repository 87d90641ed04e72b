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
			d, err := openBackupDest(file, false, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			_, err = d.write(tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("files left behind: %v", ents)
			}
		})
	}
}

// TestWriteBackupFileAppearsMeanwhile: FILE is checked again before the
// copy is renamed into place, so a file or link put there while the copy
// streamed is neither overwritten without --force nor written through.
func TestWriteBackupFileAppearsMeanwhile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		force bool
		plant func(file, precious string) error
		want  string
	}{
		{"a file, without --force", false, func(file, _ string) error { return os.WriteFile(file, []byte("new"), 0o600) },
			"exists; use --force to overwrite"},
		{"a link, with --force", true, func(file, precious string) error { return os.Symlink(precious, file) },
			"is a symbolic link; refusing to write the backup through it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "b.db")
			precious := filepath.Join(dir, "precious")
			os.WriteFile(precious, []byte("keep me"), 0o600)
			d, err := openBackupDest(file, tc.force, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			_, err = d.write(func(w io.Writer) (int64, error) {
				if err := tc.plant(file, precious); err != nil {
					return 0, err
				}
				n, err := w.Write(bytes.Repeat([]byte{1}, 4096))
				return int64(n), err
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if b, _ := os.ReadFile(precious); string(b) != "keep me" {
				t.Errorf("the link's target changed: %q", b)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*.partial-*")); len(left) > 0 {
				t.Errorf("partial files left: %v", left)
			}
		})
	}
}
