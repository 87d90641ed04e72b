package server

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDrainBeforeClose answers a large upload before reading it and closes
// the connection, as fasthttp does with a body over its limit, over plain
// TCP and under TLS (where the mark is found on the *tls.Conn's NetConn):
// the client, still sending, reads the answer instead of a reset.
func TestDrainBeforeClose(t *testing.T) {
	cert := testCert(t)
	for _, useTLS := range []bool{false, true} {
		name := "plain"
		if useTLS {
			name = "TLS"
		}
		t.Run(name, func(t *testing.T) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var ln net.Listener = drainListener{raw}
			if useTLS {
				ln = tls.NewListener(drainListener{raw}, tlsConfig(&tls.Config{Certificates: []tls.Certificate{cert}}))
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				// Read the headers only, answer, mark and close.
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					c.Close()
					return
				}
				io.WriteString(c, "HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbig\n")
				conn := c
				if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
					conn = tc.NetConn()
				}
				conn.(interface{ DrainBeforeClose() }).DrainBeforeClose()
				c.Close()
			}()
			scheme := "http"
			tr := &http.Transport{}
			if useTLS {
				scheme = "https"
				tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
			}
			client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
			defer tr.CloseIdleConnections()
			body := strings.NewReader(strings.Repeat("x", 20<<20))
			resp, err := client.Post(scheme+"://"+raw.Addr().String()+"/", "application/octet-stream", body)
			if err != nil {
				t.Fatalf("the client lost the answer: %v", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 413 {
				t.Errorf("status %d, want 413", resp.StatusCode)
			}
		})
	}
}
