package main

// Durability: the real binary is killed with SIGKILL while it takes
// concurrent API writes, and started again on the same data directory.
// Every write it acknowledged (a 2xx answer) must be there, and the
// database must open cleanly: the restart succeeds, the CLI reads it once
// the panel stops, and bbolt's own consistency check passes.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gatehouse-panel/gatehouse/model"
)

// crashWrites is what the panel acknowledged before it died.
type crashWrites struct {
	mu        sync.Mutex
	attempted map[string]bool // usernames sent
	users     map[int]string  // id → username, answered 201
	tokens    map[string]crashToken
	n         atomic.Int64 // acknowledged writes
	refused   atomic.Int64 // answers other than 201 (busy, …)
}

type crashToken struct {
	userID   int
	username string
	id       string
}

func TestBinaryCrashKeepsAcknowledgedWrites(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const (
		writers   = 8
		perWriter = 50                     // users per writer, each with a token: at most 800 writes
		killAfter = 60                     // acknowledged writes before the kill
		budget    = 45 * time.Second       // for the writes before the kill
		expiresIn = 30 * 24 * time.Hour    // of the tokens created
		userPass  = "Crash-pass-1"         // every user's password
		settle    = 200 * time.Millisecond // writes go on for this long after the count is reached
	)
	p := startFreshPanel(t)
	bin, data, addr, serve, admin := p.bin, p.data, p.addr, p.serve, p.adminToken

	c := newAPIClient(t, "http://"+addr, "")
	w := &crashWrites{attempted: map[string]bool{}, users: map[int]string{}, tokens: map[string]crashToken{}}

	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	var wg sync.WaitGroup
	for g := 0; g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter && ctx.Err() == nil; i++ {
				name := fmt.Sprintf("crash%d_%d", g, i)
				w.mu.Lock()
				w.attempted[name] = true
				w.mu.Unlock()
				status, out, err := c.call(ctx, "POST", "/api/v1/users", admin,
					map[string]string{"username": name, "password": userPass, "email": name + "@example.com"})
				if err != nil {
					return // killed
				}
				if status != http.StatusCreated {
					w.refused.Add(1)
					continue
				}
				fid, ok := out["id"].(float64)
				if !ok {
					t.Errorf("201 without an id: %v", out)
					return
				}
				id := int(fid)
				w.mu.Lock()
				w.users[id] = name
				w.mu.Unlock()
				w.n.Add(1)
				status, out, err = c.call(ctx, "POST", fmt.Sprintf("/api/v1/users/%d/tokens", id), admin,
					map[string]any{"ips": []string{}, "expires_at": time.Now().Add(expiresIn).UTC().Format(time.RFC3339)})
				if err != nil {
					return
				}
				if status != http.StatusCreated {
					w.refused.Add(1)
					continue
				}
				value, _ := out["token"].(string)
				tid, _ := out["id"].(string)
				if value == "" || tid == "" {
					t.Errorf("201 without a token value or id: %v", out)
					return
				}
				w.mu.Lock()
				w.tokens[value] = crashToken{userID: id, username: name, id: tid}
				w.mu.Unlock()
				w.n.Add(1)
			}
		}()
	}
	for w.n.Load() < killAfter && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Fatalf("only %d writes acknowledged in %v", w.n.Load(), budget)
	}
	time.Sleep(settle) // kill with writes in flight, not at a quiet moment
	serve.Kill(t)
	wg.Wait()
	cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("killed after %d acknowledged writes (%d users, %d tokens) from %d writers; %d other answers; %d users attempted",
		w.n.Load(), len(w.users), len(w.tokens), writers, w.refused.Load(), len(w.attempted))
	if len(w.attempted) >= writers*perWriter {
		t.Fatal("every write finished before the kill: nothing was in flight")
	}

	// Restart on the same directory (the crashed panel's socket is still
	// there) and read everything back through the API.
	addr = freeAddr(t)
	serve = serveBinary(t, bin, data, addr, "http://"+addr+"/healthz")
	c.base = "http://" + addr
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer rcancel()
	status, out, err := c.call(rctx, "GET", "/api/v1/users", admin, nil)
	if err != nil || status != 200 {
		t.Fatalf("list users after the restart: %d %v %v", status, out, err)
	}
	found := map[int]string{}
	for _, it := range out["items"].([]any) {
		u := it.(map[string]any)
		id, name := int(u["id"].(float64)), u["username"].(string)
		found[id] = name
		if name != "admin" && !w.attempted[name] {
			t.Errorf("user %q (id %d) was never written", name, id)
		}
		if name != "admin" && u["email"] != name+"@example.com" {
			t.Errorf("user %q has email %v", name, u["email"])
		}
	}
	for id, name := range w.users {
		if found[id] != name {
			t.Errorf("acknowledged user %q (id %d) is missing after the crash (id %d is %q)", name, id, id, found[id])
		}
	}
	for value, tok := range w.tokens {
		status, me, err := c.call(rctx, "GET", "/api/v1/me", value, nil)
		if err != nil || status != 200 || me["username"] != tok.username {
			t.Errorf("acknowledged token %s of %s does not work after the crash: %d %v %v", tok.id, tok.username, status, me, err)
		}
	}
	if t.Failed() {
		return
	}
	// The CLI goes through the restarted panel's socket.
	code, stdout, stderr := runBinary(t, bin, "", "user", "list", "--data", data)
	wantExit(t, "user list through the restarted panel", code, stdout, stderr, 0, "admin")

	// Stopped: the CLI opens the file itself, and bbolt finds no damage.
	stopServe(t, serve)
	code, stdout, stderr = runBinary(t, bin, "", "user", "list", "--data", data)
	wantExit(t, "user list after the restart", code, stdout, stderr, 0)
	for _, name := range w.users {
		if !strings.Contains(stdout, name) {
			t.Errorf("user list lacks %q", name)
		}
	}
	db, err := bolt.Open(filepath.Join(data, model.DBFile), 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("open the database: %v", err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}); err != nil {
		t.Errorf("bbolt consistency check: %v", err)
	}
}
