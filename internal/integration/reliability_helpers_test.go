package integration_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The reliability tests' wiring: hookkit's accept steps on SQLite and on
// PostgreSQL (a schema of the test's own), as examples/bookings wires them.

const relSecret = "whsec_reliability_tests"

var relCtx = context.Background()

// relSQLite opens a SQLite file as River and sqltx want it, with a pool of
// conns connections.
func relSQLite(t *testing.T, conns int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "hookkit.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	t.Cleanup(func() { db.Close() })
	return db
}

// relPostgres opens the test database through database/sql, in a schema of
// the test's own, with a pool of conns connections.
func relPostgres(t *testing.T, conns int) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", postgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	t.Cleanup(func() { db.Close() })
	return db
}

// relPool opens a pgx pool of conns connections on the test database, in a
// schema of the test's own.
func relPool(t *testing.T, conns int) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(postgresSchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(relCtx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// relQueue is a riverqueue.Queue whatever its database, with what the
// tests read of it.
type relQueue struct {
	riverqueue.Handle
	// exec runs a statement on the queue's database, outside the queue.
	exec func(t *testing.T, query string, args ...any)
	// count runs a COUNT query on it.
	count func(t *testing.T, query string, args ...any) int
	// begin opens a transaction of the test's own on it, for locks; end
	// ends it.
	begin func(t *testing.T) (query func(query string, args ...any) int, end func())
}

// relRiverQueue builds a Queue on name's database ("sqlite" or "postgres")
// with River's tables migrated, routing with r, and an effects table.
func relRiverQueue(t *testing.T, name string, r *dispatch.Router, cfg riverqueue.Config) relQueue {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.River = &river.Config{FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond}
	var rq relQueue
	if name == "sqlite" {
		db := relSQLite(t, 8)
		q, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, cfg)
		if err != nil {
			t.Fatal(err)
		}
		rq = relQueue{Handle: q,
			exec: func(t *testing.T, query string, args ...any) {
				t.Helper()
				if _, err := db.Exec(query, args...); err != nil {
					t.Fatal(err)
				}
			},
			count: func(t *testing.T, query string, args ...any) int {
				t.Helper()
				var n int
				if err := db.QueryRow(query, args...).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			},
		}
	} else {
		pool := relPool(t, 20)
		q, err := riverqueue.New(riverpgxv5.New(pool), pgxtx.NewTransactor(pool), r, cfg)
		if err != nil {
			t.Fatal(err)
		}
		rq = relQueue{Handle: q,
			exec: func(t *testing.T, query string, args ...any) {
				t.Helper()
				if _, err := pool.Exec(relCtx, query, args...); err != nil {
					t.Fatal(err)
				}
			},
			count: func(t *testing.T, query string, args ...any) int {
				t.Helper()
				var n int
				if err := pool.QueryRow(relCtx, query, args...).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			},
			begin: func(t *testing.T) (func(string, ...any) int, func()) {
				tx, err := pool.Begin(relCtx)
				if err != nil {
					t.Fatal(err)
				}
				query := func(query string, args ...any) int {
					rows, err := tx.Query(relCtx, query, args...)
					if err != nil {
						t.Fatal(err)
					}
					n, err := pgx.CollectRows(rows, func(pgx.CollectableRow) (struct{}, error) { return struct{}{}, nil })
					if err != nil {
						t.Fatal(err)
					}
					return len(n)
				}
				return query, func() { tx.Rollback(relCtx) }
			},
		}
	}
	if err := rq.Migrate(relCtx); err != nil {
		t.Fatal(err)
	}
	return rq
}

// relStart starts q's workers until the test ends.
func relStart(t *testing.T, q relQueue) {
	t.Helper()
	if err := q.Start(relCtx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
}

// relEndpoint is a Stripe Endpoint whose events parse with p (the Stripe
// parser when nil), configured by opts.
func relEndpoint(t *testing.T, p events.Parser, r *dispatch.Router, opts ...dispatch.Option) *dispatch.Endpoint {
	t.Helper()
	v, err := verify.NewStripe(relSecret)
	if err != nil {
		t.Fatal(err)
	}
	if p == nil {
		p = stripeevent.NewParser()
	}
	ep, err := dispatch.NewEndpointSafely(v, p, r, append([]dispatch.Option{dispatch.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ep.Shutdown(ctx)
	})
	return ep
}

// relBody is a Stripe payment_intent.succeeded event, created now, its
// object padded with pad bytes.
func relBody(id string, pad int) []byte {
	return fmt.Appendf(nil, `{"id":%q,"type":"payment_intent.succeeded","created":%d,"data":{"object":{"id":"pi_1","amount":5000,"description":%q}}}`,
		id, time.Now().Unix(), strings.Repeat("x", pad))
}

// relRequest signs body as Stripe would.
func relRequest(body []byte) *http.Request {
	return verifytest.NewRequest(verifytest.Stripe{Secret: relSecret}, "/webhooks/stripe", body)
}

// latencies collects answer times, safely across senders.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d)
	l.mu.Unlock()
}

// quantile returns the q-quantile (0.99: p99) and the maximum.
func (l *latencies) quantile(q float64) (time.Duration, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.all) == 0 {
		return 0, 0
	}
	s := slices.Clone(l.all)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))], s[len(s)-1]
}
