// Package sqltx runs webhook handlers inside the host's own database/sql
// transaction, with the event's idempotency key claimed in that same
// transaction, so that the handler's writes and the key's completion commit
// together or not at all: a crash can neither lose an acknowledged effect
// nor run one twice. It works on PostgreSQL (pgx's stdlib driver) and
// SQLite (modernc.org/sqlite), and keeps dead letters durably on the same
// database, written in the transaction that completes the key.
//
//	db, _ := sql.Open("pgx", os.Getenv("DATABASE_URL"))
//	hk, err := sqltx.NewPostgres(db, txstep.Config{})
//	if err != nil { ... }
//	if err := hk.Migrate(ctx); err != nil { ... }
//
//	dispatch.On(r, stripeevent.PaymentIntentSucceeded,
//		func(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
//			tx, ok := sqltx.Tx(ctx) // the transaction the key is claimed in
//			if !ok {
//				return dispatch.ErrNoTransaction // mounted without hk.Acceptor(): a clear error, retried
//			}
//			_, err := tx.ExecContext(ctx, `UPDATE bookings SET paid = true WHERE id = $1`, pi.Metadata["booking_id"])
//			return err
//		})
//	mux.Handle("/webhooks/stripe", dispatch.NewEndpoint(v, stripeevent.NewParser(), r,
//		dispatch.WithAcceptor(hk.Acceptor())))
//
// One commit per event (the claim and the handler's writes), where the
// default step takes three (claim, the handler's own, completion). A
// handler error, panic or timeout rolls everything back and frees the key
// (500: the sender retries); a permanent failure rolls the handler's writes
// back and commits the dead letter with the key's completion (200). A
// concurrent delivery of the same event waits for the transaction that
// holds it (on PostgreSQL, up to [Config.LockTimeout], then 409).
//
// Bound the pool (db.SetMaxOpenConns): every delivery holds a connection
// for its handler's duration, and with an unbounded pool a burst of
// deliveries fails on PostgreSQL's max_connections (or, on SQLite, outwaits
// the busy timeout) where it would otherwise wait its turn. Open SQLite with
// "_txlock=immediate" and a busy timeout (see sqlstore.NewSQLite): SQLite
// has one writer at a time, and every transaction here writes.
//
// # Dead letters
//
// [Tables.DeadLetters] lists the dead letters (by source, type and time),
// gets one, re-runs one through the router in a transaction that resolves
// it only if the handler succeeds (concurrent re-runs of one letter run it
// once), and discards one. A letter keeps the raw body and only the headers
// a re-run needs (Content-Type, Webhook-Id, Svix-Id), never a signature or
// a credential. Closing a letter (a resolving re-run, a discard) empties
// its body, payload and headers, which hold a customer's phone number or
// email, and closed letters are deleted a week after they closed
// by later closings: nothing for the host to schedule.
// The idempotency table prunes its expired keys as it writes, likewise.
//
// Hosts on pgxpool use package dispatch/pgxtx, the same on pgx.Tx.
package sqltx
