// Command orderhost is a webhook host for the ordering guard's crash test:
// one GoConverso endpoint (HMAC-signed, the shape GoConverso documents) on
// a SQLite file or a PostgreSQL database, whose ordered handlers
// (dispatch.Ordered(conversoevent.Ordering)) keep a bookings table through
// the transactional accept step (dispatch/sqltx). A booking exists once
// created; its other events say dispatch.ErrNotYet before, and are kept.
// Each applied event writes an effect row (no unique constraint, so a
// second run shows), and the handler then works on for a while: the window
// in which a test kills it with SIGKILL.
//
//	orderhost -addr 127.0.0.1:9000 -db /tmp/x.db
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx"
	_ "modernc.org/sqlite"             // database/sql's "sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/conversoevent"
	"github.com/hookkit/hookkit/verify"
)

// Secret is the HMAC secret the host verifies GoConverso's signature with.
const Secret = "gc_order_crash"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "orderhost:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	dsn := flag.String("db", "", "SQLite file, or a postgres:// URL")
	work := flag.Duration("work", 20*time.Millisecond, "how long the handler works on after writing")
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
	db.SetMaxOpenConns(map[bool]int{true: 16, false: 4}[postgres])
	ctx := context.Background()
	newDB := sqltx.NewSQLite
	bind := func(q string) string { return q }
	if postgres {
		newDB = sqltx.NewPostgres
		bind = func(q string) string {
			for i := 1; strings.Contains(q, "?"); i++ {
				q = strings.Replace(q, "?", fmt.Sprintf("$%d", i), 1)
			}
			return q
		}
	}
	hk, err := newDB(db, txstep.Config{})
	if err != nil {
		return err
	}
	if err := hk.Migrate(ctx); err != nil {
		return err
	}
	for _, stmt := range []string{
		`CREATE TABLE IF NOT EXISTS bookings (id text PRIMARY KEY, status text NOT NULL, scheduled_at text NOT NULL, last_event text NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS booking_effects (event_id text NOT NULL, booking text NOT NULL, type text NOT NULL)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	apply := func(ctx context.Context, e *events.Event, b *conversoevent.Booking) error {
		tx, ok := sqltx.Tx(ctx)
		if !ok {
			return dispatch.ErrNoTransaction
		}
		at := b.ScheduledAt.UTC().Format(time.RFC3339)
		var res sql.Result
		if e.Type == "booking.created" {
			res, err = tx.ExecContext(ctx, bind(`INSERT INTO bookings (id, status, scheduled_at, last_event) VALUES (?, ?, ?, ?)`), b.BookingID, b.Status, at, e.Type)
		} else {
			res, err = tx.ExecContext(ctx, bind(`UPDATE bookings SET status = ?, scheduled_at = ?, last_event = ? WHERE id = ?`), b.Status, at, e.Type, b.BookingID)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("booking %s: %w", b.BookingID, dispatch.ErrNotYet)
		}
		if _, err := tx.ExecContext(ctx, bind(`INSERT INTO booking_effects (event_id, booking, type) VALUES (?, ?, ?)`), e.ID, b.BookingID, e.Type); err != nil {
			return err
		}
		time.Sleep(*work)
		return nil
	}
	r := dispatch.NewRouter()
	r.Use(dispatch.Ordered(conversoevent.Ordering))
	for _, name := range []string{"booking.created", "booking.confirmed", "booking.rescheduled", "booking.cancelled"} {
		dispatch.On(r, events.NewType[*conversoevent.Booking](name), apply)
	}
	hk.RunKept("goconverso", r) // events kept before a restart
	v, err := verify.NewHMAC([]byte(Secret), "X-Goconverso-Signature")
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	ep, err := dispatch.NewEndpointSafely(v, conversoevent.NewParser(), r, dispatch.WithAcceptor(hk.Acceptor()), dispatch.WithLogger(logger))
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
