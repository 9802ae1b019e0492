// Package reconcile recovers the webhook events a sender kept and never
// delivered, from the sender's own API.
//
// A webhook that never arrives leaves the host wrong for good: Stripe
// retries for up to three days, then gives up; Twilio gives up after four
// attempts in about 36 minutes. After an outage longer than that (a bad
// deploy over a weekend, an expired certificate, a tunnel that died), a
// booking stays "pending" although it was paid. Stripe's documentation
// tells receivers to recover such events from its List Events API; Twilio's
// Messages resource holds each message's current status.
//
// A Reconciler reads its Source — NewStripe here, Twilio's in the nested
// module dispatch/reconcile/twilioreconcile — for the event types its
// Endpoint's router handles (dispatch.Router.Patterns: a host without a
// handler for a type never fetches it), and feeds each event to the
// Endpoint through dispatch.Endpoint.Recover: the same parser, keys and
// accept step a delivery goes through (and the ordering guard, where the
// host has one), so that an event that arrives both by webhook and by
// reconciliation runs once, whichever comes first. A recovered event is
// reported to the router's observers with dispatch.OutcomeRecovered.
//
// # Checkpoints
//
// A run works through a window of time, [Since, Until], Until lagging now
// by Config.Lag; the first run's window starts Config.Lookback back (72
// hours by default, within the accept steps' 96-hour keep window, so that
// what was delivered is recognised). The Checkpoint — window, stream,
// cursor of the next page — is kept in the host's database (NewSQLStore,
// PostgreSQL or SQLite) and moves past a page only once every event of it
// was accepted (Outcome.Acknowledged): a run stopped by its bounds
// (Config.MaxEvents, Config.MaxDuration), by an event its handler failed,
// or by a crash resumes with the first page not wholly accepted, and the
// events of that page accepted already are duplicates then, not repeated
// effects. The Store's statements are short and separate: no database
// connection is held while a run waits on the sender's API.
//
// Stripe lists newest first, so within a window events are fed newest
// first: a host whose state depends on order needs the ordering guard
// (package events' Order), which makes the older event a harmless stale
// one, as it does for deliveries that arrive out of order.
//
// # Rate limits
//
// A 429 is waited out — Retry-After as the sender says, otherwise a
// backoff doubling from Config.MinBackoff to Config.MaxBackoff — and the
// same page asked for again. A storm of 429s slows a run; one that
// outlasts Config.MaxDuration ends the run as "max-duration", not as an
// error, and the next run goes on from the checkpoint.
//
// # Running it
//
// Run runs once; Start runs once in the background (the admin API's
// "start"); Every runs on a ticker. With River as the accept step,
// dispatch/riverqueue's AddReconcile makes each Reconciler a periodic
// River job, which one replica runs at a time. Whichever way, runs of one
// Source never overlap: the Store's lease refuses a second (ErrRunning).
// Each run logs one line with its counts and gives its Report to
// Config.Observe; Status returns the checkpoint and the last run's Report
// for package dispatch/admin.
//
// # Secrets
//
// API keys come from the host (StripeConfig.Key; twilioreconcile's
// Config). They are sent to the sender only, never logged, and taken out
// of any error text a sender's client returns.
package reconcile
