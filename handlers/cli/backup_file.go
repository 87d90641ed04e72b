package cli

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-panel/gatehouse/model"
)

// maxLinks bounds the symbolic links followed on the way to FILE, as the
// kernel's own limit (MAXSYMLINKS) does.
const maxLinks = 40

// backupDest is where a backup goes: the directory that FILE names, held
// open, and FILE's name in it. Every later step (the checks, creating the
// partial file, the rename) works relative to that open directory, so a
// path swapped meanwhile cannot send the copy elsewhere.
type backupDest struct {
	file  string // as given, for messages
	dir   int    // O_PATH descriptor of the directory
	name  string // FILE's last component
	force bool
	db    string // the live database, never to be overwritten
}

// openBackupDest opens the directory of file (see openDirPath) and checks
// that a backup may be written to file there: see check.
func openBackupDest(file string, force bool, dataDir string) (*backupDest, error) {
	dir, name := ".", file
	if i := strings.LastIndexByte(file, '/'); i >= 0 {
		dir, name = file[:i+1], file[i+1:]
	}
	if name == "" || name == "." || name == ".." {
		return nil, fmt.Errorf("%s is a directory; name the backup file", file)
	}
	fd, err := openDirPath(dir)
	if err != nil {
		return nil, err
	}
	d := &backupDest{file: file, dir: fd, name: name, force: force, db: filepath.Join(dataDir, model.DBFile)}
	if err := d.check(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close releases the directory.
func (d *backupDest) Close() error { return unix.Close(d.dir) }

// check refuses a FILE that is a symbolic link (a backup is never written
// through one, not even with --force), a directory, an existing file
// without --force, and the live database itself: renaming over it would
// cut the panel off from its own file.
func (d *backupDest) check() error {
	var st unix.Stat_t
	err := unix.Fstatat(d.dir, d.name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return fmt.Errorf("%s: %w", d.file, err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return fmt.Errorf("%s is a symbolic link; refusing to write the backup through it (name a file that is not a link)", d.file)
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return fmt.Errorf("%s is a directory; name the backup file", d.file)
	case !d.force:
		return fmt.Errorf("%s exists; use --force to overwrite", d.file)
	}
	var db unix.Stat_t
	if err := unix.Stat(d.db, &db); err == nil && db.Dev == st.Dev && db.Ino == st.Ino {
		return fmt.Errorf("%s is the database itself; write the backup elsewhere", d.file)
	}
	return nil
}

// write writes what src produces to FILE through FILE.partial-N in the
// same directory (created exclusively, never through a link, mode 0600,
// synced, then renamed into place), so that FILE is never a half-written
// copy. On failure the partial file is removed.
func (d *backupDest) write(src func(io.Writer) (int64, error)) (n int64, err error) {
	var tmp string
	var fd int
	for range 100 {
		tmp = d.name + ".partial-" + strconv.FormatUint(uint64(rand.Uint32()), 10)
		// 0600 from the start: the copy holds every password hash.
		fd, err = unix.Openat(d.dir, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		return 0, fmt.Errorf("backup: create %s.partial-*: %w", d.file, err)
	}
	f := os.NewFile(uintptr(fd), tmp)
	defer func() {
		if err != nil {
			f.Close()
			unix.Unlinkat(d.dir, tmp, 0)
		}
	}()
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
	// FILE may have changed while the copy streamed. A link put there after
	// this check is replaced by the rename, never written through.
	if err := d.check(); err != nil {
		return 0, err
	}
	if err := d.rename(tmp); err != nil {
		return 0, err
	}
	// Make the rename itself durable; some file systems cannot sync a
	// directory, and the file is complete either way.
	if dfd, err := unix.Openat(d.dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		unix.Fsync(dfd)
		unix.Close(dfd)
	}
	return n, nil
}

// rename moves the partial file to FILE; without --force it never
// replaces a file that appeared meanwhile.
func (d *backupDest) rename(tmp string) error {
	if !d.force {
		err := unix.Renameat2(d.dir, tmp, d.dir, d.name, unix.RENAME_NOREPLACE)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EEXIST):
			return fmt.Errorf("%s exists; use --force to overwrite", d.file)
		case !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS):
			return fmt.Errorf("backup: %w", err)
		}
		// The file system cannot refuse to replace; check has just run.
	}
	if err := unix.Renameat(d.dir, tmp, d.dir, d.name); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// openDirPath opens the directory dir (relative to the working directory
// unless absolute) one component at a time, and returns an O_PATH
// descriptor of it. A symbolic link on the way is followed only when root
// or this process's user owns it: anyone else's could point the backup,
// written with our rights, at any directory we may write to. The link's
// owner and its target are read from the link itself, opened without
// following it, so it cannot be swapped between the check and the use.
func openDirPath(dir string) (int, error) {
	start := "."
	if strings.HasPrefix(dir, "/") {
		start = "/"
	}
	fd, err := unix.Open(start, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("%s: %w", start, err)
	}
	shown := strings.TrimSuffix(start, ".")
	parts := strings.Split(dir, "/")
	links := 0
	for len(parts) > 0 {
		c := parts[0]
		parts = parts[1:]
		if c == "" || c == "." {
			continue
		}
		p := path.Join(shown, c)
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("%s: %w", p, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			unix.Close(fd)
			return -1, fmt.Errorf("%s: %w", p, err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			unix.Close(fd)
			fd, shown = next, p
			continue
		case unix.S_IFLNK:
		default:
			unix.Close(next)
			unix.Close(fd)
			return -1, fmt.Errorf("%s: %w", p, unix.ENOTDIR)
		}
		target, err := readLink(next)
		unix.Close(next)
		switch {
		case err != nil:
			unix.Close(fd)
			return -1, fmt.Errorf("%s: %w", p, err)
		case st.Uid != 0 && st.Uid != uint32(os.Geteuid()):
			unix.Close(fd)
			return -1, fmt.Errorf("%s is a symbolic link owned by uid %d, not by root or you (uid %d): refusing to follow it to write the backup", p, st.Uid, os.Geteuid())
		case links == maxLinks:
			unix.Close(fd)
			return -1, fmt.Errorf("%s: %w", p, unix.ELOOP)
		}
		links++
		if strings.HasPrefix(target, "/") {
			root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("/: %w", err)
			}
			unix.Close(fd)
			fd, shown = root, "/"
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return fd, nil
}

// readLink returns the target of the symbolic link that fd (O_PATH,
// O_NOFOLLOW) holds.
func readLink(fd int) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}
