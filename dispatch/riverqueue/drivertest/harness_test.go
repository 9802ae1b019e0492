package drivertest_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/riverqueue/drivertest/internal/servicetest"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

var ctx = context.Background()

const secret = "whsec_river_tests"

// queue is a riverqueue.Queue whatever its driver.
type queue interface {
	dispatch.Acceptor
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Migrate(ctx context.Context) error
	Stats(ctx context.Context) (dispatch.QueueStats, error)
}

// backend is one database with River's tables, and an effects table with
// no unique constraint: a handler that ran twice leaves two rows.
type backend struct {
	name string
	// db is the SQLite backend's database (nil for PostgreSQL).
	db *sql.DB
	// newQueue builds a Queue on a connection pool of its own (a replica),
	// with River's tables migrated; newQueueUnmigrated does not migrate.
	newQueue, newQueueUnmigrated func(t *testing.T, r *dispatch.Router, cfg riverqueue.Config) queue
	// newObservedQueue is newQueue with a Transactor that counts the
	// transactions it begins and ends: with no delivery under way and no
	// job to run, those are the sweeps.
	newObservedQueue func(t *testing.T, r *dispatch.Router, cfg riverqueue.Config, txs *txCounts) queue
	// effect records id's effect in the transaction ctx carries.
	effect func(ctx context.Context, id string) error
	// effects counts id's committed effects.
	effects func(t *testing.T, id string) int
	// jobs counts the jobs of a kind in any state.
	jobs func(t *testing.T) int
	// deadLetters lists the dead letters of the queue q.
	deadLetters func(t *testing.T, q queue) []dispatch.DeadLetter
	// retry re-drives the dead letter of key; discard closes it.
	retry, discard func(t *testing.T, q queue, key string) error
	// args returns the raw arguments of every job, as River's UI shows
	// them.
	args func(t *testing.T) []string
	// insertInTx inserts e's job in a host transaction, committed or not.
	insertInTx func(t *testing.T, q queue, e *events.Event, commit bool) bool
}

// fast polls for jobs often, for tests that wait on workers.
func fast(cfg riverqueue.Config) riverqueue.Config {
	cfg.River = &river.Config{FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// backends returns SQLite always, and PostgreSQL (a schema of its own) when
// the test database is there.
func backends(t *testing.T) []backend {
	return []backend{sqliteBackend(t), postgresBackend(t)}
}

// openSQLite opens the SQLite file at path as River and hookkit want it:
// transactions that take the write lock at BEGIN, a busy timeout, WAL, and
// a bounded pool.
func openSQLite(t testing.TB, path string) *sql.DB {
	db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	return db
}

func sqliteBackend(t *testing.T) backend {
	path := filepath.Join(t.TempDir(), "river.db")
	open := func(t *testing.T) *sql.DB { return openSQLite(t, path) }
	db := open(t)
	_, err := db.Exec(`CREATE TABLE effects (event_id TEXT NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	return backend{
		name: "sqlite",
		db:   db,
		newQueue: func(t *testing.T, r *dispatch.Router, cfg riverqueue.Config) queue {
			db := open(t)
			q, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, fast(cfg))
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return q
		},
		newObservedQueue: func(t *testing.T, r *dispatch.Router, cfg riverqueue.Config, counts *txCounts) queue {
			db := open(t)
			txs := observedTxs[*sql.Tx]{Driver: sqltx.NewTransactor(db), begins: &counts.begins, ends: &counts.ends}
			q, err := riverqueue.New(riversqlite.New(db), txs, r, fast(cfg))
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return q
		},
		newQueueUnmigrated: func(t *testing.T, r *dispatch.Router, cfg riverqueue.Config) queue {
			db := open(t)
			q, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, fast(cfg))
			if err != nil {
				t.Fatal(err)
			}
			return q
		},
		effect: func(ctx context.Context, id string) error {
			tx, ok := sqltx.Tx(ctx)
			if !ok {
				return errors.New("no transaction")
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO effects (event_id) VALUES ($1)`, id)
			return err
		},
		effects: func(t *testing.T, id string) int {
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM effects WHERE event_id = $1`, id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
		jobs: func(t *testing.T) int {
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM river_job WHERE kind = ?`, riverqueue.Kind).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
		deadLetters: func(t *testing.T, q queue) []dispatch.DeadLetter {
			return wholeLetters(t, q.(*riverqueue.Queue[*riversqlite.Driver, *sql.Tx]).DeadLetters())
		},
		retry: func(t *testing.T, q queue, key string) error {
			return q.(*riverqueue.Queue[*riversqlite.Driver, *sql.Tx]).DeadLetters().Rerun(ctx, nil, key)
		},
		discard: func(t *testing.T, q queue, key string) error {
			return q.(*riverqueue.Queue[*riversqlite.Driver, *sql.Tx]).DeadLetters().Discard(ctx, key)
		},
		args: func(t *testing.T) []string {
			rows, err := db.Query(`SELECT json(args) FROM river_job WHERE kind = ?`, riverqueue.Kind)
			if err != nil {
				t.Fatal(err)
			}
			return scanStrings(t, rows.Next, rows.Scan, rows.Close)
		},
		insertInTx: func(t *testing.T, q queue, e *events.Event, commit bool) bool {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			inserted, err := q.(*riverqueue.Queue[*riversqlite.Driver, *sql.Tx]).EnqueueTx(ctx, tx, e)
			if err != nil {
				t.Fatal(err)
			}
			if commit {
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
			}
			return inserted
		},
	}
}

