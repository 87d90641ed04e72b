// Package cli is gatehouse's command line: every command but serve and
// version, and the help text of all of them.
//
// A command is parsed and its password read in the calling process, then
// run where the database is open: in the running panel, reached over the
// control socket (package control), or in this process when no panel
// answers. bbolt's file lock admits one process, read-only opens included,
// so "directly on the file" is only possible while the panel is stopped.
// Each command's logic exists once, in its run function, and runs
// unchanged in either process: the panel calls Exec, which main hands to
// control.Listen.
package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/pflag"

	"github.com/gatehouse-panel/gatehouse/handlers/control"
	"github.com/gatehouse-panel/gatehouse/model"
)

// command is one entry of the command table. A new command is one more
// entry in commands.
type command struct {
	name string   // command words, e.g. "user add"
	args []string // names of the positional arguments, all required
	// synopsis follows the arguments in the overview of Usage: the flags
	// worth knowing at a glance.
	synopsis string
	summary  string
	// byMain marks serve and version: main runs them itself, and they are
	// in the table only so that Usage lists them.
	byMain bool
	// password asks for a new password for the user named by the first
	// argument (--password-stdin, or a prompt asked twice).
	password bool
	// flags defines the command's own flags. It runs in both processes, so
	// a request carries flag values by name and the server parses them the
	// same way the client did.
	flags func(fs *pflag.FlagSet)
	// run executes the command against the open store, in whichever process
	// holds it; it writes its report to call.out.
	run func(ctx context.Context, call *call) error
	// client, set instead of run, keeps the command in the calling process
	// (backup writes a local file) and reaches the database through inv.
	client func(ctx context.Context, inv *invocation) error
}

// commands is the command table, in the order Usage lists it.
var commands = []*command{
	{name: "serve", synopsis: "[flags]", summary: "run the panel; the default command (gatehouse serve --help)", byMain: true},
	{name: "user list", summary: "table of users", run: runUserList},
	{
		name: "user add", args: []string{"NAME"}, synopsis: "--email E [--role ROLE]", summary: "create a user (password from --password-stdin or a prompt)", password: true,
		flags: func(fs *pflag.FlagSet) {
			fs.String("email", "", "email address (required)")
			fs.String("role", "", "admin or member (default member; the first user is an admin)")
		},
		run: runUserAdd,
	},
	{name: "user passwd", args: []string{"NAME"}, summary: "set a password; ends that user's sessions", password: true, run: runUserPasswd},
	{name: "user delete", args: []string{"NAME"}, summary: "delete a user (never the last one)", run: runUserDelete},
	{name: "user 2fa-off", args: []string{"NAME"}, summary: "lock-out recovery: turn two-factor authentication off", run: runUserTwoFactorOff},
	{name: "user passkeys-clear", args: []string{"NAME"}, summary: "delete all passkeys of a user", run: runUserPasskeysClear},
	{name: "user sessions", args: []string{"NAME"}, summary: "table of a user's browser sessions", run: runUserSessions},
	{name: "user logout", args: []string{"NAME"}, summary: "end all sessions of a user", run: runUserLogout},
	{name: "user role", args: []string{"NAME", "ROLE"}, summary: "set the role, admin or member (never the last enabled admin)", run: runUserRole},
	{name: "user disable", args: []string{"NAME"}, summary: "refuse every way in and end the user's sessions", run: runUserDisabled(true)},
	{name: "user enable", args: []string{"NAME"}, summary: "let a disabled user sign in again", run: runUserDisabled(false)},
	{
		name: "token create", args: []string{"NAME"}, synopsis: "[--ip IP/CIDR]… [--expires 90d|12h|RFC3339] [--scope read|write]",
		summary: "create an access token for user NAME and print only its value (for scripts)",
		flags:   tokenCreateFlags, run: runTokenCreate,
	},
	{
		name: "backup", args: []string{"FILE"}, synopsis: "[--force]", summary: "consistent copy of the database, also while the panel runs",
		flags:  func(fs *pflag.FlagSet) { fs.Bool("force", false, "overwrite FILE if it exists") },
		client: runBackup,
	},
	{name: "version", summary: "version, commit, Go version", byMain: true},
}

