package pgxtx_test

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/pgxtx"
	"github.com/hookkit/hookkit/dispatch/txstep"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

// A host on pgxpool: the handler's writes through pgxtx.Tx commit together
// with its event's key. (Not run: it needs a PostgreSQL; the package's
// tests run the same on one.)
func ExampleNew() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	hk, err := pgxtx.New(pool, txstep.Config{})
	if err != nil {
		log.Fatal(err)
	}
	if err := hk.Migrate(ctx); err != nil { // safe on replicas started together
		log.Fatal(err)
	}
	r := dispatch.NewRouter()
	dispatch.On(r, stripeevent.PaymentIntentSucceeded, func(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
		tx, ok := pgxtx.Tx(ctx)
		if !ok {
			return dispatch.ErrNoTransaction
		}
		_, err := tx.Exec(ctx, `UPDATE bookings SET deposit_paid = true WHERE id = $1`, pi.Metadata["booking_id"])
		return err
	})
	v, err := verify.NewStripe(os.Getenv("STRIPE_WEBHOOK_SECRET"))
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("POST /webhooks/stripe", dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(hk.Acceptor())))
}

// A Transactor on the pool is what riverqueue's workers on riverpgxv5 open
// the handler's pgx.Tx with. Not run: it needs a PostgreSQL.
func ExampleNewTransactor() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	txs := pgxtx.NewTransactor(pool)
	tx, err := txs.Begin(ctx)
	if err != nil {
		log.Fatal(err)
	}
	_, err = tx.Exec(ctx, `UPDATE bookings SET sms_sent = true WHERE id = $1`, "12345")
	if err := txs.End(ctx, tx, err == nil); err != nil { // commit only if the update worked
		log.Fatal(err)
	}
}
