package control

// Test helpers of the control socket: a real database in t.TempDir() (from
// the shared kit, model/testkit) and a Server in the test process, running
// requests through a fake ExecFunc that records what arrived.

import (
	"context"
	"sync"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

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
	s := testkit.OpenStore(t, dir)
	fe := &fakeExec{result: Result{Stdout: "done\n", Stderr: "note\n", Code: 3}}
	srv, err := Listen(s, fe.exec)
	if err != nil {
		s.Close()
		t.Fatalf("Listen: %v", err)
	}
	if prepare != nil {
		prepare(srv)
	}
	stopServer := srv.Start()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := stopServer(); err != nil {
				t.Errorf("control server: %v", err)
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
