// Package control is the panel's control socket: it lets CLI commands run
// inside a running panel, because bbolt's file lock admits one process,
// read-only opens included. It is HTTP over a Unix socket in the data
// directory:
//
//	GET  /v1/ping    is a panel answering here?
//	POST /v1/exec    Request (JSON) → Result (JSON)
//	GET  /v1/backup  a compacted copy of the database as one consistent
//	                 stream (model.Store.Backup); the byte count follows as
//	                 a trailer, and a failure aborts the stream
//
// Trust goes both ways. The server admits only its own user and root: the
// socket is mode 0600 and each peer's uid is checked with SO_PEERCRED as
// well. The client talks only to a server running as root or as the data
// directory's owner, checked with SO_PEERCRED before it sends a byte, so a
// socket planted in a misconfigured data directory cannot collect a
// password.
//
// The package does not know the commands: the server runs each request
// through the ExecFunc that main hands it (the CLI's), and the CLI is the
// client's only caller.
package control

import (
	"context"
	"net"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-panel/gatehouse/model"
)

// SocketName is the control socket's file name in the data directory.
const SocketName = "gatehouse.sock"

// sunPathMax is the size of sockaddr_un.sun_path on Linux; a path needs one
// byte less, for the terminating NUL.
const sunPathMax = 108

// backupBytesTrailer carries the byte count of a backup stream, so that the
// client can tell a complete copy from one cut short.
const backupBytesTrailer = "Gatehouse-Backup-Bytes"

// Request is a parsed CLI command with its password read, ready to run
// where the database is open.
type Request struct {
	Command string              `json:"command"`
	Args    []string            `json:"args"`
	Flags   map[string][]string `json:"flags,omitempty"`
	// Password is bytes, not a string: encoding/json would silently turn
	// invalid UTF-8 into U+FFFD, and the password rules must see exactly
	// what was typed.
	Password []byte `json:"password,omitempty"`
}

// Result is a command's outcome: its output and exit status.
type Result struct {
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Code   int    `json:"code"`
}

// ExecFunc runs one request against the open store and returns its
// outcome. The CLI provides it; the server only carries requests to it.
type ExecFunc func(ctx context.Context, store *model.Store, req Request) Result

// peerCred returns the credentials the kernel recorded for the other end
// of conn (SO_PEERCRED), which that end cannot forge: for an accepted
// connection the client's at connect time, for a dialled one the server's
// at listen time.
func peerCred(conn *net.UnixConn) (*unix.Ucred, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, credErr
}
