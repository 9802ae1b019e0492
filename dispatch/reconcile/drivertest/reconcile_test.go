package drivertest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
)

// TestSQLStore: the checkpoint store's contract on each database: a run's
// lease refuses a second holder until it is released or runs out, a lost
// lease saves nothing, and checkpoints and reports read back as saved.
func TestSQLStore(t *testing.T) {
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			clock := time.Unix(1_800_000_000, 0)
			var mu sync.Mutex
			now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
			db := d.open(t)
			table := uniqueTable("cp_contract")
			s, err := reconcile.NewSQLStore(db, reconcile.SQLConfig{Dialect: d.dialect, Table: table, Clock: now})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				t.Fatalf("Migrate twice: %v", err)
			}
			cp, err := s.Acquire(ctx, "stripe", "a", time.Minute)
			if err != nil || cp != (reconcile.Checkpoint{}) {
				t.Fatalf("first Acquire: %+v, %v", cp, err)
			}
			if _, err := s.Acquire(ctx, "stripe", "b", time.Minute); !errors.Is(err, reconcile.ErrRunning) {
				t.Errorf("Acquire while a holds it: %v, want ErrRunning", err)
			}
			if _, err := s.Acquire(ctx, "twilio:AC1", "b", time.Minute); err != nil {
				t.Errorf("another name is free: %v", err)
			}
			want := reconcile.Checkpoint{Since: time.Unix(1_799_000_000, 0).UTC(), Until: time.Unix(1_799_990_000, 0).UTC(), Stream: "types:a,b", Cursor: "evt_9"}
			if err := s.Save(ctx, "stripe", "a", want, time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, "stripe", "b", reconcile.Checkpoint{}, time.Minute); !errors.Is(err, reconcile.ErrLeaseLost) {
				t.Errorf("Save by a non-holder: %v, want ErrLeaseLost", err)
			}
			// a's lease runs out (it died): b takes the run over, at a's
			// checkpoint, and a can no longer save.
			mu.Lock()
			clock = clock.Add(2 * time.Minute)
			mu.Unlock()
			got, err := s.Acquire(ctx, "stripe", "b", time.Minute)
			if err != nil || got != want {
				t.Fatalf("Acquire after the lease ran out: %+v, %v; want %+v", got, err, want)
			}
			if err := s.Save(ctx, "stripe", "a", reconcile.Checkpoint{}, time.Minute); !errors.Is(err, reconcile.ErrLeaseLost) {
				t.Errorf("Save by the old holder: %v, want ErrLeaseLost", err)
			}
			rep := reconcile.Report{Source: "stripe", Fetched: 12, Outcomes: map[string]int{"recovered": 10, "duplicate": 2}, CaughtUp: true}
			if err := s.Release(ctx, "stripe", "b", rep); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Acquire(ctx, "stripe", "c", time.Minute); err != nil {
				t.Errorf("Acquire after Release: %v", err)
			}
			cp, last, err := s.Last(ctx, "stripe")
			if err != nil || cp != want || last.Recovered() != 10 || last.Fetched != 12 || !last.CaughtUp {
				t.Errorf("Last: %+v, %+v, %v", cp, last, err)
			}
			if cp, last, err := s.Last(ctx, "never-run"); err != nil || cp != (reconcile.Checkpoint{}) || last.Fetched != 0 {
				t.Errorf("Last of a name never run: %+v, %+v, %v", cp, last, err)
			}
		})
	}
}

