// Package idempotency makes a webhook handler run to success at most once
// per event, although senders deliver the same event more than once —
// retries after a timeout, several at once, to different replicas.
//
// # Claim, then complete or release
//
// A naive deduplicator records "seen" before the handler runs; when that
// handler fails, the sender's retry is dropped as a duplicate and the event
// is lost. A [Store] instead hands out leases:
//
//	c, err := store.Claim(ctx, "stripe:"+eventID, idempotency.DefaultLease)
//	switch {
//	case err != nil:                        // store down: answer 503, the sender retries
//	case c.State == idempotency.Completed:  // done before: answer 200
//	case c.State == idempotency.Busy:       // another delivery is on it: answer 409
//	case c.State == idempotency.Acquired:
//		if handle(event) == nil {
//			store.Complete(ctx, key, c.Token, idempotency.DefaultKeep)
//		} else {
//			store.Release(ctx, key, c.Token)  // the retry may run it again
//		}
//	}
//
// A holder that crashes never completes nor releases; its lease expires and
// the next delivery acquires the key. Every transition is fenced by the
// token: a holder whose lease ran out cannot complete or release the key of
// whoever claimed it next ([ErrLeaseLost]). Package dispatch does all of this
// for you; use a [Store] directly only outside it.
//
// # Durations
//
// Keep completed keys longer than the senders retry: Stripe retries for up
// to three days and the Standard Webhooks schedule ends after about 75
// hours, hence [DefaultKeep] of 96 hours. Make the lease longer than the
// handler's timeout, or a slow handler's key is taken over while it runs.
//
// # Stores
//
// [MemoryStore], in this package, is for one process: nothing to run, but its
// keys vanish on restart and replicas do not share them. Package
// idempotency/redisstore (go-redis) and idempotency/sqlstore (PostgreSQL,
// SQLite through database/sql) share keys between replicas and survive
// restarts; their drivers are linked only if you import them.
//
// # Writing a Store
//
// Package idempotency/storetest is the conformance suite every store
// passes, and yours can run (storetest.Run): among much else, it checks
// that bad arguments (an empty key or token, a lease or keep that is not
// positive) are errors wrapping [ErrInvalid]. A store shared by several
// processes needs claim tokens that cannot collide across them (128 random
// bits, say).
package idempotency