// postgresSchemaURL returns the test database's URL with a schema of the
// test's own on the search path, dropped when the test ends.
func postgresSchemaURL(t testing.TB) string {
	base := servicetest.ServiceURL(t, servicetest.PostgresURLEnv)
	schema := servicetest.RandomName("hookkit_river_")
	admin, err := pgxpool.New(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	if err := admin.Ping(ctx); err != nil {
		servicetest.Unreachable(t, "PostgreSQL does not answer: "+err.Error())
	}
	_, err = admin.Exec(ctx, `CREATE SCHEMA `+schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	query := u.Query()
	query.Set("search_path", schema)
	u.RawQuery = query.Encode()
	return u.String()
}

func postgresBackend(t *testing.T) backend {
	dsn := postgresSchemaURL(t)
	open := func(t *testing.T) *pgxpool.Pool {
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pool
	}
	pool := open(t)
	_, err := pool.Exec(ctx, `CREATE TABLE effects (event_id text NOT NULL)`)
	if err != nil {
		t.Fatal(err)
	}
	return backend{
		name: "postgres",
		newQueue: func(t *testing.T, r *dispatch.Router, cfg riverqueue.Config) queue {
			pool := open(t)
			q, err := riverqueue.New(riverpgxv5.New(pool), pgxtx.NewTransactor(pool), r, fast(cfg))
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return q
		},
		newObservedQueue: func(t *testing.T, r *dispatch.Router, cfg riverqueue.Config, counts *txCounts) queue {
			pool := open(t)
			txs := observedTxs[pgx.Tx]{Driver: pgxtx.NewTransactor(pool), begins: &counts.begins, ends: &counts.ends}
			q, err := riverqueue.New(riverpgxv5.New(pool), txs, r, fast(cfg))
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return q
		},
		newQueueUnmigrated: func(t *testing.T, r *dispatch.Router, cfg riverqueue.Config) queue {
			pool := open(t)
			q, err := riverqueue.New(riverpgxv5.New(pool), pgxtx.NewTransactor(pool), r, fast(cfg))
			if err != nil {
				t.Fatal(err)
			}
			return q
		},
		effect: func(ctx context.Context, id string) error {
			tx, ok := pgxtx.Tx(ctx)
			if !ok {
				return errors.New("no transaction")
			}
			_, err := tx.Exec(ctx, `INSERT INTO effects (event_id) VALUES ($1)`, id)
			return err
		},
		effects: func(t *testing.T, id string) int {
			var n int
			if err := pool.QueryRow(ctx, `SELECT COUNT(*) FROM effects WHERE event_id = $1`, id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
		jobs: func(t *testing.T) int {
			var n int
			if err := pool.QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = $1`, riverqueue.Kind).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		},
		deadLetters: func(t *testing.T, q queue) []dispatch.DeadLetter {
			return wholeLetters(t, q.(*riverqueue.Queue[*riverpgxv5.Driver, pgx.Tx]).DeadLetters())
		},
		retry: func(t *testing.T, q queue, key string) error {
			return q.(*riverqueue.Queue[*riverpgxv5.Driver, pgx.Tx]).DeadLetters().Rerun(ctx, nil, key)
		},
		discard: func(t *testing.T, q queue, key string) error {
			return q.(*riverqueue.Queue[*riverpgxv5.Driver, pgx.Tx]).DeadLetters().Discard(ctx, key)
		},
		args: func(t *testing.T) []string {
			rows, err := pool.Query(ctx, `SELECT args::text FROM river_job WHERE kind = $1`, riverqueue.Kind)
			if err != nil {
				t.Fatal(err)
			}
			return scanStrings(t, rows.Next, rows.Scan, func() error { rows.Close(); return nil })
		},
		insertInTx: func(t *testing.T, q queue, e *events.Event, commit bool) bool {
			tx, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			inserted, err := q.(*riverqueue.Queue[*riverpgxv5.Driver, pgx.Tx]).EnqueueTx(ctx, tx, e)
			if err != nil {
				t.Fatal(err)
			}
			if commit {
				if err := tx.Commit(ctx); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := tx.Rollback(ctx); err != nil {
					t.Fatal(err)
				}
			}
			return inserted
		},
	}
}

// endpoint is a Stripe endpoint whose accept step is q.
func endpoint(t *testing.T, q queue, r *dispatch.Router) *dispatch.Endpoint {
	t.Helper()
	v, err := verify.NewStripe(secret)
	if err != nil {
		t.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(q), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() { ep.Shutdown(context.Background()) })
	return ep
}

// start starts q's workers until the test ends.
func start(t *testing.T, q queue) {
	t.Helper()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(stopCtx)
	})
}

func body(id string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"type":"payment_intent.succeeded","created":%d,"data":{"object":{"id":"pi_1","amount":5000}}}`,
		id, time.Now().Unix()))
}

func request(b []byte) *http.Request {
	return verifytest.NewRequest(verifytest.Stripe{Secret: secret}, "/webhooks/stripe", b)
}

func deliver(h http.Handler, b []byte) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, request(b))
	return rec.Code
}

// eventually waits up to 20s for cond: River's workers poll, its rescuer
// and scheduler run on intervals of seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	const wait = 20 * time.Second
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %v", what, wait)
		case <-tick.C:
		}
	}
}

