package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/gatehouse-panel/gatehouse/model"
)

// readNewPassword reads a new password for user: the first line of stdin
// with --password-stdin, else a no-echo prompt on the terminal, asked twice.
func readNewPassword(e env, fromStdin bool, user string) (string, error) {
	if fromStdin {
		// Bounded: the password rules refuse anything this long anyway.
		line, err := bufio.NewReader(io.LimitReader(e.stdin, 4*model.MaxSecretInput)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password from standard input: %w", err)
		}
		if line == "" {
			return "", errors.New("--password-stdin: standard input is empty")
		}
		line = strings.TrimSuffix(line, "\n")
		return strings.TrimSuffix(line, "\r"), nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("no terminal for the password prompt; use --password-stdin")
	}
	pw, err := promptPassword(f, e.stderr, "New password for "+user+": ")
	if err != nil {
		return "", err
	}
	again, err := promptPassword(f, e.stderr, "Repeat the password: ")
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
