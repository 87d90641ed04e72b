package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/gatehouse-panel/gatehouse/handlers/control"
	"github.com/gatehouse-panel/gatehouse/model"
)

// TestCLINoDatabase: no command but serve creates a database; each names
// where it looked and leaves the directory as it was.
func TestCLINoDatabase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"list", "", []string{"user", "list"}},
		{"add", "Passw0rd-ok\n", []string{"user", "add", "bob", "--email", "bob@example.com", "--password-stdin"}},
		{"passwd", "Passw0rd-ok\n", []string{"user", "passwd", "bob", "--password-stdin"}},
		{"delete", "", []string{"user", "delete", "bob"}},
		{"backup", "", []string{"backup", "BACKUP"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			empty := filepath.Join(base, "empty")
			missing := filepath.Join(base, "missing")
			os.Mkdir(empty, 0o700)
			for _, dir := range []string{empty, missing} {
				backup := filepath.Join(base, "backup.db")
				args := append([]string{}, tc.args...)
				for i, a := range args {
					if a == "BACKUP" {
						args[i] = backup
					}
				}
				code, stdout, stderr := runCmd(t, tc.stdin, append(args, "--data", dir)...)
				checkOutput(t, code, stdout, stderr, 1, nil, []string{"no gatehouse database in " + dir, filepath.Join(dir, model.DBFile)})
				if _, err := os.Stat(backup); err == nil {
					t.Error("a backup file was created")
				}
			}
			if ents, _ := os.ReadDir(empty); len(ents) != 0 {
				t.Errorf("files created in the empty directory: %v", ents)
			}
			if _, err := os.Stat(missing); err == nil {
				t.Error("the missing data directory was created")
			}
		})
	}
}

// TestRunCLIEnvironment drives the exported entry point, with the data
// directory from GATEHOUSE_DATA and a relative --data.
func TestRunCLIEnvironment(t *testing.T) {
	dir := newDB(t)
	t.Setenv("GATEHOUSE_DATA", dir)
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"user", "list"}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "admin@example.com") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}

	t.Chdir(filepath.Dir(dir))
	t.Setenv("GATEHOUSE_DATA", "/nonexistent")
	out.Reset()
	if code := Run(context.Background(), []string{"user", "list", "--data", filepath.Base(dir)}, nil, &out, &errb); code != 0 || !strings.Contains(out.String(), "admin") {
		t.Fatalf("--data must win over GATEHOUSE_DATA: exit %d: %s", code, errb.String())
	}
}

// TestCLIHelp: help goes to stdout with status 0.
func TestCLIHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"user", "--help"}, []string{"gatehouse user add NAME", "gatehouse user delete NAME", "gatehouse user list"}},
		{[]string{"user", "add", "--help"}, []string{"Usage: gatehouse user add NAME", "--email", "--password-stdin", "--data"}},
		{[]string{"backup", "-h"}, []string{"Usage: gatehouse backup FILE", "--force"}},
	} {
		code, stdout, stderr := runCmd(t, "", tc.args...)
		checkOutput(t, code, stdout, stderr, 0, tc.want, nil)
	}
}

// TestCLIRequestFlags: flag values survive the trip to the panel exactly,
// including repeatable flags whose values hold commas (the later token
// command's --ip).
func TestCLIRequestFlags(t *testing.T) {
	t.Parallel()
	define := func(fs *pflag.FlagSet) {
		fs.StringArray("ip", nil, "")
		fs.StringSlice("tag", nil, "")
		fs.String("expires", "90d", "")
		fs.Bool("force", false, "")
	}
	client := pflag.NewFlagSet("x", pflag.ContinueOnError)
	define(client)
	client.String("data", "", "")
	if err := client.Parse([]string{"--ip", "10.0.0.0/8", "--ip", "a,b", "--tag", "x,y", "--force", "--data", "/d"}); err != nil {
		t.Fatal(err)
	}
	flags := requestFlags(client)
	if _, ok := flags["data"]; ok {
		t.Error("--data was sent to the panel")
	}
	server := pflag.NewFlagSet("x", pflag.ContinueOnError)
	define(server)
	for name, vals := range flags {
		if err := setFlag(server, name, vals); err != nil {
			t.Fatal(err)
		}
	}
	ips, _ := server.GetStringArray("ip")
	tags, _ := server.GetStringSlice("tag")
	exp, _ := server.GetString("expires")
	force, _ := server.GetBool("force")
	if fmt.Sprint(ips) != "[10.0.0.0/8 a,b]" || fmt.Sprint(tags) != "[x y]" || exp != "90d" || !force || !server.Changed("ip") {
		t.Errorf("got ip=%q tag=%q expires=%q force=%v", ips, tags, exp, force)
	}
	if err := setFlag(server, "data", []string{"/x"}); err == nil {
		t.Error("a client-only flag was accepted from a request")
	}
	if err := setFlag(server, "nope", []string{"1"}); err == nil {
		t.Error("an unknown flag was accepted from a request")
	}
}

// TestUsage: gatehouse help lists every command of the table, serve and
// version included, one line each with its summary.
func TestUsage(t *testing.T) {
	t.Parallel()
	u := Usage()
	for _, c := range commands {
		if !strings.Contains(u, "  "+c.words()) || !strings.Contains(u, c.summary+"\n") {
			t.Errorf("help lacks %q (%s):\n%s", c.name, c.summary, u)
		}
	}
	for _, want := range []string{"gatehouse serve [flags]", "gatehouse version", "gatehouse user add NAME --email E", "gatehouse token create NAME [--ip IP/CIDR]… [--expires 90d|12h|RFC3339] [--scope read|write]\n", "--data DIR (or GATEHOUSE_DATA)"} {
		if !strings.Contains(u, want) {
			t.Errorf("help lacks %q:\n%s", want, u)
		}
	}
	// Summaries line up, except after a command line too long for that.
	col := -1
	for _, l := range strings.Split(u, "\n") {
		if !strings.HasPrefix(l, "  gatehouse ") || !strings.Contains(l, "   ") { // too long: its summary is on the next line
			continue
		}
		at := strings.Index(l, "   ")
		for at < len(l) && l[at] == ' ' {
			at++
		}
		if col == -1 {
			col = at
		} else if at != col {
			t.Errorf("summary of %q starts at %d, want %d", l, at, col)
		}
	}
}

// TestCommandsOfMain: serve and version are listed in the help but run by
// main: the CLI neither runs them nor accepts them from the control
// socket.
func TestCommandsOfMain(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"serve", "version"} {
		code, stdout, stderr := runCmd(t, "", name)
		checkOutput(t, code, stdout, stderr, 1, nil, []string{"unknown command"})
		dir := newDB(t)
		withStore(t, dir, func(s *model.Store) {
			res := Exec(context.Background(), s, control.Request{Command: name})
			if res.Code != 1 || !strings.Contains(res.Stderr, "unknown command") {
				t.Errorf("Exec(%s) = %+v", name, res)
			}
		})
	}
}
