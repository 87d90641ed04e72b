package model_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gatehouse-panel/gatehouse/model"
	"github.com/gatehouse-panel/gatehouse/model/testkit"
)

// BenchmarkTokenLookupDB measures the database lookup of a token and its
// user (what every API request with a token not in the lookup cache pays),
// with 10 and with 100,000 tokens stored, picking tokens at random so that
// the cache cannot help. The interleaved run alternates the two stores in
// one loop so that machine drift hits both alike.
func BenchmarkTokenLookupDB(b *testing.B) {
	stores := map[int]*model.Store{}
	keys := map[int][][]byte{}
	for _, n := range []int{10, 100_000} {
		s := testkit.NewStore(b)
		u := testkit.AddUser(b, s, "bench")
		exp := model.NewToken{ExpiresAt: s.Now().AddDate(1, 0, 0)}
		start := time.Now()
		err := s.Update(func(tx *model.Tx) error {
			for i := 0; i < n; i++ {
				v, _, err := tx.CreateToken(u.ID, exp, model.CLIActor)
				if err != nil {
					return err
				}
				keys[n] = append(keys[n], model.TokenKey(v))
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("stored %d tokens in one transaction in %v", n, time.Since(start).Round(time.Millisecond))
		stores[n] = s
	}
	rng := rand.New(rand.NewPCG(1, 2))
	lookup := func(n int) {
		k := keys[n][rng.IntN(len(keys[n]))]
		if _, _, err := stores[n].LookupToken(k); err != nil {
			b.Fatal(err)
		}
	}
	for _, n := range []int{10, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				lookup(n)
			}
		})
	}
	b.Run("interleaved", func(b *testing.B) {
		var small, big time.Duration
		for b.Loop() {
			t0 := time.Now()
			lookup(10)
			t1 := time.Now()
			lookup(100_000)
			small += t1.Sub(t0)
			big += time.Since(t1)
		}
		b.ReportMetric(float64(small.Nanoseconds())/float64(b.N), "10-ns/op")
		b.ReportMetric(float64(big.Nanoseconds())/float64(b.N), "100k-ns/op")
		b.ReportMetric((float64(big)/float64(small)-1)*100, "100k/10-slower-%")
	})
}
