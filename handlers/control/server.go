package control

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
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-panel/gatehouse/model"
)

// tmpDirName holds the socket between bind and rename. Its path plus "/s"
// is no longer than the socket's own path, so the length check on the
// final path covers both.
const tmpDirName = ".sock.tmp"

// Server is the panel's end of the control socket.
type Server struct {
	store *model.Store
	exec  ExecFunc
	path  string
	ln    *net.UnixListener
	srv   *http.Server
	// allow decides which peer uids may connect.
	allow func(uid uint32) bool
	log   *slog.Logger
	once  sync.Once
	err   error
}

// Listen creates the control socket <data dir>/gatehouse.sock for store,
// mode 0600 from the start, replacing a socket left by a crash; exec runs
// the commands that arrive. It refuses when the path exceeds the Unix
// socket limit or another process answers on it.
func Listen(store *model.Store, exec ExecFunc) (*Server, error) {
	dir, err := filepath.Abs(store.Dir())
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	path := filepath.Join(dir, SocketName)
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
	s := &Server{
		store: store,
		exec:  exec,
		path:  path,
		ln:    ln,
		allow: func(uid uint32) bool { return peerAllowed(uid, own) },
		log:   slog.Default(),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ping", s.handlePing)
	mux.HandleFunc("POST /v1/exec", s.handleExec)
	mux.HandleFunc("GET /v1/backup", s.handleBackup)
	s.srv = &http.Server{
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
	return s, nil
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
	tmpDir := filepath.Join(dir, tmpDirName)
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
func (s *Server) Path() string { return s.path }

// Serve answers CLI commands until ctx ends or Close is called. It returns
// nil after a shutdown.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	err := s.srv.Serve(&peerListener{ln: s.ln, s: s})
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Start serves in the background until the returned stop is called; stop
// closes the server (see Close) and returns what Serve or Close reported.
// It is what serve in main and the tests use.
func (s *Server) Start() (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			cancel()
			err = errors.Join(<-done, s.Close())
		})
		return err
	}
}

// Close stops accepting commands, waits up to 5 s for running ones (the
// caller closes the store next), and removes the socket file. Calls after
// the first wait for it and return its result.
func (s *Server) Close() error {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			s.srv.Close()
		}
		// Serve may never have run; then Shutdown knew no listener.
		s.ln.Close()
		if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.err = fmt.Errorf("remove control socket: %w", err)
		}
	})
	return s.err
}

type peerUIDKey struct{}

// peerConn is an accepted connection with its peer's uid.
type peerConn struct {
	*net.UnixConn
	uid uint32
}

// peerListener admits only the peers that Server.allow accepts.
type peerListener struct {
	ln *net.UnixListener
	s  *Server
}

func (l *peerListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.ln.AcceptUnix()
		if err != nil {
			return nil, err
		}
		cred, err := peerCred(conn)
		if err != nil {
			l.s.log.Warn("control socket: cannot identify the peer; connection closed", "err", err)
			conn.Close()
			continue
		}
		if !l.s.allow(cred.Uid) {
			l.s.log.Warn("control socket: connection from another user refused", "uid", cred.Uid, "pid", cred.Pid)
			conn.Close()
			continue
		}
		return &peerConn{UnixConn: conn, uid: cred.Uid}, nil
	}
}

func (l *peerListener) Close() error   { return l.ln.Close() }
func (l *peerListener) Addr() net.Addr { return l.ln.Addr() }

func (s *Server) handlePing(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"status":"ok"}`)
}

func (s *Server) handleExec(w http.ResponseWriter, r *http.Request) {
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
	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	res := s.exec(r.Context(), s.store, req)
	uid, _ := r.Context().Value(peerUIDKey{}).(uint32)
	s.log.Info("cli command run through the control socket", "command", req.Command, "uid", uid, "code", res.Code)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

func (s *Server) handleBackup(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Trailer", backupBytesTrailer)
	n, err := s.store.Backup(w)
	if err != nil {
		s.log.Error("control socket: backup failed", "err", err)
		// Abort the connection so that the client sees a broken stream,
		// not a short file that looks complete.
		panic(http.ErrAbortHandler)
	}
	uid, _ := r.Context().Value(peerUIDKey{}).(uint32)
	s.log.Info("backup streamed through the control socket", "bytes", n, "uid", uid)
	w.Header().Set(backupBytesTrailer, strconv.FormatInt(n, 10))
}
