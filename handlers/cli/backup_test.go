package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
