package model

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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

// TestBenchLogin is the benchmark's login figure (scripts/bench.sh);
// skipped unless GATEHOUSE_BENCH_LOGIN names the server's URL. It
// alternates a password login of the seeded admin through POST /login and
// one argon2id hash with the default parameters here, so that the noise
// of a shared machine falls on both alike, and prints both medians.
func TestBenchLogin(t *testing.T) {
	base := os.Getenv("GATEHOUSE_BENCH_LOGIN")
	if base == "" {
		t.Skip("GATEHOUSE_BENCH_LOGIN is not set: only scripts/bench.sh runs this")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"username": {"bench"}, "password": {"bench-Password-1"}}.Encode()
	h := NewHasher(DefaultArgon2)
	const n = 11
	var logins, hashes []time.Duration
	for range n {
		start := time.Now()
		resp, err := client.Post(base+"/login", "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %s", resp.Status)
		}
		logins = append(logins, time.Since(start))
		start = time.Now()
		if _, err := h.Hash(context.Background(), "bench-Password-1"); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, time.Since(start))
	}
	ms := func(d []time.Duration) float64 { slices.Sort(d); return float64(d[n/2].Microseconds()) / 1000 }
	fmt.Printf("login_median_ms %.3f\nhash_median_ms %.3f\n", ms(logins), ms(hashes))
}
