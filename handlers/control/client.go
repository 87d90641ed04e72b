package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	// ErrNoServer means that nobody answers on the control socket: there
	// is none, one left by a crash, or its path is too long to have a
	// listener. The caller may open the database file itself.
	ErrNoServer = errors.New("no panel answers there")
	// ErrPermission means that this process may not open the control
	// socket. A panel may run there all the same; the caller may try the
	// database file, which is then locked.
	ErrPermission = errors.New("permission denied")
	// ErrUntrustedServer means that the socket is served by neither root
	// nor the data directory's owner. Nothing was sent to it.
	ErrUntrustedServer = errors.New("refusing to send it a command or a password")
)

// The host part is ignored: every request goes to the socket.
const baseURL = "http://gatehouse"

// Client is the CLI's end of the control socket: it runs commands in the
// panel that serves the socket.
type Client struct {
	dir    string // the data directory, absolute
	sock   string
	tr     *http.Transport
	client *http.Client
}

// Connect returns a client of the panel serving the control socket in
// dataDir. It fails with ErrNoServer when nobody answers there, with
// ErrPermission when this process may not open the socket, and with
// ErrUntrustedServer when the process answering is neither root nor the
// data directory's owner.
func Connect(ctx context.Context, dataDir string) (*Client, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	sock := filepath.Join(dir, SocketName)
	// A path over the limit cannot have a listener: the panel refuses to
	// start with one.
	if len(sock) >= sunPathMax {
		return nil, fmt.Errorf("control socket %s: path too long: %w", sock, ErrNoServer)
	}
	c := &Client{dir: dir, sock: sock}
	c.tr = &http.Transport{DialContext: c.dial, DisableCompression: true}
	c.client = &http.Client{Transport: c.tr}
	err = c.ping(ctx)
	if err == nil {
		return c, nil
	}
	c.Close()
	switch {
	case errors.Is(err, ErrUntrustedServer):
		return nil, plainNetError(err)
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOTDIR):
		// No socket, or one left by a crash.
		return nil, fmt.Errorf("control socket %s: %w", sock, ErrNoServer)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return nil, fmt.Errorf("control socket %s: %w; run this command as the user that runs gatehouse serve, or as root", sock, ErrPermission)
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("the panel did not answer on its control socket %s in time", sock)
	default:
		// The panel closes connections from other users at once.
		return nil, fmt.Errorf("the panel did not answer on its control socket %s: %v; run this command as the user that runs gatehouse serve, or as root", sock, plainNetError(err))
	}
}

// dial connects to the socket and checks who serves it before the
// transport writes anything on the connection.
func (c *Client) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.sock)
	if err != nil {
		return nil, err
	}
	if err := c.checkPeer(conn.(*net.UnixConn)); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// checkPeer refuses a server that runs as neither root nor the owner of
// the data directory. serve creates the data directory as its own user,
// so any other uid behind the socket means someone else put it there: a
// data directory writable by others lets them, and the next command would
// hand them a password.
func (c *Client) checkPeer(conn *net.UnixConn) error {
	cred, err := peerCred(conn)
	if err != nil {
		return fmt.Errorf("cannot identify the process serving it: %w", err)
	}
	fi, err := os.Stat(c.dir)
	if err != nil {
		// %v: a vanished directory must not read as "nobody listens".
		return fmt.Errorf("cannot tell who owns the data directory: %v", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("cannot tell who owns the data directory %s", c.dir)
	}
	return checkServer(c.sock, cred.Uid, st.Uid)
}

// checkServer decides whether the process with uid peer may receive
// commands sent to sock in a data directory owned by dirOwner: root and
// the directory's owner may (the one that runs serve), nobody else.
func checkServer(sock string, peer, dirOwner uint32) error {
	if peer == 0 || peer == dirOwner {
		return nil
	}
	return fmt.Errorf("control socket %s is served by uid %d, not by root or the data directory's owner (uid %d); %w", sock, peer, dirOwner, ErrUntrustedServer)
}

// ping tells whether a panel answers on the socket.
func (c *Client) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/v1/ping", nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
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

// Exec runs req in the panel and returns its outcome.
func (c *Client) Exec(ctx context.Context, creq Request) (Result, error) {
	body, err := json.Marshal(creq)
	if err != nil {
		return Result{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/exec", bytes.NewReader(body))
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return Result{}, c.wrap(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return Result{}, fmt.Errorf("the panel refused the command: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	var res Result
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&res); err != nil {
		return Result{}, c.wrap(err)
	}
	return res, nil
}

// Backup streams a consistent copy of the panel's database to w and
// returns its size. A stream cut short is an error.
func (c *Client) Backup(ctx context.Context, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/v1/backup", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, c.wrap(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("the panel refused the backup: %s", resp.Status)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, c.wrap(err)
	}
	// The trailer arrives after the body; a stream that ended without it
	// was cut short.
	if want := resp.Trailer.Get(backupBytesTrailer); want != strconv.FormatInt(n, 10) {
		return n, fmt.Errorf("the backup stream from the panel ended early (%d bytes received, %q announced)", n, want)
	}
	return n, nil
}

// Close releases the client's idle connections.
func (c *Client) Close() error {
	c.tr.CloseIdleConnections()
	return nil
}

func (c *Client) wrap(err error) error {
	if errors.Is(err, ErrUntrustedServer) {
		// The message names the socket already.
		return plainNetError(err)
	}
	return fmt.Errorf("control socket %s: %w", c.sock, plainNetError(err))
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
