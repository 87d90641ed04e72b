package model

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asdine/storm/v3"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// File names inside the data directory.
const (
	DBFile              = "gatehouse.db"
	KeyFile             = "gatehouse.key"
	InitialPasswordFile = "initial-admin-password"
	// SchemaVersion is the layout this build writes. A database with a newer
	// schema is refused; older ones are migrated in migrate.
	SchemaVersion = 1
	metaBucket    = "gatehouse_meta"
	keyLen        = 32
)

// Options configure Open.
type Options struct {
	// Create allows creating the data directory, database and key file.
	// Only `serve` sets it: the CLI never creates a database.
	Create bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Argon2 overrides the hashing parameters (tests use cheaper ones).
	Argon2 *Argon2Params
	// AuditMax bounds the stream of aggregated outside failures (see
	// AuditEvent); 0 means DefaultAuditMax.
	AuditMax uint64
	// AuditRetention is how long security events and sign-ins are kept;
	// 0 means DefaultAuditRetention.
	AuditRetention time.Duration
	// LockTimeout is how long to wait for another process's file lock.
	LockTimeout time.Duration
}

// Store is Gatehouse's database: a Storm node on one bbolt file, plus the
// data directory's secret key.
type Store struct {
	db       *storm.DB
	dir      string
	key      []byte
	hasher   *Hasher
	now      func() time.Time
	auditMax uint64
	// auditRetention: see Options.AuditRetention.
	auditRetention time.Duration

	// tokenGen and tokenCache: see TokenByValue.
	tokenGen   atomic.Uint64
	tokenMu    sync.Mutex
	tokenCache map[string]tokenCacheEntry
	// users is the users' directory for paging and search, cached for
	// one generation of userGen, which every write moves on except those
	// made with updateKeepUsers (user_page.go).
	users   userDir
	userGen atomic.Uint64

	// seen holds the sessions' exact last-seen times (session_seen.go).
	seen sessionSeen
}

// Tx is one bbolt transaction. All multi-step changes run inside one.
type Tx struct {
	n storm.Node
	s *Store
	// b is the bbolt transaction under n, for records kept in plain
	// buckets without Storm's indexes (access tokens, see token.go).
	b *bolt.Tx
}

// Open opens the database in dir. With opts.Create it first makes sure
// that nobody but root and this process's user controls dir (see
// prepareDataDir). It fails with ErrInUse when another
// process holds it (after LockTimeout, default 1 s), ErrNoDatabase when
// there is none and opts.Create is false, and ErrCorrupt when the file
// cannot be read; the file is never modified in those cases.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Create {
		// Only serve creates; it also keeps the directory private.
		if err := prepareDataDir(dir); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, DBFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if !opts.Create {
			return nil, fmt.Errorf("%w in %s (looked for %s)", ErrNoDatabase, dir, path)
		}
	} else if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	} else if err := checkFile(path); err != nil {
		// bbolt would initialise an empty file (overwriting it) and panic or
		// fault on a truncated one instead of returning an error.
		return nil, classifyOpenError(dir, path, err)
	}
	timeout := opts.LockTimeout
	if timeout == 0 {
		timeout = time.Second
	}
	db, err := openDB(path, timeout)
	if err != nil {
		return nil, classifyOpenError(dir, path, err)
	}
	s := &Store{db: db, dir: dir, now: opts.Now, auditMax: opts.AuditMax, auditRetention: opts.AuditRetention}
	if s.now == nil {
		s.now = time.Now
	}
	if s.auditMax == 0 {
		s.auditMax = DefaultAuditMax
	}
	if s.auditRetention <= 0 {
		s.auditRetention = DefaultAuditRetention
	}
	params := DefaultArgon2
	if opts.Argon2 != nil {
		params = *opts.Argon2
	}
	s.hasher = NewHasher(params)
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.loadKey(opts.Create); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openDB opens the bbolt file and wraps it in Storm. A damaged file can
// make bbolt panic (or fault on its memory map) rather than return an
// error; that is reported as an error, and the bbolt handle is closed when
// Storm's own start-up fails (storm.Open leaves it open).
func openDB(path string, timeout time.Duration) (db *storm.DB, err error) {
	var bdb *bolt.DB
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("bbolt: %v", r)
		}
		if err != nil && bdb != nil {
			func() {
				defer func() { _ = recover() }()
				bdb.Close()
			}()
		}
	}()
	bdb, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return nil, err
	}
	return storm.Open(path, storm.UseDB(bdb))
}

