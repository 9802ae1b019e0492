package storetest

import (
	"context"
	"net"
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

// CountWrites wraps c so that every Write adds one to writes. Database and
// Redis clients write a request whole and then wait for the reply, so the
// count is the number of round trips: wrap the connections a client dials
// to show how many an operation takes.
func CountWrites(c net.Conn, writes *atomic.Int64) net.Conn {
	return countingConn{Conn: c, writes: writes}
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}
