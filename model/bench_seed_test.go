package model

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestBenchSeed fills a data directory for scripts/bench.sh; it is skipped
// unless GATEHOUSE_BENCH_SEED names the directory. It lives in a test file
// so that nothing of it is in the binary: the benchmark measures the real
// binary on a real database, only built faster than through the API.
//
//   - GATEHOUSE_BENCH_USERS users in all: the admin "bench" (created as
//     any user is, with the default argon2id parameters) and members
//     user00002… that share the admin's password hash. Sharing one real
//     hash is what makes 10,000 users cheap without a weaker hasher.
//   - GATEHOUSE_BENCH_TOKENS access tokens spread over the users, one of
//     them the admin's, written to seed.json for the benchmark's requests.
//
// Everything is written in a few large transactions (one fsync each).
func TestBenchSeed(t *testing.T) {
	dir := os.Getenv("GATEHOUSE_BENCH_SEED")
	if dir == "" {
		t.Skip("GATEHOUSE_BENCH_SEED is not set: only scripts/bench.sh runs this")
	}
	users := envInt(t, "GATEHOUSE_BENCH_USERS", 10)
	tokens := envInt(t, "GATEHOUSE_BENCH_TOKENS", 10)
	const password = "bench-Password-1"
	start := time.Now()
	s, err := Open(dir, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	admin, err := s.CreateUser(context.Background(), NewUser{Username: "bench", Password: password, Email: "bench@example.com", Role: RoleAdmin}, CLIActor)
	if err != nil {
		t.Fatal(err)
	}
	if err := seedUsers(s, admin, users); err != nil {
		t.Fatal(err)
	}
	const batch = 5000
	exp := NewToken{ExpiresAt: s.Now().AddDate(1, 0, 0), Scope: TokenScopeWrite}
	var value string
	for first := 0; first < tokens; first += batch {
		err := s.Update(func(tx *Tx) error {
			for i := first; i < first+batch && i < tokens; i++ {
				v, _, err := tx.CreateToken(1+i%users, exp, CLIActor)
				if err != nil {
					return err
				}
				if i == 0 {
					value = v
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	out, err := json.Marshal(map[string]string{"username": "bench", "password": password, "token": value})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "seed.json"), out, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d users and %d tokens in %v", users, tokens, time.Since(start).Round(time.Millisecond))
}

// seedUsers adds members user00002… up to n users in all, sharing like's
// password hash, in transactions of 5,000.
func seedUsers(s *Store, like User, n int) error {
	const batch = 5000
	for first := 2; first <= n; first += batch {
		err := s.Update(func(tx *Tx) error {
			for i := first; i < first+batch && i <= n; i++ {
				name := fmt.Sprintf("user%05d", i)
				u := User{Username: name, UsernameKey: name, Email: name + "@example.com", PasswordHash: like.PasswordHash,
					CreatedAt: like.CreatedAt, PasswordChangedAt: like.CreatedAt, Role: RoleMember}
				if err := tx.n.Save(&u); err != nil {
					return fmt.Errorf("save user %s: %w", name, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// TestBenchHash prints the median time of GATEHOUSE_BENCH_HASH argon2id
// hashes with the default parameters, the reference of the benchmark's
// login figure (scripts/bench.sh); skipped unless that is set.
func TestBenchHash(t *testing.T) {
	if os.Getenv("GATEHOUSE_BENCH_HASH") == "" {
		t.Skip("GATEHOUSE_BENCH_HASH is not set: only scripts/bench.sh runs this")
	}
	n := envInt(t, "GATEHOUSE_BENCH_HASH", 9)
	h := NewHasher(DefaultArgon2)
	times := make([]time.Duration, n)
	for i := range times {
		start := time.Now()
		if _, err := h.Hash(context.Background(), "bench-Password-1"); err != nil {
			t.Fatal(err)
		}
		times[i] = time.Since(start)
	}
	slices.Sort(times)
	fmt.Printf("hash_median_ms %.3f\n", float64(times[n/2].Microseconds())/1000)
}