// checkFile reads the two meta pages of a bbolt file the way bbolt lays
// them out (a 16-byte page header, then magic, version, page size, flags,
// root bucket, freelist, high-water page id, txid and an FNV-64a checksum
// of the fields before it) and checks that the newest valid one describes
// a database that fits in the file. It only reads the file.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	readMeta := func(off int64) (pageSize, pgid, txid uint64, ok bool) {
		var b [16 + 64]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return 0, 0, 0, false
		}
		m := b[16:]
		le := binary.NativeEndian
		h := fnv.New64a()
		h.Write(m[:56])
		if le.Uint32(m[0:]) != 0xED0CDAED || le.Uint32(m[4:]) != 2 || le.Uint64(m[56:]) != h.Sum64() {
			return 0, 0, 0, false
		}
		return uint64(le.Uint32(m[8:])), le.Uint64(m[40:]), le.Uint64(m[48:]), true
	}
	var best struct{ pageSize, pgid, txid uint64 }
	found := false
	use := func(ps, pgid, txid uint64, ok bool) {
		if ok && ps > 0 && (!found || txid > best.txid) {
			best.pageSize, best.pgid, best.txid, found = ps, pgid, txid, true
		}
	}
	ps0, pgid0, txid0, ok0 := readMeta(0)
	use(ps0, pgid0, txid0, ok0)
	if ok0 && ps0 > 0 {
		use(readMeta(int64(ps0)))
	} else {
		for i := 0; i <= 14; i++ {
			if ps, pgid, txid, ok := readMeta(1024 << i); ok && ps == 1024<<i {
				use(ps, pgid, txid, ok)
				break
			}
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	switch {
	case fi.Size() == 0:
		return errors.New("empty file")
	case !found:
		return bolterrors.ErrInvalid
	case best.pgid > uint64(fi.Size())/best.pageSize:
		return fmt.Errorf("file is truncated: %d bytes, the database needs %d", fi.Size(), best.pgid*best.pageSize)
	}
	return nil
}

func classifyOpenError(dir, path string, err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return fmt.Errorf("data directory %s is %w (its database is locked)", dir, ErrInUse)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("open %s: %w", path, err)
	}
	// bbolt reports damage in several ways (invalid, checksum, version
	// mismatch, file too small); none of them writes to the file.
	return fmt.Errorf("%s: %w (%v); it was left untouched: restore it from a backup", path, ErrCorrupt, err)
}

// migrate writes the schema marker of a new database and refuses a newer one.
func (s *Store) migrate() error {
	var v int
	err := s.db.Get(metaBucket, "schema", &v)
	switch {
	case errors.Is(err, storm.ErrNotFound):
		return s.db.Set(metaBucket, "schema", SchemaVersion)
	case err != nil:
		return fmt.Errorf("%s: %w (%v)", filepath.Join(s.dir, DBFile), ErrCorrupt, err)
	case v > SchemaVersion:
		return fmt.Errorf("the database has schema %d, newer than this gatehouse (%d): run the newer release", v, SchemaVersion)
	}
	return nil
}

func (s *Store) loadKey(create bool) error {
	path := filepath.Join(s.dir, KeyFile)
	key, err := os.ReadFile(path)
	switch {
	case err == nil && len(key) == keyLen:
		s.key = key
		return nil
	case err == nil:
		return fmt.Errorf("key file %s has %d bytes, want %d: restore it from your backup", path, len(key), keyLen)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("model: read key file: %w", err)
	case !create:
		return nil // CLI commands on a stopped panel need no key.
	}
	// Never silently make a new key while secrets sealed with the old one
	// exist: they could not be opened any more.
	var sealed bool
	if err := s.View(func(tx *Tx) error { sealed, err = tx.hasSealedSecrets(); return err }); err != nil {
		return err
	}
	if sealed {
		return fmt.Errorf("key file %s is missing, but the database holds two-factor secrets sealed with it: "+
			"restore the key file from your backup (a backup is %s and %s), or turn 2FA off for each user "+
			"with `gatehouse user 2fa-off NAME` (it works while the panel is stopped) and start again",
			path, DBFile, KeyFile)
	}
	key = make([]byte, keyLen)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("model: generate key: %w", err)
	}
	if err := writeFileSync(path, key, 0o600); err != nil {
		return fmt.Errorf("model: write key file: %w", err)
	}
	s.key = key
	return nil
}

