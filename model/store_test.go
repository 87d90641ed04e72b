package model_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"

	bolt "go.etcd.io/bbolt"
)

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestOpenWithoutCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"empty directory", func(t *testing.T) string { return t.TempDir() }},
		{"missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			_, err := model.Open(dir, model.Options{})
			if !errors.Is(err, model.ErrNoDatabase) {
				t.Fatalf("Open = %v, want ErrNoDatabase", err)
			}
			if !strings.Contains(err.Error(), filepath.Join(dir, model.DBFile)) {
				t.Fatalf("error %q does not name where it looked", err)
			}
			if names := dirEntries(t, dir); len(names) != 0 {
				t.Fatalf("Open created %v", names)
			}
		})
	}
}

func TestOpenCreates(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a", "data")
	s := testkit.OpenStore(t, dir)
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory: %v, %v", fi, err)
	}
	fi, err = os.Stat(filepath.Join(dir, model.DBFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("database file: %v, %v", fi, err)
	}
	if s.Dir() != dir || len(s.Key()) != 32 {
		t.Fatalf("Dir %q, key %d bytes", s.Dir(), len(s.Key()))
	}
}

// A second Open of a held database fails within 2 s with ErrInUse. bbolt
// takes flock(2) on its own file descriptor, so a second open in the same
// process is refused like one from another process; both are shown.
func TestOpenInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := model.Open(dir, model.Options{Create: true, Argon2: testkit.Argon2()})
	if err != nil {
		t.Fatal(err)
	}
	wantInUse := func(t *testing.T) {
		t.Helper()
		start := time.Now()
		s, err := model.Open(dir, model.Options{Argon2: testkit.Argon2()})
		if err == nil {
			s.Close()
			t.Fatal("second Open succeeded")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("second Open took %v", d)
		}
		if !errors.Is(err, model.ErrInUse) || !strings.Contains(err.Error(), "in use by another gatehouse process") ||
			!strings.Contains(err.Error(), dir) {
			t.Fatalf("second Open = %v, want ErrInUse naming %s", err, dir)
		}
	}
	t.Run("same process", wantInUse)
	first.Close()

	t.Run("another process", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), holdEnv+"="+dir)
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if line != "ready\n" {
			stdin.Close()
			cmd.Wait()
			t.Fatalf("child said %q", line)
		}
		wantInUse(t)
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	})
	t.Run("free again once closed", func(t *testing.T) {
		testkit.OpenStore(t, dir, func(o *model.Options) { o.Create = false })
	})
}

func validDBBytes(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	s, err := model.Open(dir, model.Options{Create: true, Argon2: testkit.Argon2()})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"alice", "bob", "carol"} {
		testkit.CreateUser(t, s, n, "password1", n+"@example.com")
	}
	s.Close()
	raw, err := os.ReadFile(filepath.Join(dir, model.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// A damaged file stops Open with ErrCorrupt and is left byte for byte as it
// was (bbolt initialises an empty file and panics on truncated ones unless
// Open checks first).
func TestOpenCorrupt(t *testing.T) {
	t.Parallel()
	valid := validDBBytes(t)
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"random bytes 64 KiB", random(64 << 10)},
		{"random bytes 100 B", random(100)},
		{"text file", []byte("not a database\n")},
		{"empty file", nil},
		{"truncated to 100 B", valid[:100]},
		{"truncated to one page", valid[:4096]},
		{"truncated to the meta pages", valid[:8192]},
		{"truncated to 4 pages", valid[:16384]},
		{"truncated to half", valid[:len(valid)/2]},
		{"meta pages zeroed", append(make([]byte, 8192), valid[8192:]...)},
	}
	for _, tc := range tests {
		for _, create := range []bool{false, true} {
			t.Run(tc.name+map[bool]string{false: " (cli)", true: " (serve)"}[create], func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, model.DBFile)
				if err := os.WriteFile(path, tc.data, 0o600); err != nil {
					t.Fatal(err)
				}
				s, err := model.Open(dir, model.Options{Create: create, Argon2: testkit.Argon2()})
				if err == nil {
					s.Close()
					t.Fatal("Open succeeded")
				}
				if !errors.Is(err, model.ErrCorrupt) || !strings.Contains(err.Error(), path) {
					t.Fatalf("Open = %v, want ErrCorrupt naming %s", err, path)
				}
				after, _ := os.ReadFile(path)
				if !bytes.Equal(after, tc.data) {
					t.Fatalf("file changed: %d bytes → %d bytes", len(tc.data), len(after))
				}
				if names := dirEntries(t, dir); !slices.Equal(names, []string{model.DBFile}) {
					t.Fatalf("directory holds %v", names)
				}
			})
		}
	}
	t.Run("the untruncated copy opens", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, model.DBFile), valid, 0o600)
		s := testkit.OpenStore(t, dir, func(o *model.Options) { o.Create = false })
		if us, err := s.Users(); err != nil || len(us) != 3 {
			t.Fatalf("Users = %d, %v", len(us), err)
		}
	})
}

