package storetest

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// BenchmarkClaimComplete measures one delivery's store work, a claim of a
// key never seen before and its completion, sequentially and from parallel
// goroutines. Keys are numbered across both sub-benchmarks, which share s.
func BenchmarkClaimComplete(b *testing.B, s idempotency.Store) {
	ctx := context.Background()
	run := func(k string) {
		c, err := s.Claim(ctx, k, time.Minute)
		if err != nil || c.State != idempotency.Acquired {
			b.Fatal(c.State, err)
		}
		if err := s.Complete(ctx, k, c.Token, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
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
