// Command reconcilehost is a host for reconciliation crash tests: a Stripe
// Endpoint on a SQLite file or a PostgreSQL database, whose handler
// records an effect per event in the transaction its key is claimed in
// (dispatch/sqltx; a table with no unique constraint, so a second run
// shows) and then works on for a while, and a Reconciler reading a List
// Events server with its checkpoint in the same database. It runs until
// the reconciler has caught up, prints "caught-up" and exits 0: a test
// kills it with SIGKILL before that, again and again.
//
//	reconcilehost -db /tmp/x.db -api http://127.0.0.1:9000 -key rk_test -effects effects
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "reconcilehost:", err)
		os.Exit(1)
	}
}

func run() error {
	dsn := flag.String("db", "", "SQLite file, or a postgres:// URL")
	api := flag.String("api", "", "the List Events server's base URL")
	key := flag.String("key", "", "the API key")
	effects := flag.String("effects", "effects", "the effects table")
	page := flag.Int("page", 7, "events per page")
	work := flag.Duration("work", 5*time.Millisecond, "how long the handler works on after recording its effect")
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
	db.SetMaxOpenConns(4)
	ctx := context.Background()
	newTables, dialect := sqltx.NewSQLite, reconcile.SQLite
	if postgres {
		newTables, dialect = sqltx.NewPostgres, reconcile.PostgreSQL
	}
	hk, err := newTables(db, txstep.Config{IdempotencyTable: *effects + "_idem", DeadLetterTable: *effects + "_dl"})
	if err != nil {
		return err
	}
	if err := hk.Migrate(ctx); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS `+*effects+` (event_id TEXT NOT NULL)`); err != nil {
		return err
	}
	store, err := reconcile.NewSQLStore(db, reconcile.SQLConfig{Dialect: dialect, Table: *effects + "_cp"})
	if err != nil {
		return err
	}
	if err := store.Migrate(ctx); err != nil {
		return err
	}

	r := dispatch.NewRouter()
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
	quiet := slog.New(slog.DiscardHandler)
	v, err := verify.NewStripe("whsec_reconcile_crash")
	if err != nil {
		return err
	}
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(hk.Acceptor()), dispatch.WithLogger(quiet))
	src, err := reconcile.NewStripe(reconcile.StripeConfig{Key: *key, URL: *api})
	if err != nil {
		return err
	}
	// Short runs and a short lease: a killed run's lease frees the source
	// for the next process within a second and a half.
	rec, err := reconcile.New(reconcile.Config{Endpoint: ep, Source: src, Store: store, Logger: quiet, PageSize: *page,
		MaxEvents: 100000, MaxDuration: time.Second, Lease: 1500 * time.Millisecond, Lag: time.Second})
	if err != nil {
		return err
	}
	fmt.Println("running")
	for {
		rep, err := rec.Run(ctx)
		switch {
		case errors.Is(err, reconcile.ErrRunning):
			time.Sleep(100 * time.Millisecond) // a killed process's lease, running out
		case err != nil:
			return err
		case rep.CaughtUp:
			fmt.Println("caught-up")
			return nil
		}
	}
}
