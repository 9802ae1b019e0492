// Package dispatch is what a host mounts: an Endpoint, one http.Handler per
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
// permanent. Events of a type without a handler are acknowledged and logged
// (see UnknownPolicy for the alternatives).
//
// # Deduplication
//
// Each event's key (source and ID) is claimed in an idempotency.Store
// before its handler runs, completed when it succeeds, released when it
// fails. A second delivery of a processed event is answered 200 without
// running anything; one that arrives while the first is still running gets
// 409, so the sender retries later. The default store is in memory, right
// for one process; replicas share a Redis or SQL store (WithStore).
//
// # Async mode
//
// WithAsync answers 200 as soon as the event is claimed and enqueued, and
// runs handlers on a pool of workers with exponential backoff and jitter,
// dead-lettering after the last attempt. The ready queue, MemoryQueue, is
// bounded (a full queue is answered 503 with Retry-After) and lives in
// memory: events in it are lost if the process dies, after the sender was
// told 200. Use it where that is acceptable, or give AsyncConfig a durable
// Queue. Call Endpoint.Shutdown to drain it.
//
// # Around the handlers
//
// Middleware wraps handlers: Recover (panics become retryable errors; the
// Endpoint always recovers) and Timeout. The Endpoint logs one line per
// delivery with log/slog (WithLogger), never the body; async workers one
// line per failed attempt.
// Archives (WithArchive, any number) are told of every verified delivery;
// record.Dir (package dispatch/record) writes them in the testdata fixture
// format for replay in tests. Dead letters go to a DeadLetterSink (MemoryDeadLetters by default)
// and can be re-run through the router once the handler is fixed.
package dispatch
