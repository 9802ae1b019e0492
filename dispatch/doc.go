// Package dispatch is what a host mounts: an [Endpoint], one http.Handler per
// sender, that verifies a delivery, parses it, deduplicates it, routes it
// to the handler for its type, and answers the sender with the status it
// needs.
//
// # Typed handlers
//
//	r := dispatch.NewRouter()
//	dispatch.On(r, stripeevent.PaymentIntentSucceeded,
//		func(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
//			return bookings.MarkDepositPaid(ctx, pi.Metadata["booking_id"], pi.Amount)
//		})
//	r.HandleFunc("charge.*", logCharge) // a prefix, untyped
//
//	mux.Handle("POST /webhooks/stripe", dispatch.NewEndpoint(stripeVerifier, stripeevent.NewParser(), r))
//
// A handler returns nil when done, Permanent(err) when retrying cannot help
// (the event is dead-lettered and the sender told 200), or any other error
// to have the event retried (the claim is released and the sender told
// 500). A payload that does not decode into the registered type is
// permanent. Events of a type without a handler are acknowledged and logged;
// a "*" handler decides otherwise, as chi's not-found handler does (see
// [Router.Handle]): return an error to have the sender retry them, during
// a rolling deploy in which new types reach old replicas first, or wrap it
// in [Permanent] to keep them as dead letters.
//
// # Deduplication
//
// Each event's key (source and ID) is claimed in an idempotency.Store
// before its handler runs, completed when it succeeds, released when it
// fails. A second delivery of a processed event is answered 200 without
// running anything; one that arrives while the first is still running gets
// 409, so the sender retries later. The default store is in memory, right
// for one process; replicas share a Redis or SQL store ([WithStore]).
//
// # Accept steps
//
// After verifying and parsing, the [Endpoint] hands each event to one
// [Acceptor] ([WithAcceptor]), which decides what a 200 means. The default
// runs the handler now, with the event's key claimed in the store. The
// transactional step of package dispatch/sqltx (database/sql) or
// dispatch/pgxtx (pgx) runs it inside the host's database transaction, so
// the handler's writes and the key's completion commit together. The
// durable queue of dispatch/riverqueue answers 200 once the event's job is
// committed, and runs the handler on River's workers, with retries and
// dead letters. There is no in-memory queue: an acknowledged event must be
// somewhere that survives the process. [Endpoint.Shutdown] stops accepting
// deliveries and waits for those in flight.
//
// # Ordering
//
// Senders do not keep order: a booking.confirmed can arrive before its
// booking.created, a Stripe subscription's deletion before the update
// that preceded it. [Ordered] guards handlers with an events.Order (each
// sender's default is in its package: conversoevent.Ordering,
// stripeevent.Ordering, twilioevent.Ordering, etailevent.Ordering):
//
//	r.Use(dispatch.Ordered(conversoevent.Ordering))
//
// An event runs only if its position is not older than the last one
// applied for its object; the new position is recorded in the handler's
// transaction (dispatch/sqltx, dispatch/pgxtx, dispatch/riverqueue's
// workers), on a row that is the object's lock, so that one object's
// events run one at a time and different objects' in parallel. An older
// event is answered 200, [OutcomeStale], and never runs; an equal one runs
// and is told so ([Tie]: re-read the object from its sender). A handler
// whose object is not here yet returns [ErrNotYet]: the event is kept
// ([OutcomeKept], 200 once kept durably) and runs again as soon as an
// event of its object is applied, at the latest on a schedule, then
// becomes a dead letter (see ErrNotYet for each step). The default accept
// step keeps positions in memory: see Ordered for what it can promise.
//
// # Every answer in time
//
// Each delivery has one deadline, counted from its arrival ([WithTimeout],
// default 10 s, under the shortest sender's timeout: Twilio's 15 s). It
// bounds everything the accept step waits for — a pool connection, a row
// lock, a batch of acknowledgements — and the handler, which has what
// remains of it. A delivery that could not start its commit by then has
// done nothing and is answered 503 with Retry-After; the sender retries it
// later. One whose commit has started is answered with what the commit
// did. [WithMaxInFlight] turns away, at once, deliveries beyond a number
// in flight. A sender that hung up before its answer is recorded as such
// ([Delivery].SenderGone, in the log line and for observers), so that a
// 200 no one received is not counted as one that was; its retry finds the
// event processed, a duplicate. A queue's worker (dispatch/riverqueue)
// bounds its attempts with a timeout of its own: those run after the 200,
// when no sender waits.
//
// # Replays
//
// A delivery's key is kept for the accept step's keep window (96 hours by
// default, longer than any sender retries): a replay within it is a
// duplicate, answered 200 and not run. Past it, what refuses a replay is
// the sender's signature. Stripe and Standard Webhooks (GoConverso) sign a
// time with the body, and their verifiers refuse it once five minutes old.
// Etail Depot signs its body alone, with the event's "created" time inside
// (GoConverso too, when signed with an HMAC): an Endpoint whose verifier
// accepts signatures of any age refuses, by default, an event older than
// seven eighths of its keep window (84 hours: longer than senders retry,
// shorter than the keys are kept), 400, whatever its signature; set it per
// sender with [WithMaxAge]. Twilio signs no time at all: a captured
// status callback verifies forever, and once its key is forgotten nothing
// about the key says it ran. What protects a host from that is the
// ordering guard ([Ordered] with twilioevent.Ordering, on a durable accept
// step): a message's or a call's position is kept in the host's database
// for good, so an old status replayed late is stale, answered 200 and
// never run, and the last status replayed runs as a tie ([Tie]), which a
// handler whose effect must not repeat skips: each of a message's
// statuses ranks apart, so a tie is the same callback again. The age
// check is the Endpoint's, for deliveries over HTTP: events fetched later
// from a sender's API (Stripe's List Events, a month on) are not refused
// for their age.
//
// # Around the handlers
//
// [Middleware] wraps handlers; the [Router] itself turns a handler's panic
// into a retryable [*PanicError] on every path. The
// [Endpoint] logs one line per delivery with log/slog ([WithLogger]), never
// the body; a queue's workers log each failed attempt. Archives
// ([WithArchive], any number) are told of every verified delivery; a
// record.Archive (package dispatch/record) writes them in the testdata
// fixture format for replay in tests.
//
// # Dead letters
//
// Dead letters go to a [DeadLetterSink] ([MemoryDeadLetters] by default; the
// accept steps of dispatch/sqltx, dispatch/pgxtx and dispatch/riverqueue
// keep theirs in the database). Each of those is a [DeadLetterStore], one
// interface to list them a page at a time ([DeadLetterFilter],
// [DeadLetterPage]), get one, re-run one through its router once the handler
// is fixed (Rerun; [ErrRerunFailed] when it fails again), or discard one.
// Package dispatch/admin serves a [DeadLetterStore] as JSON over HTTP for an
// operator, and package dispatch/deadlettertest is the conformance suite
// every store passes.
//
// # Troubleshooting
//
// A handler runs twice: with the default accept step, its lease ([WithLease],
// default 2 minutes) ran out while it was still working, and a retry took
// the event over; or the process died between the handler's own commit and
// the key's completion. Keep handlers under the deadline ([WithTimeout],
// default 10 s) and the lease above it, or write through the transaction
// (dispatch/sqltx, dispatch/pgxtx, dispatch/riverqueue), where no lease can
// run out.
//
// Deliveries are answered 503 under load, with nothing in the logs but
// "deadline exceeded": they waited for a pool connection, a lock or a
// batch longer than [WithTimeout] allows. The database's pool is smaller
// than the deliveries in flight need (dispatch/riverqueue's doc says how
// large its pool must be); raise it, or bound the deliveries in flight
// ([WithMaxInFlight]). The senders retry them.
package dispatch
