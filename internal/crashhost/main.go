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
//
// It prints "listening <addr>" once it serves, and runs until killed.
package main

import (
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

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
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
	mode := flag.String("mode", "tx", "tx or lease")
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
	hk, err := newDB(db, sqltx.Config{IdempotencyTable: *effects + "_idem", DeadLetterTable: *effects + "_dl"})
	if err != nil {
		return err
	}
	if err := hk.Migrate(ctx); err != nil {
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
	case "lease":
		r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
			if _, err := db.ExecContext(ctx, `INSERT INTO `+*effects+` (event_id) VALUES ($1)`, e.ID); err != nil {
				return err
			}
			time.Sleep(*work) // committed; the completion comes after this
			return nil
		})
		opts = append(opts, dispatch.WithStore(hk.Store()), dispatch.WithTimeout(time.Second), dispatch.WithLease(2*time.Second))
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	v, err := verify.NewStripe(Secret)
	if err != nil {
		return err
	}
	ep, err := dispatch.New(v, stripeevent.NewParser(), r,
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
