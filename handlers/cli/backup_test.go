package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
)

func TestCLIBackup(t *testing.T) {
	t.Parallel()
	dir := newDB(t)
	if code, _, stderr := runCmd(t, "Passw0rd-ok\n", "user", "add", "bob", "--email", "bob@example.com", "--password-stdin", "--data", dir); code != 0 {
		t.Fatal(stderr)
	}
	out := t.TempDir()
	file := filepath.Join(out, "gatehouse-backup.db")

	code, stdout, stderr := runCmd(t, "", "backup", file, "--data", dir)
	checkOutput(t, code, stdout, stderr, 0, []string{"backup written to " + file + " ("}, nil)
	fi, _ := os.Stat(file)
	if want := fmt.Sprintf("(%d bytes)\n", fi.Size()); !strings.HasSuffix(stdout, want) {
		t.Errorf("stdout %q, want the size %s", stdout, want)
	}
	checkBackup(t, file, "admin", "bob")

	t.Run("existing file refused", func(t *testing.T) {
		other := filepath.Join(out, "precious")
		os.WriteFile(other, []byte("keep me"), 0o644)
		code, stdout, stderr := runCmd(t, "", "backup", other, "--data", dir)
		checkOutput(t, code, stdout, stderr, 1, nil, []string{other + " exists; use --force to overwrite"})
		if b, _ := os.ReadFile(other); string(b) != "keep me" {
			t.Errorf("the existing file changed: %q", b)
		}
	})
	t.Run("--force overwrites, before or after FILE", func(t *testing.T) {
		for _, args := range [][]string{{"backup", file, "--force"}, {"backup", "--force", file}} {
			code, stdout, stderr := runCmd(t, "", append(args, "--data", dir)...)
			checkOutput(t, code, stdout, stderr, 0, []string{"backup written to"}, nil)
			checkBackup(t, file, "admin", "bob")
		}
	})
	t.Run("not over the database itself", func(t *testing.T) {
		db := filepath.Join(dir, model.DBFile)
		code, stdout, stderr := runCmd(t, "", "backup", db, "--force", "--data", dir)
		checkOutput(t, code, stdout, stderr, 1, nil, []string{"is the database itself"})
	})
	t.Run("not onto a directory", func(t *testing.T) {
		code, stdout, stderr := runCmd(t, "", "backup", out, "--force", "--data", dir)
		checkOutput(t, code, stdout, stderr, 1, nil, []string{"is a directory"})
	})
	t.Run("missing directory", func(t *testing.T) {
		code, stdout, stderr := runCmd(t, "", "backup", filepath.Join(out, "nope", "b.db"), "--data", dir)
		checkOutput(t, code, stdout, stderr, 1, nil, []string{"no such file or directory"})
		if _, err := os.Stat(filepath.Join(out, "nope")); err == nil {
			t.Error("the missing directory was created")
		}
	})
	t.Run("usage", func(t *testing.T) {
		code, _, stderr := runCmd(t, "", "backup", "--data", dir)
		checkOutput(t, code, "", stderr, 1, nil, []string{"backup needs FILE"})
	})
}