// settle waits until q holds no job that can still run (none queued,
// scheduled, retrying or running: Queue.Stats), the bound after which a
// job that should not exist, or a run that should not happen, would have
// shown.
func settle(t *testing.T, q queue) {
	t.Helper()
	var last dispatch.QueueStats
	eventually(t, "the queue idle", func() bool {
		var err error
		last, err = q.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return last.Queued+last.Retrying+last.Running == 0
	})
}

// txCounts counts the transactions a queue's Transactor began and ended.
type txCounts struct{ begins, ends atomic.Int64 }

// observedTxs is a Transactor that counts the transactions it begins and
// ends (a sweep is one, an attempt another).
type observedTxs[TTx any] struct {
	txstep.Driver[TTx]
	begins, ends *atomic.Int64
}

func (o observedTxs[TTx]) Begin(ctx context.Context) (TTx, error) {
	o.begins.Add(1)
	return o.Driver.Begin(ctx)
}

func (o observedTxs[TTx]) End(ctx context.Context, tx TTx, commit bool) error {
	defer o.ends.Add(1)
	return o.Driver.End(ctx, tx, commit)
}

func scanStrings(t *testing.T, next func() bool, scan func(...any) error, closeRows func() error) []string {
	t.Helper()
	defer closeRows()
	var out []string
	for next() {
		var s string
		if err := scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// wholeLetters lists the store's dead letters, each whole, as Get returns
// it (a listing reads no body).
func wholeLetters(t *testing.T, s dispatch.DeadLetterStore) []dispatch.DeadLetter {
	page, err := s.List(ctx, dispatch.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for i, dl := range page.Letters {
		if page.Letters[i], err = s.Get(ctx, dl.Event.Key()); err != nil {
			t.Fatal(err)
		}
	}
	return page.Letters
}

// deliverWith delivers b signed, with extra headers set.
func deliverWith(h http.Handler, b []byte, header http.Header) int {
	req := request(b)
	for name, values := range header {
		req.Header[name] = values
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// jsonEqual fails t unless got and want hold the same JSON value.
func jsonEqual(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: the wanted %s: %v", what, want, err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil || !reflect.DeepEqual(g, w) {
		t.Errorf("%s: got %s, want %s", what, got, want)
	}
}
