// Package pgxtx runs webhook handlers inside a pgx transaction on the
// host's PostgreSQL, with the event's idempotency key claimed in that same
// transaction: the handler's writes and the key's completion commit
// together or not at all. It is package dispatch/sqltx for hosts on
// pgxpool, with no database/sql in between, and it keeps the same tables
// (pgxstore's idempotency keys and durable dead letters).
//
//	pool, _ := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	hk, err := pgxtx.New(pool, txstep.Config{})
//	if err != nil { ... }
//	if err := hk.Migrate(ctx); err != nil { ... }
//
//	dispatch.On(r, stripeevent.PaymentIntentSucceeded,
//		func(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
//			tx, ok := pgxtx.Tx(ctx) // a pgx.Tx: the transaction the key is claimed in
//			if !ok {
//				return dispatch.ErrNoTransaction // mounted without hk.Acceptor(): a clear error, retried
//			}
//			_, err := tx.Exec(ctx, `UPDATE bookings SET paid = true WHERE id = $1`, pi.Metadata["booking_id"])
//			return err
//		})
//	mux.Handle("/webhooks/stripe", dispatch.NewEndpoint(v, stripeevent.NewParser(), r,
//		dispatch.WithAcceptor(hk.Acceptor())))
//
// See package dispatch/sqltx for what each answer
// means.
package pgxtx