// TestCLIBackupHoldsNoOldSecrets: after a password change, a backup holds
// the new hash and not the old one, whether the panel streams it through
// its control socket or the CLI opens the stopped panel's file.
func TestCLIBackupHoldsNoOldSecrets(t *testing.T) {
	hashOf := func(t *testing.T, s *model.Store, name string) string {
		t.Helper()
		u, err := s.UserByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Fatalf("hash %q is not a PHC argon2id string", u.PasswordHash)
		}
		return u.PasswordHash
	}
	for _, running := range []bool{true, false} {
		t.Run(map[bool]string{true: "panel running", false: "panel stopped"}[running], func(t *testing.T) {
			dir := newDB(t)
			var store func(fn func(s *model.Store))
			if running {
				p := startPanel(t, dir)
				store = func(fn func(s *model.Store)) { fn(p.store) }
			} else {
				store = func(fn func(s *model.Store)) { withStore(t, dir, fn) }
			}
			if code, _, stderr := runCmd(t, "Passw0rd-ok\n", "user", "add", "bob", "--email", "bob@example.com", "--password-stdin", "--data", dir); code != 0 {
				t.Fatal(stderr)
			}
			var oldHash string
			store(func(s *model.Store) {
				oldHash = hashOf(t, s, "bob")
				bob, _ := s.UserByName("bob")
				if _, _, err := s.CreateToken(bob.ID, model.NewToken{ExpiresAt: s.Now().Add(time.Hour)}, model.CLIActor); err != nil {
					t.Fatal(err)
				}
				if _, _, err := s.CreateSession(bob.ID, "192.0.2.1", "ua", model.ActorFor(bob, ""), "password"); err != nil {
					t.Fatal(err)
				}
			})
			code, stdout, stderr := runCmd(t, "N3w-password\n", "user", "passwd", "bob", "--password-stdin", "--data", dir)
			checkOutput(t, code, stdout, stderr, 0, []string{"password of bob changed"}, nil)
			var newHash string
			store(func(s *model.Store) { newHash = hashOf(t, s, "bob") })

			file := filepath.Join(t.TempDir(), "b.db")
			code, stdout, stderr = runCmd(t, "", "backup", file, "--data", dir)
			checkOutput(t, code, stdout, stderr, 0, []string{"backup written to " + file}, nil)
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(oldHash)) {
				t.Error("the backup holds bob's replaced password hash")
			}
			if !bytes.Contains(b, []byte(newHash)) {
				t.Error("the backup lacks bob's new password hash")
			}
			checkBackup(t, file, "admin", "bob")
			restored := t.TempDir()
			if err := os.WriteFile(filepath.Join(restored, model.DBFile), b, 0o600); err != nil {
				t.Fatal(err)
			}
			withStore(t, restored, func(s *model.Store) {
				if _, err := s.Authenticate(t.Context(), "bob", "N3w-password"); err != nil {
					t.Errorf("bob's new password on the backup: %v", err)
				}
				bob, _ := s.UserByName("bob")
				if toks, err := s.Tokens(bob.ID); err != nil || len(toks) != 1 {
					t.Errorf("bob's tokens on the backup: %d, %v", len(toks), err)
				}
			})
			if ents, _ := os.ReadDir(dir); slices.ContainsFunc(ents, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".backup") }) {
				t.Errorf("the data directory keeps a backup's scratch file: %v", ents)
			}
		})
	}
}