func TestSchemaMarker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := model.Open(dir, model.Options{Create: true, Argon2: testkit.Argon2()})
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := s.View(func(tx *model.Tx) error { return tx.Meta("schema", &v) }); err != nil || v != model.SchemaVersion {
		t.Fatalf("schema marker = %d, %v; want %d", v, err, model.SchemaVersion)
	}
	s.Close()
	t.Run("reopen keeps it", func(t *testing.T) {
		s := testkit.OpenStore(t, dir)
		if err := s.View(func(tx *model.Tx) error { return tx.Meta("schema", &v) }); err != nil || v != model.SchemaVersion {
			t.Fatalf("schema marker = %d, %v", v, err)
		}
		s.Close()
	})
	t.Run("newer schema refused", func(t *testing.T) {
		s, err := model.Open(dir, model.Options{Argon2: testkit.Argon2()})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(func(tx *model.Tx) error { return tx.SetMeta("schema", model.SchemaVersion+1) }); err != nil {
			t.Fatal(err)
		}
		s.Close()
		before, _ := os.ReadFile(filepath.Join(dir, model.DBFile))
		for _, create := range []bool{false, true} {
			s, err = model.Open(dir, model.Options{Create: create, Argon2: testkit.Argon2()})
			if err == nil {
				s.Close()
				t.Fatal("Open of a newer schema succeeded")
			}
			if !strings.Contains(err.Error(), "newer") {
				t.Fatalf("Open = %v", err)
			}
		}
		after, _ := os.ReadFile(filepath.Join(dir, model.DBFile))
		if !bytes.Equal(before, after) {
			t.Fatal("refused database file changed")
		}
		// The lock was released: the file can be opened by bbolt again.
		if _, err := model.Open(dir, model.Options{Argon2: testkit.Argon2(), LockTimeout: 100 * time.Millisecond}); errors.Is(err, model.ErrInUse) {
			t.Fatal("a refused Open kept the lock")
		}
	})
}

func TestKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := model.Open(dir, model.Options{Create: true, Argon2: testkit.Argon2()})
	if err != nil {
		t.Fatal(err)
	}
	key := bytes.Clone(s.Key())
	s.Close()
	path := filepath.Join(dir, model.KeyFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if onDisk, _ := os.ReadFile(path); !bytes.Equal(onDisk, key) || bytes.Equal(key, make([]byte, 32)) {
		t.Fatal("key file differs from Key() or is all zero")
	}
	t.Run("reused on reopen", func(t *testing.T) {
		for _, create := range []bool{true, false} {
			s, err := model.Open(dir, model.Options{Create: create, Argon2: testkit.Argon2()})
			if err != nil {
				t.Fatal(err)
			}
			got := s.Key()
			s.Close()
			if !bytes.Equal(got, key) {
				t.Fatalf("create=%v: key changed", create)
			}
		}
	})
	t.Run("another data directory has another key", func(t *testing.T) {
		if other := testkit.NewStore(t).Key(); bytes.Equal(other, key) {
			t.Fatal("two data directories share a key")
		}
	})
	for _, n := range []int{0, 16, 31, 33, 64} {
		t.Run(fmt.Sprintf("wrong length %d", n), func(t *testing.T) {
			bad := make([]byte, n)
			rand.Read(bad)
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(path, key, 0o600)
			for _, create := range []bool{true, false} {
				s, err := model.Open(dir, model.Options{Create: create, Argon2: testkit.Argon2()})
				if err == nil {
					s.Close()
					t.Fatalf("create=%v: Open accepted a %d-byte key", create, n)
				}
				if !strings.Contains(err.Error(), path) {
					t.Fatalf("error %q does not name the key file", err)
				}
				if now, _ := os.ReadFile(path); !bytes.Equal(now, bad) {
					t.Fatal("the bad key file was changed")
				}
			}
		})
	}
	t.Run("cli open without key file creates none", func(t *testing.T) {
		os.Remove(path)
		defer os.WriteFile(path, key, 0o600)
		s := testkit.OpenStore(t, dir, func(o *model.Options) { o.Create = false })
		if s.Key() != nil {
			t.Fatal("Key() is not nil")
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("key file created: %v", err)
		}
	})
}

func TestBackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := testkit.NewStore(t)
	for _, n := range []string{"alice", "bob", "carol"} {
		testkit.CreateUser(t, s, n, "password1", n+"@example.com")
	}
	// The store stays usable while a backup runs.
	backupDir := t.TempDir()
	f, err := os.Create(filepath.Join(backupDir, model.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Backup(f)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, _ := os.Stat(filepath.Join(backupDir, model.DBFile)); fi.Size() != n {
		t.Fatalf("Backup reported %d bytes, file has %d", n, fi.Size())
	}
	testkit.CreateUser(t, s, "dave", "password1", "dave@example.com") // after the backup
	want, _ := s.Users()

	b := testkit.OpenStore(t, backupDir, func(o *model.Options) { o.Create = false })
	got, err := b.Users()
	if err != nil || len(got) != 3 {
		t.Fatalf("backup users: %d, %v", len(got), err)
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Username != want[i].Username || got[i].PasswordHash != want[i].PasswordHash {
			t.Fatalf("backup user %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := b.Authenticate(ctx, "bob", "password1"); err != nil {
		t.Fatalf("login on the backup: %v", err)
	}
	if _, err := b.UserByName("dave"); !errors.Is(err, model.ErrNotFound) {
		t.Fatal("the backup holds a user created after it")
	}
	var v int
	if err := b.View(func(tx *model.Tx) error { return tx.Meta("schema", &v) }); err != nil || v != model.SchemaVersion {
		t.Fatalf("backup schema: %d, %v", v, err)
	}
}

// TestBackupHoldsNoOldSecrets: a backup is written compacted, from the
// live records only, so a password hash replaced before the backup is not
// in it, while everything live is, byte for byte.
func TestBackupHoldsNoOldSecrets(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := testkit.OpenStore(t, dir)
	alice := testkit.CreateUser(t, s, "alice", "old-passw0rd", "alice@example.com")
	bob := testkit.CreateUser(t, s, "bob", "bobs-passw0rd", "bob@example.com")
	if _, _, err := s.CreateToken(alice.ID, model.NewToken{ExpiresAt: s.Now().Add(time.Hour)}, model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddPasskey(bob.ID, model.NewPasskeyHandle(), samplePasskey("cred-b", "bob's key"), model.CLIActor); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateSession(bob.ID, "192.0.2.1", "ua", model.ActorFor(bob, "192.0.2.1"), "password"); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	oldHash := []byte(u.PasswordHash)
	if !bytes.HasPrefix(oldHash, []byte("$argon2id$")) {
		t.Fatalf("stored hash %q is not a PHC argon2id string", oldHash)
	}
	if err := s.SetPassword(ctx, alice.ID, "new-passw0rd", "", model.CLIActor); err != nil {
		t.Fatal(err)
	}
	// The replaced hash stays in the live file's free pages until bbolt
	// reuses them; that is why the backup must not copy pages.
	if live, _ := os.ReadFile(filepath.Join(dir, model.DBFile)); bytes.Contains(live, oldHash) {
		t.Log("the live file still holds the old hash in a free page")
	}

	var buf bytes.Buffer
	n, err := s.Backup(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("Backup reported %d bytes, wrote %d", n, buf.Len())
	}
	if bytes.Contains(buf.Bytes(), oldHash) {
		t.Error("the backup holds the replaced password hash")
	}
	if names := dirEntries(t, dir); slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, ".backup") }) {
		t.Errorf("the backup's scratch file is left in the data directory: %v", names)
	}

	restored := t.TempDir()
	if err := os.WriteFile(filepath.Join(restored, model.DBFile), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	b := testkit.OpenStore(t, restored, func(o *model.Options) { o.Create = false })
	if got, want := dumpRecords(t, b), dumpRecords(t, s); !slices.Equal(got, want) {
		t.Errorf("the backup's records differ from the live ones:\nbackup %d records\nlive   %d records", len(got), len(want))
	}
	if _, err := b.Authenticate(ctx, "alice", "new-passw0rd"); err != nil {
		t.Errorf("the new password on the backup: %v", err)
	}
	if _, err := b.Authenticate(ctx, "alice", "old-passw0rd"); !errors.Is(err, model.ErrInvalidCredentials) {
		t.Errorf("the old password on the backup: %v, want ErrInvalidCredentials", err)
	}
	if toks, err := b.Tokens(alice.ID); err != nil || len(toks) != 1 {
		t.Errorf("tokens in the backup: %d, %v", len(toks), err)
	}
	if pks, err := b.Passkeys(bob.ID); err != nil || len(pks) != 1 {
		t.Errorf("passkeys in the backup: %d, %v", len(pks), err)
	}
	if ss, err := b.SessionsOf(bob.ID); err != nil || len(ss) != 1 {
		t.Errorf("sessions in the backup: %d, %v", len(ss), err)
	}
}

// dumpRecords lists every bucket and key of the database with its value
// and sequence, in order: two databases with the same list hold the same
// records.
func dumpRecords(t *testing.T, s *model.Store) []string {
	t.Helper()
	var out []string
	var walk func(path string, b *bolt.Bucket) error
	walk = func(path string, b *bolt.Bucket) error {
		out = append(out, fmt.Sprintf("%s seq=%d", path, b.Sequence()))
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				return walk(path+"/"+fmt.Sprintf("%q", k), b.Bucket(k))
			}
			out = append(out, fmt.Sprintf("%s/%q=%x", path, k, v))
			return nil
		})
	}
	err := s.Bolt().View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error { return walk(fmt.Sprintf("%q", name), b) })
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