// call is one command executing where the database is open.
type call struct {
	store    *model.Store
	args     []string
	flags    *pflag.FlagSet
	password string
	out      io.Writer
}

// invocation is a parsed command in the calling process.
type invocation struct {
	args    []string
	flags   *pflag.FlagSet
	dataDir string
	env     env
	target  target // set by connect
}

// env is the CLI's surroundings, explicit so that tests run it in-process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// open is used when no panel answers on the control socket.
	open model.Options
}

// usageError is a command line that cannot be run as written.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// Flags that only the calling process uses; they are never sent to the panel.
var clientFlags = map[string]bool{"data": true, "password-stdin": true}

// lookupCommand returns the runnable command named name, or nil.
func lookupCommand(name string) *command {
	for _, c := range commands {
		if c.name == name && !c.byMain {
			return c
		}
	}
	return nil
}

// newFlagSet returns the command's flag set. Errors and help are printed by
// Run, so pflag itself stays quiet.
func (c *command) newFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	// Interspersed parsing lets flags come before or after NAME.
	fs.SetInterspersed(true)
	if c.flags != nil {
		c.flags(fs)
	}
	return fs
}

// words is the command with its arguments: "gatehouse user add NAME".
func (c *command) words() string {
	s := "gatehouse " + c.name
	if len(c.args) > 0 {
		s += " " + strings.Join(c.args, " ")
	}
	return s
}

func (c *command) usageLine() string { return c.words() + " [flags]" }

// usageColumn is where the summaries start in Usage; a longer command line
// puts its summary on the next line.
const usageColumn = 44

// Usage is the text of gatehouse help, generated from the command table.
func Usage() string {
	var b strings.Builder
	b.WriteString("gatehouse: login and user management for a self-hosted server panel\n\nUsage:\n")
	for _, c := range commands {
		line := "  " + c.words()
		if c.synopsis != "" {
			line += " " + c.synopsis
		}
		if n := utf8.RuneCountInString(line); n < usageColumn {
			line += strings.Repeat(" ", usageColumn-n)
		} else {
			line += "\n" + strings.Repeat(" ", usageColumn)
		}
		b.WriteString(line + c.summary + "\n")
	}
	b.WriteString("\nEvery command takes --data DIR (or GATEHOUSE_DATA); gatehouse COMMAND --help lists its flags.\n")
	return b.String()
}

// Run runs one gatehouse command other than serve, version and help;
// args[0] is the command word ("user", "backup"). It returns the exit
// status: 0 on success, 1 with a one-line reason on stderr otherwise. While
// the panel runs on the same data directory the command runs inside it,
// through the control socket; otherwise it opens the database directly,
// and never creates one.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, args, env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv})
}

func run(ctx context.Context, args []string, e env) int {
	if e.stdin == nil {
		e.stdin = strings.NewReader("")
	}
	cmd, rest, help, err := findCommand(args)
	switch {
	case help != "":
		fmt.Fprint(e.stdout, help)
		return 0
	case err != nil:
		fmt.Fprintf(e.stderr, "gatehouse: %v\n", err)
		return 1
	}
	inv, err := parseInvocation(cmd, rest, e)
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprint(e.stdout, commandHelp(cmd))
		return 0
	}
	if err != nil {
		// One line, as the contract asks of every failure.
		fmt.Fprintf(e.stderr, "gatehouse: %v; usage: %s\n", err, cmd.usageLine())
		return 1
	}
	defer inv.close()
	if cmd.client != nil {
		return report(e.stderr, cmd.client(ctx, inv))
	}
	req := control.Request{Command: cmd.name, Args: inv.args, Flags: requestFlags(inv.flags)}
	if cmd.password {
		stdinFlag, _ := inv.flags.GetBool("password-stdin")
		pw, err := readNewPassword(e, stdinFlag, inv.args[0])
		if err != nil {
			return report(e.stderr, err)
		}
		req.Password = []byte(pw)
	}
	// The password is read before the database is reached, so that a
	// person typing at the prompt never holds the database lock.
	if err := inv.connect(ctx); err != nil {
		return report(e.stderr, err)
	}
	res, err := inv.target.Exec(ctx, req)
	if err != nil {
		return report(e.stderr, err)
	}
	io.WriteString(e.stdout, res.Stdout)
	io.WriteString(e.stderr, res.Stderr)
	return res.Code
}