// TestCLIBackupSymlinks: the backup is never written through a symbolic
// link: FILE itself may not be one (with or without --force), and a link
// on the way to it is followed only when root or the caller owns it, since
// its owner could otherwise point it anywhere the caller may write.
func TestCLIBackupSymlinks(t *testing.T) {
	dir := newDB(t)
	const nobody = 65534
	asRoot := func(t *testing.T) {
		t.Helper()
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a link to another user (uid 65534)")
		}
	}
	symlink := func(t *testing.T, target, link string, owner int) {
		t.Helper()
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		if owner >= 0 {
			if err := os.Lchown(link, owner, owner); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("parent is another user's link", func(t *testing.T) {
		asRoot(t)
		base := t.TempDir()
		target := filepath.Join(base, "target")
		os.Mkdir(target, 0o700)
		symlink(t, target, filepath.Join(base, "backups"), nobody)
		file := filepath.Join(base, "backups", "b.db")
		for _, args := range [][]string{{"backup", file}, {"backup", file, "--force"}} {
			code, stdout, stderr := runCmd(t, "", append(args, "--data", dir)...)
			checkOutput(t, code, stdout, stderr, 1, nil, []string{
				filepath.Join(base, "backups") + " is a symbolic link owned by uid 65534", "refusing to follow it"})
		}
		if ents, _ := os.ReadDir(target); len(ents) != 0 {
			t.Errorf("files written through the link: %v", ents)
		}
	})
	t.Run("another user's link further up", func(t *testing.T) {
		asRoot(t)
		base := t.TempDir()
		target := filepath.Join(base, "target")
		os.MkdirAll(filepath.Join(target, "daily"), 0o700)
		symlink(t, target, filepath.Join(base, "backups"), nobody)
		code, stdout, stderr := runCmd(t, "", "backup", filepath.Join(base, "backups", "daily", "b.db"), "--data", dir)
		checkOutput(t, code, stdout, stderr, 1, nil, []string{"backups is a symbolic link owned by uid 65534"})
		if ents, _ := os.ReadDir(filepath.Join(target, "daily")); len(ents) != 0 {
			t.Errorf("files written through the link: %v", ents)
		}
	})
	t.Run("a link of another user inside a link of ours", func(t *testing.T) {
		asRoot(t)
		base := t.TempDir()
		target := filepath.Join(base, "target")
		os.Mkdir(target, 0o700)
		os.Mkdir(filepath.Join(base, "mid"), 0o700)
		symlink(t, target, filepath.Join(base, "mid", "evil"), nobody)
		symlink(t, filepath.Join(base, "mid", "evil"), filepath.Join(base, "backups"), -1)
		code, stdout, stderr := runCmd(t, "", "backup", filepath.Join(base, "backups", "b.db"), "--data", dir)
		checkOutput(t, code, stdout, stderr, 1, nil, []string{"evil is a symbolic link owned by uid 65534"})
		if ents, _ := os.ReadDir(target); len(ents) != 0 {
			t.Errorf("files written through the link: %v", ents)
		}
	})
	t.Run("parent is our own link", func(t *testing.T) {
		base := t.TempDir()
		target := filepath.Join(base, "target")
		os.Mkdir(target, 0o700)
		symlink(t, "target", filepath.Join(base, "backups"), -1)
		code, stdout, stderr := runCmd(t, "", "backup", filepath.Join(base, "backups", "b.db"), "--data", dir)
		checkOutput(t, code, stdout, stderr, 0, []string{"backup written to"}, nil)
		checkBackup(t, filepath.Join(target, "b.db"), "admin")
	})
	t.Run("relative path", func(t *testing.T) {
		base := t.TempDir()
		t.Chdir(base)
		os.Mkdir("sub", 0o700)
		code, stdout, stderr := runCmd(t, "", "backup", "sub/b.db", "--data", dir)
		checkOutput(t, code, stdout, stderr, 0, []string{"backup written to sub/b.db"}, nil)
		checkBackup(t, filepath.Join(base, "sub", "b.db"), "admin")
	})
	t.Run("FILE is a link", func(t *testing.T) {
		base := t.TempDir()
		precious := filepath.Join(base, "precious")
		os.WriteFile(precious, []byte("keep me"), 0o644)
		link := filepath.Join(base, "b.db")
		symlink(t, precious, link, -1)
		dangling := filepath.Join(base, "dangling.db")
		symlink(t, filepath.Join(base, "nowhere"), dangling, -1)
		for _, args := range [][]string{{"backup", link, "--force"}, {"backup", link}, {"backup", dangling}, {"backup", dangling, "--force"}} {
			code, stdout, stderr := runCmd(t, "", append(args, "--data", dir)...)
			checkOutput(t, code, stdout, stderr, 1, nil, []string{args[1] + " is a symbolic link; refusing to write the backup through it"})
		}
		if b, _ := os.ReadFile(precious); string(b) != "keep me" {
			t.Errorf("the link's target changed: %q", b)
		}
		for _, l := range []string{link, dangling} {
			if fi, err := os.Lstat(l); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("%s is no longer the link: %v, %v", l, fi, err)
			}
		}
		if _, err := os.Lstat(filepath.Join(base, "nowhere")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the dangling link's target was created: %v", err)
		}
	})
}
