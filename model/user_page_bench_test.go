package model

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkUsersPage measures the first page of 10 users with 10 and with
// 10,000 users stored, and a search among 10,000 (the store's side of
// GET /api/v1/users and the User tab). The interleaved run alternates the
// two stores in one loop so that machine drift hits both alike;
// 10k/10-rate is the 10,000-user store's rate as a fraction of the small
// one's (aim: ≥ 0.8). Directory is the cost of decoding 10,000 users
// again after a write to them.
func BenchmarkUsersPage(b *testing.B) {
	stores := map[int]*Store{}
	for _, n := range []int{10, 10_000} {
		s, err := Open(b.TempDir(), Options{Create: true, Argon2: &Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		admin, err := s.CreateUser(context.Background(), NewUser{Username: "bench", Password: "bench-Password-1", Email: "bench@example.com"}, CLIActor)
		if err != nil {
			b.Fatal(err)
		}
		if err := seedUsers(s, admin, n); err != nil {
			b.Fatal(err)
		}
		stores[n] = s
	}
	first := UserQuery{Page: 1, PerPage: 10}
	page := func(b *testing.B, n int, q UserQuery) {
		if _, err := stores[n].UsersPage(q); err != nil {
			b.Fatal(err)
		}
	}
	for _, n := range []int{10, 10_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				page(b, n, first)
			}
		})
	}
	b.Run("search/10000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			page(b, 10_000, UserQuery{Search: "user09", Page: 1, PerPage: 10})
		}
	})
	b.Run("directory/10000", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			stores[10_000].userGen.Add(1)
			page(b, 10_000, first)
		}
	})
	b.Run("interleaved", func(b *testing.B) {
		var small, big time.Duration
		for b.Loop() {
			t0 := time.Now()
			page(b, 10, first)
			t1 := time.Now()
			page(b, 10_000, first)
			small += t1.Sub(t0)
			big += time.Since(t1)
		}
		b.ReportMetric(float64(small.Nanoseconds())/float64(b.N), "10-ns/op")
		b.ReportMetric(float64(big.Nanoseconds())/float64(b.N), "10k-ns/op")
		b.ReportMetric(float64(small)/float64(big), "10k/10-rate")
	})
}