// TestRecoverIntoHostTransaction: missed events are applied once in the
// host's database, beside events delivered by webhook before and after;
// no database connection is in use while the reconciler waits on the
// sender's API.
func TestRecoverIntoHostTransaction(t *testing.T) {
	for _, d := range databases() {
		t.Run(d.name, func(t *testing.T) {
			db := d.open(t)
			h := newBookingHost(t, d, db)
			srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
			defer srv.Close()
			start := time.Now().Add(-3 * time.Hour)
			missed := addEvents(srv, "missed", 120, start)
			early := addEvents(srv, "early", 15, start.Add(time.Hour))
			for _, b := range early {
				h.webhook(t, b)
			}
			var mu sync.Mutex
			var inUse []int
			srv.OnRequest(func(*http.Request) {
				mu.Lock()
				defer mu.Unlock()
				inUse = append(inUse, db.Stats().InUse)
			})
			r := newReconciler(t, h, srv, newStore(t, d, db), reconcile.Config{PageSize: 25})
			rep, err := r.Run(context.Background())
			if err != nil || !rep.CaughtUp {
				t.Fatalf("Run: %v, %+v", err, rep)
			}
			for _, b := range missed[:10] {
				h.webhook(t, b) // Stripe's late retries: duplicates
			}
			if rep.Recovered() != 120 || rep.Outcomes["duplicate"] != 15 {
				t.Errorf("outcomes %v, want 120 recovered, 15 duplicate", rep.Outcomes)
			}
			applied := h.applied(t)
			if len(applied) != 135 {
				t.Errorf("%d events applied, want 135", len(applied))
			}
			for id, n := range applied {
				if n != 1 {
					t.Errorf("%s applied %d times", id, n)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for i, n := range inUse {
				if n != 0 {
					t.Errorf("request %d: %d database connections in use while the reconciler waited on the API", i, n)
				}
			}
			if len(inUse) != rep.Pages {
				t.Errorf("%d requests, %d pages", len(inUse), rep.Pages)
			}
		})
	}
}

// BenchmarkRecover measures events recovered per second from the local
// List Events server into the host's transaction (one row per event, its
// key committed with it), pages of 100, beside the floor: the same pages
// fetched and parsed by stripe-go's client, and nothing accepted.
func BenchmarkRecover(b *testing.B) {
	b.Run("floor-fetch-only", func(b *testing.B) {
		srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
		defer srv.Close()
		addEvents(srv, "floor", b.N, time.Now().Add(-time.Duration(b.N+3600)*time.Second))
		src, err := reconcile.NewStripe(reconcile.StripeConfig{Key: stripeKey, URL: srv.URL})
		if err != nil {
			b.Fatal(err)
		}
		stream := src.Streams([]string{"payment_intent.succeeded"})[0]
		q := reconcile.Query{Stream: stream, Since: time.Now().Add(-time.Duration(b.N+7200) * time.Second).Truncate(time.Second),
			Until: time.Now().Truncate(time.Second), Limit: 100}
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		n := 0
		for {
			page, err := src.Page(context.Background(), q)
			if err != nil {
				b.Fatal(err)
			}
			n += len(page.Events)
			if !page.More {
				break
			}
			q.Cursor = page.Next
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
		if n != b.N {
			b.Fatalf("fetched %d, want %d", n, b.N)
		}
	})
	for _, d := range databases() {
		b.Run(d.name, func(b *testing.B) {
			db := d.open(b)
			h := newBookingHost(b, d, db)
			srv := reconciletest.NewServer(reconciletest.Config{StripeKey: stripeKey})
			defer srv.Close()
			addEvents(srv, fmt.Sprintf("bench%d", b.N), b.N, time.Now().Add(-time.Duration(b.N+3600)*time.Second))
			r := newReconciler(b, h, srv, newStore(b, d, db), reconcile.Config{MaxEvents: b.N + 1, MaxDuration: 10 * time.Minute,
				Lookback: time.Duration(b.N+7200) * time.Second})
			b.ReportAllocs()
			b.ResetTimer()
			rep, err := r.Run(context.Background())
			b.StopTimer()
			if err != nil || rep.Recovered() != b.N {
				b.Fatalf("Run: %v, recovered %d of %d", err, rep.Recovered(), b.N)
			}
			b.ReportMetric(float64(b.N)/rep.Ended.Sub(rep.Started).Seconds(), "events/s")
		})
	}
}
