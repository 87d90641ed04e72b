package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/gatehouse-panel/gatehouse/model"
)

// The control socket lets CLI commands run inside the panel while it holds
// the database: bbolt's file lock admits one process, read-only opens
// included. It is HTTP over a Unix socket in the data directory:
//
//	GET  /v1/ping    is a panel answering here?
//	POST /v1/exec    cliRequest (JSON) → cliResult (JSON)
//	GET  /v1/backup  the database as one consistent stream; the byte count
//	                 follows as a trailer, and a failure aborts the stream
//
// Only the panel's own user and root may connect: the socket is mode 0600
// and each peer's uid is checked with SO_PEERCRED as well.

// ControlSocketName is the control socket's file name in the data directory.
const ControlSocketName = "gatehouse.sock"

// sunPathMax is the size of sockaddr_un.sun_path on Linux; a path needs one
// byte less, for the terminating NUL.
const sunPathMax = 108

// controlTmpDir holds the socket between bind and rename. Its path plus
// "/s" is no longer than the socket's own path, so the length check on the
// final path covers both.
const controlTmpDir = ".sock.tmp"

const backupBytesTrailer = "Gatehouse-Backup-Bytes"

// Control is the panel's end of the control socket.
type Control struct {
	store *model.Store
	path  string
	ln    *net.UnixListener
	srv   *http.Server
	// allow decides which peer uids may connect.
	allow func(uid uint32) bool
	log   *slog.Logger
	once  sync.Once
	err   error
}

// ListenControl creates the control socket <data dir>/gatehouse.sock for
// store, mode 0600 from the start, replacing a socket left by a crash. It
// refuses when the path exceeds the Unix socket limit or another process
// answers on it.
func ListenControl(store *model.Store) (*Control, error) {
	dir, err := filepath.Abs(store.Dir())
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	path := filepath.Join(dir, ControlSocketName)
	if len(path) >= sunPathMax {
		return nil, fmt.Errorf("control socket path %s is %d bytes long, over the limit of %d for Unix sockets: use a shorter --data directory", path, len(path), sunPathMax-1)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	ln, err := listenPrivate(dir, path)
	if err != nil {
		return nil, err
	}
	own := uint32(os.Getuid())
	c := &Control{
		store: store,
		path:  path,
		ln:    ln,
		allow: func(uid uint32) bool { return peerAllowed(uid, own) },
		log:   slog.Default(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ping", c.handlePing)
	mux.HandleFunc("POST /v1/exec", c.handleExec)
	mux.HandleFunc("GET /v1/backup", c.handleBackup)
	c.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		// No write timeout: a backup of a large database streams for long.
		IdleTimeout: time.Minute,
		ConnContext: func(ctx context.Context, conn net.Conn) context.Context {
			if pc, ok := conn.(*peerConn); ok {
				ctx = context.WithValue(ctx, peerUIDKey{}, pc.uid)
			}
			return ctx
		},
		ErrorLog: slog.NewLogLogger(slog.Default().Handler(), slog.LevelWarn),
	}
	return c, nil
}

// peerAllowed admits root and the panel's own user: both can read the
// database file anyway.
func peerAllowed(uid, own uint32) bool { return uid == 0 || uid == own }

// removeStaleSocket removes a leftover socket file that nobody answers on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.IsDir() {
		return fmt.Errorf("control socket path %s is a directory; remove it", path)
	}
	// serve holds the database lock, so a second panel cannot be running;
	// still, never take a socket that someone answers on.
	if conn, err := net.DialTimeout("unix", path, time.Second); err == nil {
		conn.Close()
		return fmt.Errorf("another process is listening on the control socket %s", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale control socket: %w", err)
	}
	slog.Info("removed a stale control socket", "path", path)
	return nil
}

// listenPrivate binds the socket inside a fresh 0700 directory, makes it
// 0600, and renames it into place, so that no moment exists in which others
// could connect. Changing the umask instead would affect every file other
// goroutines create meanwhile, because the umask belongs to the process.
func listenPrivate(dir, path string) (*net.UnixListener, error) {
	tmpDir := filepath.Join(dir, controlTmpDir)
	// A crash between bind and rename leaves the directory behind.
	if err := os.RemoveAll(tmpDir); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Mkdir(tmpDir, 0o700); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// The file moves; Close removes it by its final name instead.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// Path returns the socket's path.
func (c *Control) Path() string { return c.path }

// Serve answers CLI commands until ctx ends or Close is called. It returns
// nil after a shutdown.
func (c *Control) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	err := c.srv.Serve(&peerListener{ln: c.ln, c: c})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops accepting commands, waits up to 5 s for running ones (the
// caller closes the store next), and removes the socket file. Calls after
// the first wait for it and return its result.
func (c *Control) Close() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.srv.Shutdown(ctx); err != nil {
			c.srv.Close()
		}
		// Serve may never have run; then Shutdown knew no listener.
		c.ln.Close()
		if err := os.Remove(c.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.err = fmt.Errorf("remove control socket: %w", err)
		}
	})
	return c.err
}

