package idempotency_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// keys pre-builds n distinct keys, so the benchmarks measure the store and
// not the formatting of keys (the dispatcher builds one per request anyway).
func keys(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// keyBatch hands out fresh keys, built 4096 at a time with the timer
// stopped, so that neither building them nor holding millions of them live
// (which the garbage collector would scan) is charged to the store.
type keyBatch struct {
	b     *testing.B
	next  int
	batch []string
}

func (kb *keyBatch) key() string {
	if len(kb.batch) == 0 {
		kb.b.StopTimer()
		kb.batch = make([]string, 4096)
		for i := range kb.batch {
			kb.batch[i] = "evt:" + strconv.Itoa(kb.next)
			kb.next++
		}
		kb.b.StartTimer()
	}
	k := kb.batch[0]
	kb.batch = kb.batch[1:]
	return k
}

// claimComplete is one delivery's store work on a new key.
func claimComplete(b *testing.B, s idempotency.Store, k string, keep time.Duration) {
	c, err := s.Claim(ctx, k, time.Minute)
	if err != nil || c.State != idempotency.Acquired {
		b.Fatal(c.State, err)
	}
	if err := s.Complete(ctx, k, c.Token, keep); err != nil {
		b.Fatal(err)
	}
}

// prefill leaves n keys resident in s, completed for keep.
func prefill(b *testing.B, s idempotency.Store, n int, keep time.Duration) {
	for _, k := range keys("resident:", n) {
		claimComplete(b, s, k, keep)
	}
}

// BenchmarkMemoryClaimComplete is one delivery's store work: claim a new key
// and complete it, in a store that holds 0 or 1,000,000 keys when the timer
// starts and one more after each iteration (nothing expires), so the
// measurement includes the tables' growth. BenchmarkMemorySteadyState
// measures a store that stays at its size.
func BenchmarkMemoryClaimComplete(b *testing.B) {
	for _, resident := range []int{0, 1_000_000} {
		b.Run("resident="+strconv.Itoa(resident), func(b *testing.B) {
			s := mustMemory(b, idempotency.MemoryConfig{MaxEntries: 20_000_000})
			prefill(b, s, resident, idempotency.DefaultKeep)
			kb := &keyBatch{b: b}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				claimComplete(b, s, kb.key(), idempotency.DefaultKeep)
			}
		})
	}
}

func BenchmarkMemoryClaimCompleteParallel(b *testing.B) {
	for _, resident := range []int{0, 1_000_000} {
		b.Run("resident="+strconv.Itoa(resident), func(b *testing.B) {
			s := mustMemory(b, idempotency.MemoryConfig{MaxEntries: 20_000_000})
			prefill(b, s, resident, idempotency.DefaultKeep)
			// keyBatch stops the timer, which goroutines cannot share, so
			// the keys are built up front; the garbage collector scans them
			// too, which makes this a slightly pessimistic measurement.
			ks := keys("evt:", b.N)
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					claimComplete(b, s, ks[next.Add(1)-1], idempotency.DefaultKeep)
				}
			})
		})
	}
}

// BenchmarkMemorySteadyState measures claim+complete of new keys in a store
// that holds about 1,000,000 keys and stays there: as many expire as
// arrive, the state a store reaches once it has run for a whole keep window.
// The keep window is scaled down to 1s of real time (at about a million
// claims a second) so the benchmark reaches that state in seconds rather
// than days; the clock is the real one.
func BenchmarkMemorySteadyState(b *testing.B) {
	const keep = time.Second
	s := mustMemory(b, idempotency.MemoryConfig{MaxEntries: 20_000_000})
	prefill(b, s, 1_000_000, keep)
	kb := &keyBatch{b: b}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		claimComplete(b, s, kb.key(), keep)
	}
	b.StopTimer()
	b.ReportMetric(float64(s.Len()), "resident-keys")
}

// BenchmarkMemoryDuplicate is a duplicate delivery: a claim that finds the
// key completed.
func BenchmarkMemoryDuplicate(b *testing.B) {
	s := mustMemory(b, idempotency.MemoryConfig{})
	prefill(b, s, 1, idempotency.DefaultKeep)
	b.ReportAllocs()
	for b.Loop() {
		c, err := s.Claim(ctx, "resident:0", time.Minute)
		if err != nil || c.State != idempotency.Completed {
			b.Fatal(c.State, err)
		}
	}
}
