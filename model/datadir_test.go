package model_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// nobody is a uid that is neither root nor the test's user.
const nobody = 65534

// captureLog sends slog's default logger to a buffer until the test ends.
func captureLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

// needRoot skips a test that hands files to another user.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: only root can give a file to another user (uid 65534)")
	}
}

// mkdirMode creates dir with exactly mode, past the umask.
func mkdirMode(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// TestOpenTightensDataDir: serve (Open with Create) takes a data directory
// that others may write to, when it is its own, and makes it 0700, saying
// so in one log line; with or without a database in it already.
func TestOpenTightensDataDir(t *testing.T) {
	for _, mode := range []os.FileMode{0o777, 0o770, 0o757} {
		for _, existing := range []bool{false, true} {
			name := fmtMode(mode)
			if existing {
				name += " with a database"
			}
			t.Run(name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "data")
				if existing {
					testkit.OpenStore(t, dir).Close()
				}
				mkdirMode(t, dir, mode)
				logs := captureLog(t)
				s := testkit.OpenStore(t, dir)
				fi, err := os.Stat(dir)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o700 {
					t.Errorf("data directory mode %v after Open, want 0700", fi.Mode().Perm())
				}
				line := logs.String()
				if strings.Count(line, "\n") != 1 || !strings.Contains(line, "tightened to 0700") ||
					!strings.Contains(line, dir) || !strings.Contains(line, "was="+fmtMode(mode)) {
					t.Errorf("log %q, want one line naming %s, its old mode and the change", line, dir)
				}
				if _, err := s.Users(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	t.Run("a private directory is left alone", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		mkdirMode(t, dir, 0o750)
		logs := captureLog(t)
		testkit.OpenStore(t, dir)
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o750 {
			t.Errorf("mode %v, want 0750 kept", fi.Mode().Perm())
		}
		if logs.Len() != 0 {
			t.Errorf("logged %q", logs.String())
		}
	})
	t.Run("the cli does not change it", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		testkit.OpenStore(t, dir).Close()
		mkdirMode(t, dir, 0o777)
		testkit.OpenStore(t, dir, func(o *model.Options) { o.Create = false })
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o777 {
			t.Errorf("mode %v, want 0777 kept by a CLI open", fi.Mode().Perm())
		}
	})
}

// TestOpenRefusesUntrustedDataDir: a data directory that someone other
// than root and the serving user controls is refused before anything is
// written to it, with a reason naming the culprit.
func TestOpenRefusesUntrustedDataDir(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name string
		// setup returns the data directory to open.
		setup func(t *testing.T, base string) string
		want  []string
	}{
		{"owned by another user", func(t *testing.T, base string) string {
			dir := filepath.Join(base, "data")
			mkdirMode(t, dir, 0o700)
			if err := os.Chown(dir, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"is owned by uid 65534", "not by root or the user running gatehouse (uid 0)"}},
		{"owned by another user and writable by all", func(t *testing.T, base string) string {
			dir := filepath.Join(base, "data")
			mkdirMode(t, dir, 0o777)
			if err := os.Chown(dir, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return dir
		}, []string{"is owned by uid 65534"}},
		{"a symbolic link owned by another user", func(t *testing.T, base string) string {
			real := filepath.Join(base, "real")
			mkdirMode(t, real, 0o700)
			link := filepath.Join(base, "data")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(link, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return link
		}, []string{"is a symbolic link owned by uid 65534"}},
		{"below a symbolic link owned by another user", func(t *testing.T, base string) string {
			real := filepath.Join(base, "real")
			mkdirMode(t, filepath.Join(real, "data"), 0o700)
			link := filepath.Join(base, "link")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			if err := os.Lchown(link, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(link, "data")
		}, []string{"link is a symbolic link owned by uid 65534"}},
		{"parent writable by all without the sticky bit", func(t *testing.T, base string) string {
			parent := filepath.Join(base, "shared")
			mkdirMode(t, parent, 0o777)
			dir := filepath.Join(parent, "data")
			mkdirMode(t, dir, 0o700)
			return dir
		}, []string{"shared, a parent of the data directory", "writable by everyone without the sticky bit"}},
		{"grandparent writable by all without the sticky bit", func(t *testing.T, base string) string {
			mkdirMode(t, filepath.Join(base, "shared"), 0o777)
			dir := filepath.Join(base, "shared", "x", "data")
			mkdirMode(t, dir, 0o700)
			return dir
		}, []string{"shared, a parent of the data directory"}},
		{"new directory below a parent writable by all", func(t *testing.T, base string) string {
			parent := filepath.Join(base, "shared")
			mkdirMode(t, parent, 0o777)
			return filepath.Join(parent, "data")
		}, []string{"shared, a parent of the data directory"}},
		{"a symbolic link to a directory below a parent writable by all", func(t *testing.T, base string) string {
			parent := filepath.Join(base, "shared")
			mkdirMode(t, filepath.Join(parent, "data"), 0o700)
			mkdirMode(t, parent, 0o777)
			link := filepath.Join(base, "data")
			if err := os.Symlink(filepath.Join(parent, "data"), link); err != nil {
				t.Fatal(err)
			}
			return link
		}, []string{"shared, a parent of the data directory"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := tc.setup(t, base)
			before := modes(t, base)
			s, err := model.Open(dir, model.Options{Create: true, Argon2: testkit.Argon2()})
			if err == nil {
				s.Close()
				t.Fatal("Open accepted the data directory")
			}
			for _, w := range append(tc.want, "refusing to use it") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if after := modes(t, base); after != before {
				t.Errorf("Open changed the files:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// TestOpenAcceptsTrustedDataDir: symbolic links of root or the serving user
// and a parent like /tmp (writable by all, with the sticky bit) are fine.
func TestOpenAcceptsTrustedDataDir(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, base string) string
	}{
		{"a symbolic link of ours", func(t *testing.T, base string) string {
			real := filepath.Join(base, "real")
			mkdirMode(t, real, 0o700)
			link := filepath.Join(base, "data")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
		{"parent writable by all with the sticky bit", func(t *testing.T, base string) string {
			parent := filepath.Join(base, "tmp")
			mkdirMode(t, parent, 0o777|os.ModeSticky)
			return filepath.Join(parent, "data")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.setup(t, t.TempDir())
			s := testkit.OpenStore(t, dir)
			if _, err := os.Stat(filepath.Join(dir, model.DBFile)); err != nil {
				t.Fatal(err)
			}
			s.Close()
		})
	}
}

// modes lists every file under base with its mode and owner, to show that
// a refused Open changed nothing.
func modes(t *testing.T, base string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		b.WriteString(p + " " + fi.Mode().String() + ";")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// fmtMode writes a mode the way the log line does: 0777.
func fmtMode(m os.FileMode) string { return fmt.Sprintf("%#o", m.Perm()) }