// report prints err as a one-line reason and returns the exit status: 0
// for no error, else 1 (the contract's status for every failure, usage
// errors included).
func report(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse: %s\n", message(err))
	return 1
}

// findCommand finds the table entry named by the leading command words. It
// returns a help text instead when help was asked for a command group.
func findCommand(args []string) (cmd *command, rest []string, help string, err error) {
	if len(args) == 0 {
		return nil, nil, "", usagef("no command given; see gatehouse help")
	}
	if c := lookupCommand(args[0]); c != nil {
		return c, args[1:], "", nil
	}
	if !isGroup(args[0]) {
		return nil, nil, "", usagef("unknown command %q; see gatehouse help", args[0])
	}
	if len(args) > 1 {
		if c := lookupCommand(args[0] + " " + args[1]); c != nil {
			return c, args[2:], "", nil
		}
		if args[1] == "-h" || args[1] == "--help" || args[1] == "help" {
			return nil, nil, groupHelp(args[0]), nil
		}
		return nil, nil, "", usagef("unknown command %q; commands: %s", args[0]+" "+args[1], strings.Join(groupCommands(args[0]), ", "))
	}
	return nil, nil, "", usagef("%q needs a command: %s", args[0], strings.Join(groupCommands(args[0]), ", "))
}

func isGroup(word string) bool { return len(groupCommands(word)) > 0 }

func groupCommands(word string) []string {
	var out []string
	for _, c := range commands {
		if strings.HasPrefix(c.name, word+" ") {
			out = append(out, strings.TrimPrefix(c.name, word+" "))
		}
	}
	return out
}

func groupHelp(word string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Commands:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 3, ' ', 0)
	for _, c := range commands {
		if strings.HasPrefix(c.name, word+" ") {
			fmt.Fprintf(tw, "  %s\t%s\n", c.words(), c.summary)
		}
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nRun 'gatehouse %s COMMAND --help' for a command's flags.\n", word)
	return b.String()
}

func commandHelp(c *command) string {
	fs := c.newFlagSet()
	addClientFlags(c, fs, func(string) string { return "" })
	return fmt.Sprintf("Usage: %s\n\n%s.\n\nFlags:\n%s", c.usageLine(), c.summary, fs.FlagUsages())
}

// addClientFlags adds the flags that stay in the calling process.
func addClientFlags(c *command, fs *pflag.FlagSet, getenv func(string) string) {
	fs.String("data", getenv("GATEHOUSE_DATA"), "data directory (default $GATEHOUSE_DATA, else /var/lib/gatehouse when it holds a database, else ./data)")
	if c.password {
		fs.Bool("password-stdin", false, "read the password from the first line of standard input instead of prompting")
	}
}

