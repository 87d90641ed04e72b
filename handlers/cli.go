package handlers

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/gatehouse-panel/gatehouse/model"
)

// The CLI parses a command and reads its password in the calling process,
// then runs it where the database is open: in the running panel, reached
// over the control socket (see control.go), or in this process when no
// panel answers. bbolt's file lock admits one process, read-only opens
// included, so "directly on the file" is only possible while the panel is
// stopped. Each command's logic exists once, in its run function, and runs
// unchanged in either process.

// cliLockTimeout is how long a command waits for another command that holds
// the database; long enough to queue behind one, short enough to tell a
// person quickly that something else keeps it.
const cliLockTimeout = 3 * time.Second

// cliCommand is one entry of the command table. A new command is one more
// entry in cliCommands.
type cliCommand struct {
	name    string   // command words, e.g. "user add"
	args    []string // names of the positional arguments, all required
	summary string
	// password asks for a new password for the user named by the first
	// argument (--password-stdin, or a prompt asked twice).
	password bool
	// flags defines the command's own flags. It runs in both processes, so
	// a request carries flag values by name and the server parses them the
	// same way the client did.
	flags func(fs *pflag.FlagSet)
	// run executes the command against the open store, in whichever process
	// holds it; it writes its report to call.out.
	run func(ctx context.Context, call *cliCall) error
	// client, set instead of run, keeps the command in the calling process
	// (backup writes a local file) and reaches the database through inv.
	client func(ctx context.Context, inv *cliInvocation) error
}

// cliCall is one command executing where the database is open.
type cliCall struct {
	store    *model.Store
	args     []string
	flags    *pflag.FlagSet
	password string
	out      io.Writer
}

// cliInvocation is a parsed command in the calling process.
type cliInvocation struct {
	args    []string
	flags   *pflag.FlagSet
	dataDir string
	env     cliEnv
	target  cliTarget // set by connect
}

// cliRequest is a parsed command with its password read, ready to run where
// the database is open. It is what the CLI sends to the control socket.
type cliRequest struct {
	Command string              `json:"command"`
	Args    []string            `json:"args"`
	Flags   map[string][]string `json:"flags,omitempty"`
	// Password is bytes, not a string: encoding/json would silently turn
	// invalid UTF-8 into U+FFFD, and the password rules must see exactly
	// what was typed.
	Password []byte `json:"password,omitempty"`
}

// cliResult is a command's outcome: its output and exit status.
type cliResult struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Code   int    `json:"code"`
}

// cliEnv is the CLI's surroundings, explicit so that tests run it in-process.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// open is used when no panel answers on the control socket.
	open model.Options
}

// usageError is a command line that cannot be run as written (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// Flags that only the calling process uses; they are never sent to the panel.
var cliClientFlags = map[string]bool{"data": true, "password-stdin": true}

// cliCommands is the command table.
var cliCommands = []*cliCommand{
	{name: "user list", summary: "table of users", run: runUserList},
	{
		name: "user add", args: []string{"NAME"}, summary: "create a user", password: true,
		flags: func(fs *pflag.FlagSet) { fs.String("email", "", "email address (required)") },
		run:   runUserAdd,
	},
	{name: "user passwd", args: []string{"NAME"}, summary: "set a password; ends that user's sessions", password: true, run: runUserPasswd},
	{name: "user delete", args: []string{"NAME"}, summary: "delete a user (never the last one)", run: runUserDelete},
	{name: "user 2fa-off", args: []string{"NAME"}, summary: "lock-out recovery: turn two-factor authentication off", run: runUser2FAOff},
	{name: "user passkeys-clear", args: []string{"NAME"}, summary: "delete all passkeys of a user", run: runUserPasskeysClear},
	{
		name: "token create", args: []string{"NAME"}, summary: "create an access token for user NAME and print only its value",
		flags: tokenCreateFlags, run: runTokenCreate,
	},
	{
		name: "backup", args: []string{"FILE"}, summary: "consistent copy of the database, also while the panel runs",
		flags:  func(fs *pflag.FlagSet) { fs.Bool("force", false, "overwrite FILE if it exists") },
		client: runBackup,
	},
}

