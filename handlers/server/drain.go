package server

import (
	"io"
	"net"
	"sync/atomic"
	"time"
)

// Draining a refused request body before closing.
//
// fasthttp refuses a body over Fiber's BodyLimit as soon as it reads the
// Content-Length, answers 413 and closes the connection, while a client
// that sends without waiting for "100 Continue" (Go's http.Client, most
// libraries) is still sending the body. Closing a socket with unread data
// makes the kernel send a reset, and the reset can destroy the answer
// before the client reads it: the client sees "connection reset by peer"
// instead of 413. The connections of our listeners therefore offer
// DrainBeforeClose (under TLS, on the *tls.Conn's NetConn): the error
// handler (handlers/errors.go) calls it for such a refusal, and Close then
// ends our side of the stream (the client reads the answer and an end of
// file), reads and discards what the client still sends, within
// drainMaxBytes and drainMaxTime, and only then closes: the "lingering
// close" of Apache and nginx.

const (
	// drainMaxBytes bounds what is read and discarded after a refusal.
	drainMaxBytes = 64 << 20
	// drainMaxTime bounds how long a refused connection is kept to drain;
	// a client slower than that may still see a reset.
	drainMaxTime = 5 * time.Second
)

// drainListener hands out connections that can drain before closing.
type drainListener struct{ net.Listener }

// Accept wraps the next connection.
func (l drainListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &drainConn{Conn: c}, nil
}

// drainConn is a connection that drains what the client still sends
// before closing, once DrainBeforeClose was called.
type drainConn struct {
	net.Conn
	drain atomic.Bool
}

// DrainBeforeClose makes Close read and discard what the client still
// sends (bounded) before closing, so that the client can read the answer
// to a request whose body was refused unread.
func (c *drainConn) DrainBeforeClose() { c.drain.Store(true) }

// Close closes the connection, draining it first when asked.
func (c *drainConn) Close() error {
	if c.drain.Load() {
		if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
			// The answer is written; the client's reader sees its end.
			_ = cw.CloseWrite()
		}
		_ = c.Conn.SetReadDeadline(time.Now().Add(drainMaxTime))
		_, _ = io.CopyN(io.Discard, c.Conn, drainMaxBytes)
	}
	return c.Conn.Close()
}
