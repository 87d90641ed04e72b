package control

// Test helpers of the control socket: a real database in t.TempDir() and
// a Server in the test process, running requests through a fake ExecFunc
// that records what arrived.

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
)

// testArgon2 keeps hashing fast under -race.
var testArgon2 = &model.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// openStore opens (creating) the database in dir as the panel would.
func openStore(t *testing.T, dir string) *model.Store {
	t.Helper()
	s, err := model.Open(dir, model.Options{Create: true, Argon2: testArgon2})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	return s
}

// fakeExec records the requests it gets and answers each with result.
type fakeExec struct {
	mu     sync.Mutex
	reqs   []Request
	stores []*model.Store
	result Result
}

func (f *fakeExec) exec(_ context.Context, store *model.Store, req Request) Result {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, req)
	f.stores = append(f.stores, store)
	return f.result
}

// testServer is a running control socket over a real store.
type testServer struct {
	dir   string
	store *model.Store
	srv   *Server
	exec  *fakeExec
	stop  func() // cancels Serve, waits for it and closes the store
}

// startServer opens the database in dir and serves its control socket
// until the test ends. prepare may change the Server before it serves.
func startServer(t *testing.T, dir string, prepare func(*Server)) *testServer {
	t.Helper()
	s := openStore(t, dir)
	fe := &fakeExec{result: Result{Stdout: "done\n", Stderr: "note\n", Code: 3}}
	srv, err := Listen(s, fe.exec)
	if err != nil {
		s.Close()
		t.Fatalf("Listen: %v", err)
	}
	if prepare != nil {
		prepare(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			if err := srv.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			s.Close()
		})
	}
	t.Cleanup(stop)
	return &testServer{dir: dir, store: s, srv: srv, exec: fe, stop: stop}
}

// connect connects a client to the socket in dir; the test fails if no
// panel answers there.
func connect(t *testing.T, dir string) *Client {
	t.Helper()
	c, err := Connect(context.Background(), dir)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// logSink is a log sink safe for the server's goroutines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