func lookupCommand(name string) *cliCommand {
	for _, c := range cliCommands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// newFlagSet returns the command's flag set. Errors and help are printed by
// RunCLI, so pflag itself stays quiet.
func (c *cliCommand) newFlagSet() *pflag.FlagSet {
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

func (c *cliCommand) usageLine() string {
	s := "gatehouse " + c.name
	if len(c.args) > 0 {
		s += " " + strings.Join(c.args, " ")
	}
	return s + " [flags]"
}

// RunCLI runs one gatehouse command other than serve, version and help;
// args[0] is the command word ("user", "backup"). It returns the exit
// status: 0 on success, 1 with a one-line reason on stderr, 2 for a command
// line that cannot be run. While the panel runs on the same data directory
// the command runs inside it, through the control socket; otherwise it opens
// the database directly, and never creates one.
func RunCLI(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runCLI(ctx, args, cliEnv{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv})
}

func runCLI(ctx context.Context, args []string, env cliEnv) int {
	if env.stdin == nil {
		env.stdin = strings.NewReader("")
	}
	cmd, rest, help, err := findCommand(args)
	switch {
	case help != "":
		fmt.Fprint(env.stdout, help)
		return 0
	case err != nil:
		fmt.Fprintf(env.stderr, "gatehouse: %v\n", err)
		return 1
	}
	inv, err := parseInvocation(cmd, rest, env)
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprint(env.stdout, commandHelp(cmd))
		return 0
	}
	if err != nil {
		// One line, as the contract asks of every failure.
		fmt.Fprintf(env.stderr, "gatehouse: %v; usage: %s\n", err, cmd.usageLine())
		return 1
	}
	defer inv.close()
	if cmd.client != nil {
		return report(env.stderr, cmd.client(ctx, inv))
	}
	req := cliRequest{Command: cmd.name, Args: inv.args, Flags: requestFlags(inv.flags)}
	if cmd.password {
		stdinFlag, _ := inv.flags.GetBool("password-stdin")
		pw, err := readNewPassword(env, stdinFlag, inv.args[0])
		if err != nil {
			return report(env.stderr, err)
		}
		req.Password = []byte(pw)
	}
	// The password is read before the database is reached, so that a
	// person typing at the prompt never holds the database lock.
	if err := inv.connect(ctx); err != nil {
		return report(env.stderr, err)
	}
	res, err := inv.target.exec(ctx, req)
	if err != nil {
		return report(env.stderr, err)
	}
	io.WriteString(env.stdout, res.Stdout)
	io.WriteString(env.stderr, res.Stderr)
	return res.Code
}

// report prints err as a one-line reason and returns the exit status: 0
// for no error, else 1 (the contract's status for every failure, usage
// errors included).
func report(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse: %s\n", cliMessage(err))
	return 1
}

// findCommand finds the table entry named by the leading command words. It
// returns a help text instead when help was asked for a command group.
func findCommand(args []string) (cmd *cliCommand, rest []string, help string, err error) {
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
	for _, c := range cliCommands {
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
	for _, c := range cliCommands {
		if strings.HasPrefix(c.name, word+" ") {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSuffix(c.usageLine(), " [flags]"), c.summary)
		}
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nRun 'gatehouse %s COMMAND --help' for a command's flags.\n", word)
	return b.String()
}

func commandHelp(c *cliCommand) string {
	fs := c.newFlagSet()
	addClientFlags(c, fs, func(string) string { return "" })
	return fmt.Sprintf("Usage: %s\n\n%s.\n\nFlags:\n%s", c.usageLine(), c.summary, fs.FlagUsages())
}

// addClientFlags adds the flags that stay in the calling process.
func addClientFlags(c *cliCommand, fs *pflag.FlagSet, getenv func(string) string) {
	fs.String("data", getenv("GATEHOUSE_DATA"), "data directory (default $GATEHOUSE_DATA, else /var/lib/gatehouse when it holds a database, else ./data)")
	if c.password {
		fs.Bool("password-stdin", false, "read the password from the first line of standard input instead of prompting")
	}
}

// parseInvocation parses the command line of c in the calling process.
func parseInvocation(c *cliCommand, args []string, env cliEnv) (*cliInvocation, error) {
	fs := c.newFlagSet()
	addClientFlags(c, fs, env.getenv)
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
	return &cliInvocation{args: fs.Args(), flags: fs, dataDir: dir, env: env}, nil
}

// requestFlags collects the command's own flags that were set, by name.
func requestFlags(fs *pflag.FlagSet) map[string][]string {
	out := map[string][]string{}
	fs.Visit(func(f *pflag.Flag) {
		if cliClientFlags[f.Name] {
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

// connect reaches the database: through the running panel when it answers
// on the control socket, else by opening the file.
func (inv *cliInvocation) connect(ctx context.Context) error {
	t, err := connectTarget(ctx, inv.dataDir, inv.env.open)
	if err != nil {
		return err
	}
	inv.target = t
	return nil
}

func (inv *cliInvocation) close() {
	if inv.target != nil {
		inv.target.close()
	}
}

// cliTarget is where the database is open: this process or the panel's.
type cliTarget interface {
	exec(ctx context.Context, req cliRequest) (cliResult, error)
	backup(ctx context.Context, w io.Writer) (int64, error)
	close() error
}

// localTarget runs commands on a store this process opened.
type localTarget struct{ store *model.Store }

func (l localTarget) exec(ctx context.Context, req cliRequest) (cliResult, error) {
	return cliExecute(ctx, l.store, req), nil
}

func (l localTarget) backup(_ context.Context, w io.Writer) (int64, error) { return l.store.Backup(w) }

func (l localTarget) close() error { return l.store.Close() }

// connectTarget tries the control socket in dir, then the database file.
func connectTarget(ctx context.Context, dir string, opts model.Options) (cliTarget, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(abs, ControlSocketName)
	var sockErr error
	// A path over the limit cannot have a listener: the panel refuses to
	// start with one.
	if len(sock) < sunPathMax {
		rt := newRemoteTarget(sock)
		err := rt.ping(ctx)
		if err == nil {
			return rt, nil
		}
		rt.close()
		switch {
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOTDIR):
			// Nobody listens (no socket, or one left by a crash).
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			sockErr = fmt.Errorf("control socket %s: permission denied; run this command as the user that runs gatehouse serve, or as root", sock)
		case errors.Is(err, context.DeadlineExceeded):
			return nil, fmt.Errorf("the panel did not answer on its control socket %s in time", sock)
		default:
			// The panel closes connections from other users at once.
			return nil, fmt.Errorf("the panel did not answer on its control socket %s: %v; run this command as the user that runs gatehouse serve, or as root", sock, plainNetError(err))
		}
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = cliLockTimeout
	}
	opts.Create = false // only serve creates a database
	store, err := model.Open(abs, opts)
	if err != nil {
		if sockErr != nil {
			return nil, fmt.Errorf("%w; %v", err, sockErr)
		}
		if errors.Is(err, model.ErrNoDatabase) {
			return nil, fmt.Errorf("%w; start gatehouse serve there once, or pass --data", err)
		}
		return nil, err
	}
	return localTarget{store}, nil
}

// cliExecute runs req against store; the panel's control socket and a CLI
// that opened the database itself both call it.
func cliExecute(ctx context.Context, store *model.Store, req cliRequest) cliResult {
	var stdout, stderr bytes.Buffer
	code := report(&stderr, cliRun(ctx, store, req, &stdout))
	return cliResult{Stdout: stdout.String(), Stderr: stderr.String(), Code: code}
}

func cliRun(ctx context.Context, store *model.Store, req cliRequest, out io.Writer) error {
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
	return cmd.run(ctx, &cliCall{store: store, args: req.Args, flags: fs, password: string(req.Password), out: out})
}

// setFlag sets a flag from a request the way parsing the command line set it
// in the client.
func setFlag(fs *pflag.FlagSet, name string, vals []string) error {
	f := fs.Lookup(name)
	if f == nil || cliClientFlags[name] {
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

// cliMessage is the one-line reason shown for err.
func cliMessage(err error) string {
	var msg string
	switch {
	case errors.Is(err, model.ErrLastUser):
		msg = "cannot delete the last user; create another user first"
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

// readNewPassword reads a new password for user: the first line of stdin
// with --password-stdin, else a no-echo prompt on the terminal, asked twice.
func readNewPassword(env cliEnv, fromStdin bool, user string) (string, error) {
	if fromStdin {
		// Bounded: the password rules refuse anything this long anyway.
		line, err := bufio.NewReader(io.LimitReader(env.stdin, 4*model.MaxSecretInput)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		if line == "" {
			return "", errors.New("--password-stdin: standard input is empty")
		}
		line = strings.TrimSuffix(line, "\n")
		return strings.TrimSuffix(line, "\r"), nil
	}
	f, ok := env.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("no terminal for the password prompt; use --password-stdin")
	}
	pw, err := promptPassword(f, env.stderr, "New password for "+user+": ")
	if err != nil {
		return "", err
	}
	again, err := promptPassword(f, env.stderr, "Repeat the password: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the passwords do not match")
	}
	return pw, nil
}

// promptPassword reads one line from the terminal without echo. Ctrl-C at
// the prompt would otherwise leave the terminal with echo off, so the
// terminal state is restored before the signal is delivered again.
func promptPassword(tty *os.File, w io.Writer, prompt string) (string, error) {
	fd := int(tty.Fd())
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("password prompt: %w", err)
	}
	sig := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-sig:
			term.Restore(fd, state)
			fmt.Fprintln(w)
			signal.Stop(sig)
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				p.Signal(s)
			}
		case <-done:
		}
	}()
	defer func() { signal.Stop(sig); close(done) }()
	fmt.Fprint(w, prompt)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(w)
	if err != nil {
		return "", fmt.Errorf("password prompt: %w", err)
	}
	return string(b), nil
}

// userNamed looks a user up for a command, with a message naming it.
func userNamed(store *model.Store, name string) (model.User, error) {
	u, err := store.UserByName(name)
	if errors.Is(err, model.ErrNotFound) {
		return model.User{}, fmt.Errorf("no user named %q", name)
	}
	return u, err
}

func runUserList(_ context.Context, call *cliCall) error {
	users, err := call.store.Users()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(call.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\t2FA\tPASSKEYS\tCREATED")
	for _, u := range users {
		twoFA := "off"
		if u.TOTPEnabled {
			twoFA = "on"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", u.ID, u.Username, u.Email, twoFA, u.Passkeys, u.CreatedAt.UTC().Format(time.RFC3339))
	}
	return tw.Flush()
}

func runUserAdd(ctx context.Context, call *cliCall) error {
	email, _ := call.flags.GetString("email")
	u, err := call.store.CreateUser(ctx, model.NewUser{Username: call.args[0], Password: call.password, Email: email}, model.CLIActor)
	if err != nil {
		return err
	}
	fmt.Fprintf(call.out, "user %s created (id %d)\n", u.Username, u.ID)
	return nil
}

func runUserPasswd(ctx context.Context, call *cliCall) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	// No session to keep: the CLI has none, so all of them end.
	if err := call.store.SetPassword(ctx, u.ID, call.password, "", model.CLIActor); err != nil {
		return err
	}
	fmt.Fprintf(call.out, "password of %s changed; all of their sessions were ended\n", u.Username)
	return nil
}

func runUserDelete(_ context.Context, call *cliCall) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	if err := call.store.DeleteUser(u.ID, model.CLIActor); err != nil {
		return err
	}
	fmt.Fprintf(call.out, "user %s deleted\n", u.Username)
	return nil
}

func runUser2FAOff(_ context.Context, call *cliCall) error {
	u, err := userNamed(call.store, call.args[0])
	if err != nil {
		return err
	}
	if !u.TOTPEnabled {
		fmt.Fprintf(call.out, "two-factor authentication of %s was already off\n", u.Username)
		return nil
	}
	if err := call.store.DisableTOTP(u.ID, model.CLIActor); err != nil {
		return err
	}
	fmt.Fprintf(call.out, "two-factor authentication of %s is off; its secret and recovery codes were deleted\n", u.Username)
	return nil
}

// runBackup writes a consistent copy of the database to FILE. The copy is
// one bbolt read transaction, taken in whichever process holds the database
// and streamed here; this process writes the file, so FILE is resolved
// against the caller's working directory and owned by the caller.
func runBackup(ctx context.Context, inv *cliInvocation) error {
	file := inv.args[0]
	force, _ := inv.flags.GetBool("force")
	if err := checkBackupFile(file, force, inv.dataDir); err != nil {
		return err
	}
	if err := inv.connect(ctx); err != nil {
		return err
	}
	n, err := writeBackup(file, func(w io.Writer) (int64, error) { return inv.target.backup(ctx, w) })
	if err != nil {
		return err
	}
	fmt.Fprintf(inv.env.stdout, "backup written to %s (%d bytes)\n", file, n)
	return nil
}

// checkBackupFile refuses a FILE that would be overwritten without --force,
// and the live database itself: renaming over it would cut the panel off
// from its own file.
func checkBackupFile(file string, force bool, dataDir string) error {
	fi, err := os.Stat(file)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory; name the backup file", file)
	case !force:
		return fmt.Errorf("%s exists; use --force to overwrite", file)
	}
	if db, err := os.Stat(filepath.Join(dataDir, model.DBFile)); err == nil && os.SameFile(fi, db) {
		return fmt.Errorf("%s is the database itself; write the backup elsewhere", file)
	}
	return nil
}

// writeBackup writes what src produces to file through FILE.partial-XXXX
// in the same directory (mode 0600, synced, then renamed into place), so
// that FILE is never a half-written copy. On failure the partial file is
// removed.
func writeBackup(file string, src func(io.Writer) (int64, error)) (n int64, err error) {
	f, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".partial-*")
	if err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp uses 0600 already; say so explicitly, since the copy holds
	// every password hash.
	if err := f.Chmod(0o600); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
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
	if err := os.Rename(tmp, file); err != nil {
		return 0, fmt.Errorf("backup: %w", err)
	}
	// Make the rename itself durable; some file systems cannot sync a
	// directory, and the file is complete either way.
	if d, err := os.Open(filepath.Dir(file)); err == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}
