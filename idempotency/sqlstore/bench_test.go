package sqlstore_test

import (
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

func benchClaimComplete(b *testing.B, s idempotency.Store) {
	run := func(k string) {
		c, err := s.Claim(ctx, k, time.Minute)
		if err != nil || c.State != idempotency.Acquired {
			b.Fatal(c.State, err)
		}
		if err := s.Complete(ctx, k, c.Token, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	// Keys are numbered across every run of the sub-benchmarks, which
	// share the store, so each iteration claims a key never seen before.
	var n atomic.Int64
	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			run("seq:" + strconv.FormatInt(n.Add(1), 10))
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				run("par:" + strconv.FormatInt(n.Add(1), 10))
			}
		})
	})
}

// BenchmarkPostgresClaimComplete: claim a new key and complete it on the
// local PostgreSQL (two statements, two round trips per iteration).
func BenchmarkPostgresClaimComplete(b *testing.B) {
	db := openPostgres(b, nil)
	benchClaimComplete(b, postgresStore(b, db, randomName("hookkit_bench_")))
}

// BenchmarkSQLiteClaimComplete: the same on a SQLite file in WAL mode.
func BenchmarkSQLiteClaimComplete(b *testing.B) {
	db := openSQLite(b, filepath.Join(b.TempDir(), "idem.db"))
	benchClaimComplete(b, sqliteStore(b, db, nil))
}
