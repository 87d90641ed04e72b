package model

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// prepareDataDir makes dir fit to hold the database before serve writes to
// it, creating it (0700) when missing. Whoever can write to the data
// directory or replace it can swap the database, read the key file or plant
// a control socket that collects the next password typed into the CLI, so:
//
//   - every symbolic link on the way (dir itself included) must belong to
//     root or to the serving user: its owner can point it elsewhere;
//   - no directory above it may be writable by everyone without the sticky
//     bit (as /tmp has): anyone could rename the data directory away and put
//     their own in its place;
//   - the data directory must belong to root or the serving user; when it
//     is the serving user's and writable by group or others, its mode
//     becomes 0700 and one log line says so; root's cannot be changed here.
//
// Every refusal happens before anything is created or changed.
func prepareDataDir(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("model: data directory: %w", err)
	}
	if err := checkDataDirPath(abs); err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return fmt.Errorf("model: create data directory: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return fmt.Errorf("model: data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data directory %s is not a directory", dir)
	}
	euid := uint32(os.Geteuid())
	owner := fileOwner(fi)
	if !trustedOwner(owner) {
		return fmt.Errorf("data directory %s is owned by uid %d, not by root or the user running gatehouse (uid %d): "+
			"its owner could replace the database or plant a control socket; refusing to use it (chown it to uid %d)",
			dir, owner, euid, euid)
	}
	perm := fi.Mode().Perm()
	if perm&0o022 == 0 {
		return nil
	}
	if owner != euid {
		return fmt.Errorf("data directory %s (mode %#o) is writable by others and owned by root, so gatehouse (uid %d) "+
			"cannot make it private: refusing to use it (chmod 0700 it, or chown it to uid %d)", dir, perm, euid, euid)
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return fmt.Errorf("model: make data directory private: %w", err)
	}
	slog.Warn("the data directory was writable by others; its mode was tightened to 0700", "dir", dir, "was", fmt.Sprintf("%#o", perm))
	return nil
}

// checkDataDirPath checks the symbolic links and parent directories on the
// way to abs (see prepareDataDir), as written and, when links lead
// elsewhere, as resolved. Parts that do not exist yet are skipped: serve
// creates them as its own user.
func checkDataDirPath(abs string) error {
	if err := checkPathParts(abs, abs); err != nil {
		return err
	}
	// Resolve the deepest part that exists; the rest is created below it.
	existing, rest := abs, ""
	for {
		if _, err := os.Lstat(existing); err == nil || !errors.Is(err, fs.ErrNotExist) || existing == "/" {
			break
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = filepath.Dir(existing)
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return fmt.Errorf("model: data directory: %w", err)
	}
	if real = filepath.Join(real, rest); real != abs {
		return checkPathParts(real, abs)
	}
	return nil
}

// checkPathParts checks path and each directory above it; dir is the data
// directory as the messages name it.
func checkPathParts(path, dir string) error {
	for p := path; ; p = filepath.Dir(p) {
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return fmt.Errorf("model: data directory: %w", err)
		case fi.Mode()&fs.ModeSymlink != 0 && !trustedOwner(fileOwner(fi)):
			return fmt.Errorf("%s is a symbolic link owned by uid %d, not by root or the user running gatehouse (uid %d): "+
				"its owner can point it elsewhere; refusing to use it on the way to the data directory %s",
				p, fileOwner(fi), os.Geteuid(), dir)
		case p != path && fi.IsDir() && fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0:
			return fmt.Errorf("%s, a parent of the data directory %s, is writable by everyone without the sticky bit: "+
				"anyone could replace the data directory; refusing to use it (chmod o-w or +t %s)", p, dir, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// trustedOwner tells whether a file's owner may control the data
// directory: root and the serving user.
func trustedOwner(uid uint32) bool { return uid == 0 || uid == uint32(os.Geteuid()) }

// fileOwner returns the uid that owns fi's file.
func fileOwner(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	// Not a Unix file system: nothing to compare, trust it as before.
	return uint32(os.Geteuid())
}
