// Command crashhost is a webhook host for crash tests: one Stripe endpoint
// on a SQLite file or a PostgreSQL database, whose handler records an
// effect per event (in a table with no unique constraint, so a second run
// of a handler shows) and then works on for a while before returning: the
// window in which a test kills it with SIGKILL.
//
//	crashhost -addr 127.0.0.1:9000 -db /tmp/x.db -mode tx -effects effects
//
// Modes:
//
//	tx     the handler writes in the transaction its event is claimed in
//	       (dispatch/sqltx): the effect and the completion commit together.
//	lease  the default step: claim in the store, the handler commits its
//	       own transaction, then the claim is completed. A kill between the
//	       two leaves the effect and a claim whose lease must run out.
//	memory the removed in-memory async mode, kept here to show what the
//	       crash test catches: claim, push onto an in-process queue, answer
//	       200, and let workers process it later. A kill loses what waits.
//	river  the event is acknowledged once its River job is inserted; a
//	       worker writes the effect in the transaction that completes the
//	       job (dispatch/riverqueue). Jobs a kill interrupts are rescued
//	       after a few seconds.
//
// It prints "listening <addr>" once it serves, and runs until killed.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/idempotency/sqlstore"
	"github.com/hookkit/hookkit/verify"
)

// Secret is the Stripe signing secret the crash tests sign with.
const Secret = "whsec_crash_tests"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashhost:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	dsn := flag.String("db", "", "SQLite file, or a postgres:// URL")
	mode := flag.String("mode", "tx", "tx, lease, memory or river")
	effects := flag.String("effects", "effects", "the effects table")
	work := flag.Duration("work", 30*time.Millisecond, "how long the handler works on after recording its effect")
	flag.Parse()

	postgres := strings.HasPrefix(*dsn, "postgres")
	var db *sql.DB
	var err error
	if postgres {
		db, err = sql.Open("pgx", *dsn)
	} else {
		db, err = sql.Open("sqlite", *dsn+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	}
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(map[bool]int{true: 16, false: 4}[postgres]) // bounded, as sqltx asks
	ctx := context.Background()
	newDB := sqltx.NewSQLite
	if postgres {
		newDB = sqltx.NewPostgres
	}
	hk, err := newDB(db, txstep.Config{IdempotencyTable: *effects + "_idem", DeadLetterTable: *effects + "_dl"})
	if err != nil {
		return err
	}
	if err := hk.Migrate(ctx); err != nil {
		return err
	}
	newKeys := sqlstore.NewSQLite // the same keys table, for the lease step
	if postgres {
		newKeys = sqlstore.NewPostgres
	}
	keys, err := newKeys(db, sqlstore.Config{Table: *effects + "_idem"})
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+*effects+` (event_id TEXT NOT NULL)`); err != nil {
		return err
	}

	r := dispatch.NewRouter()
	var opts []dispatch.Option
	switch *mode {
	case "tx":
		r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
			tx, ok := sqltx.Tx(ctx)
			if !ok {
				return errors.New("no transaction")
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+*effects+` (event_id) VALUES ($1)`, e.ID); err != nil {
				return err
			}
			time.Sleep(*work)
			return nil
		})
		opts = append(opts, dispatch.WithAcceptor(hk.Acceptor()))
	case "river":
		r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
			if err := riverEffect(ctx, *effects, e.ID); err != nil {
				return err
			}
			time.Sleep(*work)
			return nil
		})
		q, err := startRiver(ctx, db, *dsn, postgres, r)
		if err != nil {
			return err
		}
		opts = append(opts, dispatch.WithAcceptor(q))
	case "memory":
		r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
			time.Sleep(*work)
			_, err := db.ExecContext(ctx, `INSERT INTO `+*effects+` (event_id) VALUES ($1)`, e.ID)
			return err
		})
		opts = append(opts, dispatch.WithAcceptor(newMemoryQueue(keys, r)))
	case "lease":
		r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
			if _, err := db.ExecContext(ctx, `INSERT INTO `+*effects+` (event_id) VALUES ($1)`, e.ID); err != nil {
				return err
			}
			time.Sleep(*work) // committed; the completion comes after this
			return nil
		})
		opts = append(opts, dispatch.WithStore(keys), dispatch.WithTimeout(time.Second), dispatch.WithLease(2*time.Second))
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	v, err := verify.NewStripe(Secret)
	if err != nil {
		return err
	}
	ep, err := dispatch.NewEndpointSafely(v, stripeevent.NewParser(), r,
		append(opts, dispatch.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))))...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Println("listening", ln.Addr())
	return (&http.Server{Handler: ep, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
}

// riverEffect records the effect in the job's transaction, whichever driver
// runs it.
func riverEffect(ctx context.Context, table, id string) error {
	insert := `INSERT INTO ` + table + ` (event_id) VALUES ($1)`
	if tx, ok := pgxtx.Tx(ctx); ok {
		_, err := tx.Exec(ctx, insert, id)
		return err
	}
	if tx, ok := sqltx.Tx(ctx); ok {
		_, err := tx.ExecContext(ctx, insert, id)
		return err
	}
	return errors.New("no transaction")
}

// startRiver starts River's workers on the database and returns the queue
// to accept into.
func startRiver(ctx context.Context, db *sql.DB, dsn string, postgres bool, r *dispatch.Router) (dispatch.Acceptor, error) {
	cfg := riverqueue.Config{
		// River's own rescue is left at its default (Timeout plus a
		// minute): a killed process's running jobs are retried within
		// seconds by hookkit's sweep, not by River's rescuer.
		Timeout: 15 * time.Second,
		Retry:   []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second},
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		River:   &river.Config{FetchPollInterval: 50 * time.Millisecond, FetchCooldown: 10 * time.Millisecond},
	}
	type starter interface {
		dispatch.Acceptor
		Migrate(context.Context) error
		Start(context.Context) error
	}
	var q starter
	if postgres {
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return nil, err
		}
		if q, err = riverqueue.New(riverpgxv5.New(pool), pgxtx.NewTransactor(pool), r, cfg); err != nil {
			return nil, err
		}
	} else {
		var err error
		if q, err = riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, cfg); err != nil {
			return nil, err
		}
	}
	if err := q.Migrate(ctx); err != nil {
		return nil, err
	}
	return q, q.Start(ctx)
}

