package integration_test

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
)

// Two replicas (two Endpoints, each with its own pool, on one PostgreSQL
// database) and 8 senders deliver the shuffled lives of many bookings,
// with retries: no two handlers of one booking ever run at once (the
// position's row is the lock), handlers of different bookings do, and
// every booking ends in the in-order state, each event applied once.
func TestOrderedConcurrencyTwoReplicas(t *testing.T) {
	for _, step := range []string{"sqltx", "riverqueue"} {
		t.Run(step, func(t *testing.T) {
			url := postgresSchemaURL(t)
			var h *bookingHost
			var replicas []http.Handler
			switch step {
			case "sqltx":
				for i := range 2 {
					db, err := sql.Open("pgx", url)
					if err != nil {
						t.Fatal(err)
					}
					db.SetMaxOpenConns(10)
					t.Cleanup(func() { db.Close() })
					if i == 0 {
						h = newBookingHost(t, true, db)
					}
					tb, err := sqltx.NewPostgres(db, txstep.Config{})
					if err != nil {
						t.Fatal(err)
					}
					if err := tb.Migrate(relCtx); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { tb.StopKept(relCtx) }) // before db closes
					replicas = append(replicas, conversoEndpoint(t, h.router(), dispatch.WithAcceptor(tb.Acceptor())))
				}
			case "riverqueue":
				for i := range 2 {
					pool, err := pgxpool.New(relCtx, url+"&pool_max_conns=12")
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(pool.Close)
					if i == 0 {
						h = newBookingHostOn(t, true, func(query string, args ...any) error {
							_, err := pool.Exec(relCtx, query, args...)
							return err
						}, func(query string, args []any, dest ...any) error {
							return pool.QueryRow(relCtx, query, args...).Scan(dest...)
						})
					}
					r := h.router()
					q, err := riverqueue.New(riverpgxv5.New(pool), pgxtx.NewTransactor(pool), r, riverqueue.Config{Logger: quietLog, MaxWorkers: 4,
						River: &river.Config{FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond}})
					if err != nil {
						t.Fatal(err)
					}
					if err := q.Migrate(relCtx); err != nil {
						t.Fatal(err)
					}
					relStart(t, relQueue{Handle: q})
					replicas = append(replicas, conversoEndpoint(t, r, dispatch.WithAcceptor(q)))
				}
			}
			h.hold = 15 * time.Millisecond
			checkConcurrentLives(t, h, replicas, 24)
		})
	}
}

// checkConcurrentLives sends n bookings' lives, each shuffled with a retry
// of one of its events, from 8 senders to the replicas at random, and
// checks the final states and the overlaps.
func checkConcurrentLives(t *testing.T, h *bookingHost, replicas []http.Handler, n int) {
	t.Helper()
	type delivery struct{ name, id string }
	var all []delivery
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("concurrent-%d", i)
		for _, name := range bookingLife {
			all = append(all, delivery{name, ids[i]})
		}
		all = append(all, delivery{bookingLife[rand.IntN(len(bookingLife))], ids[i]})
	}
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	work := make(chan delivery)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range work {
				for {
					code := sendBooking(t, replicas[rand.IntN(len(replicas))], d.name, d.id)
					if code == http.StatusOK {
						break
					}
					if code != http.StatusConflict && code != http.StatusServiceUnavailable {
						t.Errorf("%s of %s: %d", d.name, d.id, code)
						break
					}
					// 409: the same event in progress on the other replica; the sender retries.
				}
			}
		}()
	}
	for _, d := range all {
		work <- d
	}
	close(work)
	wg.Wait()
	h.settle(t, ids, "cancelled 2026-11-26T10:00:00Z booking.cancelled")
	for _, id := range ids {
		for name, runs := range h.effects(t, id) {
			if runs != 1 && name != "booking.confirmed" && name != "booking.rescheduled" {
				t.Errorf("booking %s: %s applied %d times", id, name, runs)
			}
			if runs > 1 {
				t.Errorf("booking %s: %s applied %d times", id, name, runs)
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.overlapSame {
		t.Error("two handlers of one booking ran at once")
	}
	if !h.overlapDiffered {
		t.Error("handlers of different bookings never ran at once: the guard serialized everything")
	}
}