type peerUIDKey struct{}

// peerConn is an accepted connection with its peer's uid.
type peerConn struct {
	*net.UnixConn
	uid uint32
}

// peerListener admits only the peers that Control.allow accepts.
type peerListener struct {
	ln *net.UnixListener
	c  *Control
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.ln.AcceptUnix()
		if err != nil {
			return nil, err
		}
		cred, err := peerCred(conn)
		if err != nil {
			l.c.log.Warn("control socket: cannot identify the peer; connection closed", "err", err)
			conn.Close()
			continue
		}
		if !l.c.allow(cred.Uid) {
			l.c.log.Warn("control socket: connection from another user refused", "uid", cred.Uid, "pid", cred.Pid)
			conn.Close()
			continue
		}
		return &peerConn{UnixConn: conn, uid: cred.Uid}, nil
	}
}

func (l *peerListener) Close() error   { return l.ln.Close() }
func (l *peerListener) Addr() net.Addr { return l.ln.Addr() }

// peerCred returns the credentials the kernel recorded for the peer at
// connect time (SO_PEERCRED), which the peer cannot forge.
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

func (c *Control) handlePing(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ok"}`)
}

func (c *Control) handleExec(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "request too large or unreadable", http.StatusBadRequest)
		return
	}
	// encoding/json would silently replace invalid UTF-8.
	if !utf8.Valid(body) {
		http.Error(w, "request is not valid UTF-8", http.StatusBadRequest)
		return
	}
	var req cliRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	res := cliExecute(r.Context(), c.store, req)
	uid, _ := r.Context().Value(peerUIDKey{}).(uint32)
	c.log.Info("cli command run through the control socket", "command", req.Command, "uid", uid, "code", res.Code)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

func (c *Control) handleBackup(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Trailer", backupBytesTrailer)
	n, err := c.store.Backup(w)
	if err != nil {
		c.log.Error("control socket: backup failed", "err", err)
		// Abort the connection so that the client sees a broken stream,
		// not a short file that looks complete.
		panic(http.ErrAbortHandler)
	}
	uid, _ := r.Context().Value(peerUIDKey{}).(uint32)
	c.log.Info("backup streamed through the control socket", "bytes", n, "uid", uid)
	w.Header().Set(backupBytesTrailer, strconv.FormatInt(n, 10))
}

// remoteTarget runs commands in the panel, over its control socket.
type remoteTarget struct {
	sock   string
	tr     *http.Transport
	client *http.Client
}

func newRemoteTarget(sock string) *remoteTarget {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		DisableCompression: true,
	}
	return &remoteTarget{sock: sock, tr: tr, client: &http.Client{Transport: tr}}
}

// The host part is ignored: every request goes to the socket.
const controlURL = "http://gatehouse"

// ping tells whether a panel answers on the socket.
func (t *remoteTarget) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, controlURL+"/v1/ping", nil)
	if err != nil {
		return err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unexpected answer %s", resp.Status)
	}
	return nil
}

func (t *remoteTarget) exec(ctx context.Context, creq cliRequest) (cliResult, error) {
	body, err := json.Marshal(creq)
	if err != nil {
		return cliResult{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, controlURL+"/v1/exec", bytes.NewReader(body))
	if err != nil {
		return cliResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return cliResult{}, t.wrap(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return cliResult{}, fmt.Errorf("the panel refused the command: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	var res cliResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&res); err != nil {
		return cliResult{}, t.wrap(err)
	}
	return res, nil
}

func (t *remoteTarget) backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, controlURL+"/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, t.wrap(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("the panel refused the backup: %s", resp.Status)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, t.wrap(err)
	}
	// The trailer arrives after the body; a stream that ended without it
	// was cut short.
	if want := resp.Trailer.Get(backupBytesTrailer); want != strconv.FormatInt(n, 10) {
		return n, fmt.Errorf("the backup stream from the panel ended early (%d bytes received, %q announced)", n, want)
	}
	return n, nil
}

func (t *remoteTarget) wrap(err error) error {
	return fmt.Errorf("control socket %s: %w", t.sock, plainNetError(err))
}

// plainNetError drops net/http's "Get URL:" prefix, which names a made-up
// URL, and the socket addresses, and says what an EOF means here.
func plainNetError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	// The addresses in a net.OpError are the socket's, named already (and
	// the panel's end shows the temporary name it was bound under).
	var oe *net.OpError
	if errors.As(err, &oe) {
		err = oe.Err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("the panel closed the connection (%w)", err)
	}
	return err
}

func (t *remoteTarget) close() error {
	t.tr.CloseIdleConnections()
	return nil
}