// memoryQueue is the in-memory async mode hookkit removed: it acknowledges
// an event once it is claimed and in this process's memory.
type memoryQueue struct {
	store idempotency.Store
	jobs  chan memoryJob
}

type memoryJob struct {
	event *events.Event
	token string
}

// newMemoryQueue runs the jobs through r: an Acceptance cannot run once
// Accept has returned (dispatch.ErrAcceptanceClosed), so the queue keeps
// a copy of the event, as a queue in memory would.
func newMemoryQueue(store idempotency.Store, r *dispatch.Router) *memoryQueue {
	q := &memoryQueue{store: store, jobs: make(chan memoryJob, 1024)}
	for range 4 {
		go func() {
			for j := range q.jobs {
				ctx := context.Background()
				if r.Dispatch(ctx, j.event) == nil {
					q.store.Complete(ctx, j.event.Key(), j.token, time.Hour)
				} else {
					q.store.Release(ctx, j.event.Key(), j.token)
				}
			}
		}()
	}
	return q
}

func (q *memoryQueue) Accept(ctx context.Context, a dispatch.Acceptance) dispatch.Result {
	c, err := q.store.Claim(ctx, a.Event.Key(), 2*time.Second) // short, so a crash test converges
	switch {
	case err != nil:
		return dispatch.Result{Outcome: dispatch.OutcomeUnavailable, Err: err}
	case c.State == idempotency.Completed:
		return dispatch.Result{Outcome: dispatch.OutcomeDuplicate}
	case c.State == idempotency.Busy:
		return dispatch.Result{Outcome: dispatch.OutcomeBusy}
	}
	e := *a.Event
	e.Body, e.Data, e.Header = bytes.Clone(e.Body), bytes.Clone(e.Data), e.Header.Clone()
	q.jobs <- memoryJob{&e, c.Token}
	return dispatch.Result{Outcome: dispatch.OutcomeQueued}
}