// parseInvocation parses the command line of c in the calling process.
func parseInvocation(c *command, args []string, e env) (*invocation, error) {
	fs := c.newFlagSet()
	addClientFlags(c, fs, e.getenv)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > len(c.args) && len(c.args) == 0:
		return nil, usagef("%s takes no arguments, got %q", c.name, fs.Arg(0))
	case fs.NArg() > len(c.args):
		return nil, usagef("%s takes only %s, got also %q", c.name, strings.Join(c.args, " "), fs.Arg(len(c.args)))
	case fs.NArg() < len(c.args):
		return nil, usagef("%s needs %s", c.name, strings.Join(c.args, " "))
	}
	var bad error
	fs.VisitAll(func(f *pflag.Flag) {
		if !utf8.ValidString(f.Value.String()) {
			bad = usagef("--%s is not valid UTF-8", f.Name)
		}
	})
	for _, a := range fs.Args() {
		if !utf8.ValidString(a) {
			// JSON would change such bytes on the way to the panel, so
			// refuse them in both places alike.
			bad = usagef("argument %q is not valid UTF-8", a)
		}
	}
	if bad != nil {
		return nil, bad
	}
	dir, _ := fs.GetString("data")
	if dir == "" {
		dir = model.DefaultDataDir()
	}
	return &invocation{args: fs.Args(), flags: fs, dataDir: dir, env: e}, nil
}

// requestFlags collects the command's own flags that were set, by name.
func requestFlags(fs *pflag.FlagSet) map[string][]string {
	out := map[string][]string{}
	fs.Visit(func(f *pflag.Flag) {
		if clientFlags[f.Name] {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			out[f.Name] = sv.GetSlice()
		} else {
			out[f.Name] = []string{f.Value.String()}
		}
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// Exec runs req against store and returns its outcome; it is the
// control.ExecFunc that main hands to control.Listen, and a CLI that
// opened the database itself calls it too.
func Exec(ctx context.Context, store *model.Store, req control.Request) control.Result {
	var stdout, stderr bytes.Buffer
	code := report(&stderr, execute(ctx, store, req, &stdout))
	return control.Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

func execute(ctx context.Context, store *model.Store, req control.Request, out io.Writer) error {
	cmd := lookupCommand(req.Command)
	if cmd == nil || cmd.run == nil {
		// A CLI from another release may know commands this panel does not.
		return usagef("unknown command %q (is the running panel the same release as this gatehouse?)", req.Command)
	}
	fs := cmd.newFlagSet()
	for name, vals := range req.Flags {
		if err := setFlag(fs, name, vals); err != nil {
			return err
		}
	}
	if len(req.Args) != len(cmd.args) {
		return usagef("%s needs %s", cmd.name, strings.Join(cmd.args, " "))
	}
	return cmd.run(ctx, &call{store: store, args: req.Args, flags: fs, password: string(req.Password), out: out})
}

// setFlag sets a flag from a request the way parsing the command line set it
// in the client.
func setFlag(fs *pflag.FlagSet, name string, vals []string) error {
	f := fs.Lookup(name)
	if f == nil || clientFlags[name] {
		return usagef("unknown flag --%s", name)
	}
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		// Replace, not Set: Set would split values at commas again.
		if err := sv.Replace(vals); err != nil {
			return usagef("--%s: %v", name, err)
		}
		f.Changed = true
		return nil
	}
	if len(vals) != 1 {
		return usagef("--%s takes one value", name)
	}
	if err := fs.Set(name, vals[0]); err != nil {
		return usagef("--%s: %v", name, err)
	}
	return nil
}

// message is the one-line reason shown for err.
func message(err error) string {
	var msg string
	switch {
	case errors.Is(err, model.ErrLastUser):
		msg = "cannot delete the last user; create another user first"
	case errors.Is(err, model.ErrLastAdmin):
		msg = "at least one enabled admin must remain; make another user an admin first"
	case errors.Is(err, model.ErrBusy):
		msg = "the server is busy hashing passwords; try again in a moment"
	default:
		if v, ok := model.AsValidation(err); ok {
			msg = v.Messages()
		} else {
			msg = err.Error()
		}
	}
	// errors.Join separates with newlines; the reason stays on one line.
	return strings.NewReplacer("\r", "", "\n", "; ").Replace(strings.TrimSpace(msg))
}
