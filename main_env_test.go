package main

import (
	"context"
	"os"
	"testing"

	"github.com/gatehouse-panel/gatehouse/model"
)

// TestEnsureAdminUnsetsPassword: the first admin's password from the
// environment is used and then removed from the process's environment, so
// nothing started later (a child process, a crash dump of the environment,
// a debug page) sees it; also when an admin already exists and the
// variable is not used.
func TestEnsureAdminUnsetsPassword(t *testing.T) {
	ctx := context.Background()
	store, err := model.Open(t.TempDir(), model.Options{Create: true,
		Argon2: &model.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	t.Setenv(adminPasswordEnv, "Env-pass-123")
	generated, created, err := ensureAdmin(ctx, store)
	if err != nil || !created || generated != "" {
		t.Fatalf("ensureAdmin: generated %q, created %v, err %v", generated, created, err)
	}
	if v, ok := os.LookupEnv(adminPasswordEnv); ok {
		t.Errorf("%s is still set (%q) after the admin was created", adminPasswordEnv, v)
	}
	if _, err := store.Authenticate(ctx, "admin", "Env-pass-123"); err != nil {
		t.Errorf("the admin does not have the password from the environment: %v", err)
	}

	t.Setenv(adminPasswordEnv, "Other-pass-456")
	if _, created, err := ensureAdmin(ctx, store); err != nil || created {
		t.Fatalf("second start: created %v, err %v", created, err)
	}
	if _, ok := os.LookupEnv(adminPasswordEnv); ok {
		t.Errorf("%s is still set after a start that did not need it", adminPasswordEnv)
	}
}
