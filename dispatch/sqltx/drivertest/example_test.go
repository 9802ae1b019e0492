package drivertest_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/stripe/stripe-go/v76"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// sqltx's ExampleNewSQLite, run with a driver registered.
func Example_newSQLite() {
	dir, err := os.MkdirTemp("", "sqltx-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "bookings.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE bookings (id TEXT PRIMARY KEY, paid INTEGER NOT NULL DEFAULT 0)`); err != nil {
		log.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO bookings (id) VALUES ('12345')`); err != nil {
		log.Fatal(err)
	}

	hk, err := sqltx.NewSQLite(db, txstep.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := hk.Migrate(ctx); err != nil { // hookkit's tables: idempotency keys, dead letters
		log.Fatal(err)
	}
	r := dispatch.NewRouter()
	dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
		tx, ok := sqltx.Tx(ctx)
		if !ok {
			return dispatch.ErrNoTransaction
		}
		_, err := tx.ExecContext(ctx, `UPDATE bookings SET paid = paid + 1 WHERE id = $1`, pi.Metadata["booking_id"])
		return err
	})
	v, err := verify.NewStripe("whsec_example")
	if err != nil {
		log.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(hk.Acceptor()),
		dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	defer ep.Shutdown(ctx)

	body := []byte(`{"id":"evt_1","type":"payment_intent.succeeded","created":1795420800,` +
		`"data":{"object":{"id":"pi_1","amount":5000,"metadata":{"booking_id":"12345"}}}}`)
	for range 2 { // a delivery and the sender's retry
		rec := httptest.NewRecorder()
		ep.ServeHTTP(rec, verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_example"}, "/webhooks/stripe", body))
		fmt.Println(rec.Code)
	}
	var paid int
	if err := db.QueryRowContext(ctx, `SELECT paid FROM bookings WHERE id = '12345'`).Scan(&paid); err != nil {
		log.Fatal(err)
	}
	fmt.Println("booking 12345 paid", paid, "time")
	// Output:
	// 200
	// 200
	// booking 12345 paid 1 time
}

// sqltx's ExampleNewTransactor, run with a driver registered.
func Example_newTransactor() {
	dir, err := os.MkdirTemp("", "sqltx-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db")+"?_txlock=immediate")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE sms (id TEXT PRIMARY KEY)`); err != nil {
		log.Fatal(err)
	}

	txs := sqltx.NewTransactor(db)
	for _, commit := range []bool{true, false} {
		tx, err := txs.Begin(ctx)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sms (id) VALUES (?)`, fmt.Sprint("SM", commit)); err != nil {
			log.Fatal(err)
		}
		if err := txs.End(ctx, tx, commit); err != nil {
			log.Fatal(err)
		}
	}
	var ids string
	if err := db.QueryRowContext(ctx, `SELECT group_concat(id) FROM sms`).Scan(&ids); err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids)
	// Output: SMtrue
}
