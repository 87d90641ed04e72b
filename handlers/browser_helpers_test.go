package handlers_test

// Helpers of the browser tests (package handlers_test, driving the panel
// in Chromium through handlers/internal/browsertest): the real panel on a
// real listener, and what the tests read back from its store.

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/handlers"
	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// startBrowserApp runs the real panel on a real listener with a fresh store
// and returns the store and the base URL (http://localhost:PORT: WebAuthn
// and our Origin check want a host name, not 127.0.0.1). Each option may
// change the store's options (a test clock). The handler is closed after
// the app shuts down, as Handler.Close asks: it writes the batched last
// uses of tokens before the store closes.
func startBrowserApp(t *testing.T, opts ...func(*model.Options)) (*model.Store, string) {
	t.Helper()
	return startBrowserAppAt(t, "localhost", opts...)
}

// startBrowserAppAt is startBrowserApp with the public URL at host
// (http://HOST:PORT), for tests at a name that the browser maps to the
// loopback itself (Chromium's --host-resolver-rules).
func startBrowserAppAt(t *testing.T, host string, opts ...func(*model.Options)) (*model.Store, string) {
	t.Helper()
	store := testkit.NewStore(t, opts...)
	if _, _, err := store.EnsureAdmin(context.Background(), testkit.AdminPassword); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	audit := model.NewAuditBuffer(store, time.Second)
	go audit.Run(ctx)
	t.Cleanup(func() { cancel(); audit.Wait() })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://%s:%d", host, ln.Addr().(*net.TCPAddr).Port)
	cfg := handlers.DefaultConfig()
	cfg.PublicURL, cfg.Version = base, "test"
	uses := model.NewTokenUseBuffer(store)
	h, err := handlers.New(store, cfg, audit, uses)
	if err != nil {
		t.Fatal(err)
	}
	// As in main: token last uses are written until the app has shut down
	// (the cleanup registered below runs first), then once more.
	usesCtx, stopUses := context.WithCancel(context.Background())
	go uses.Run(usesCtx)
	t.Cleanup(func() { stopUses(); uses.Wait() })
	app := h.App()
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	t.Cleanup(func() {
		_ = app.ShutdownWithTimeout(5 * time.Second)
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return store, base
}

// countAudit counts the audit events with action.
func countAudit(t *testing.T, store *model.Store, action string) int {
	t.Helper()
	events, _, err := store.AuditEvents(model.AuditFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Action == action {
			n++
		}
	}
	return n
}
