package redisstore_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/redisstore"
)

// BenchmarkRedisClaimComplete is one delivery's store work against the local
// Redis: claim a new key, complete it. Two round trips per iteration.
func BenchmarkRedisClaimComplete(b *testing.B) {
	client := newClient(b, nil)
	s := redisstore.New(client, redisstore.Config{Prefix: testPrefix(b, client)})
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