// writeFileSync creates path exclusively with mode and syncs it.
func writeFileSync(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// Close writes the sessions' last-seen times still held in memory, so a
// restart keeps them, and closes the database.
func (s *Store) Close() error {
	flushErr := s.flushSessionsSeen()
	if err := s.db.Close(); err != nil {
		return err
	}
	return flushErr
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Key returns the data directory's 32-byte secret key (nil when a CLI
// command opened a database without one).
func (s *Store) Key() []byte { return s.key }

// Hasher returns the store's password hasher.
func (s *Store) Hasher() *Hasher { return s.hasher }

// Now returns the store clock's time.
func (s *Store) Now() time.Time { return s.now() }

// Update runs fn in one read-write transaction: everything fn does commits
// together or not at all.
func (s *Store) Update(fn func(*Tx) error) error {
	// Bumped after the commit too: see userDirectory.
	defer s.userGen.Add(1)
	return s.update(fn)
}

// updateKeepUsers is Update for the batched writes that never change a
// user record (token last uses, sessions' last-seen times, the audit
// log): they leave the cached users' directory valid, so a list of 10,000
// users is not decoded again every few seconds under load.
func (s *Store) updateKeepUsers(fn func(*Tx) error) error { return s.update(fn) }

func (s *Store) update(fn func(*Tx) error) error {
	// Every write ends the token lookup cache's generation (token_lookup.go); the
	// bump comes after the commit, so a lookup that read the old data is
	// never kept under the new generation.
	defer s.tokenGen.Add(1)
	return s.db.Bolt.Update(func(btx *bolt.Tx) error {
		return fn(&Tx{n: s.db.WithTransaction(btx), s: s, b: btx})
	})
}

// View runs fn in one read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.Bolt.View(func(btx *bolt.Tx) error {
		return fn(&Tx{n: s.db.WithTransaction(btx), s: s, b: btx})
	})
}

// Backup writes a consistent, compacted copy of the database to w while
// the store stays in use, and returns its size. Copying the file page by
// page would carry its free pages along, and those keep replaced records
// (an old password hash, a revoked recovery code) until bbolt reuses them.
// So the live records of one read transaction are copied into a fresh
// database, and that one is written out. The fresh file lies in the data
// directory, which only the panel's user can enter, and is unlinked as
// soon as it is open, so nothing of it outlives the call (not even a
// crash); it takes about the size of the live records meanwhile.
func (s *Store) Backup(w io.Writer) (int64, error) {
	f, err := os.CreateTemp(s.dir, ".backup-*.db")
	if err != nil {
		return 0, fmt.Errorf("model: backup: %w", err)
	}
	name := f.Name()
	f.Close()
	// bbolt initialises the empty file; the open descriptor keeps it after
	// the unlink.
	dst, err := bolt.Open(name, 0o600, &bolt.Options{Timeout: time.Second})
	os.Remove(name)
	if err != nil {
		return 0, fmt.Errorf("model: backup: %w", err)
	}
	defer dst.Close()
	// A maximum transaction size of 0 copies everything in one read
	// transaction of the store and one write transaction of the copy: the
	// copy is one moment of the database.
	if err := bolt.Compact(dst, s.db.Bolt, 0); err != nil {
		return 0, fmt.Errorf("model: backup: compact: %w", err)
	}
	var n int64
	err = dst.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// mapErr turns Storm's not-found into ErrNotFound.
func mapErr(err error) error {
	if errors.Is(err, storm.ErrNotFound) {
		return ErrNotFound
	}
	return err
}

// meta reads a value from the meta bucket.
func (tx *Tx) meta(key string, to any) error { return mapErr(tx.n.Get(metaBucket, key, to)) }

// setMeta writes a value to the meta bucket.
func (tx *Tx) setMeta(key string, v any) error { return tx.n.Set(metaBucket, key, v) }

// SystemDataDir is where a packaged install keeps its data.
const SystemDataDir = "/var/lib/gatehouse"

// DefaultDataDir is the data directory when none is configured:
// /var/lib/gatehouse when it holds a Gatehouse database, else ./data.
func DefaultDataDir() string {
	if _, err := os.Stat(filepath.Join(SystemDataDir, DBFile)); err == nil {
		return SystemDataDir
	}
	return "data"
}
