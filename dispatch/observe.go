package dispatch

import (
	"context"
	"net/http"
	"time"

	"github.com/hookkit/hookkit/events"
)

// Observer is told of every delivery and every attempt at running a
// handler: what a dashboard counts, times and traces. Install observers on
// the Router (Router.Observe); then every Endpoint that routes with it
// reports its deliveries, and every attempt at its handlers is reported
// wherever it runs — during the delivery, in a queue's worker, or when a
// dead letter is re-run. Package dispatch/otelobserver is one.
//
// Each Start is paired with its End, which receives the context that
// Start returned. Observers must be quick, must not panic, and must not
// keep the records they are handed beyond End.
type Observer interface {
	DeliveryObserver
	AttemptObserver
}

// DeliveryObserver is told when an Endpoint starts on a request and when it
// has answered it.
type DeliveryObserver interface {
	// StartDelivery is called as the request arrives, before its body is
	// read, with the request's context and a record of what is known yet
	// (arrival, method, target, headers, the sender when the parser names
	// it). The context it returns is the one the delivery runs in — a
	// queued event's job carries its trace context — so a tracing observer
	// starts its span here; return ctx to change nothing.
	StartDelivery(ctx context.Context, d *Delivery) context.Context
	// EndDelivery is called once the sender is answered, with d complete:
	// event, route, outcome, status, durations.
	EndDelivery(ctx context.Context, d *Delivery)
}

// AttemptObserver is told when a handler starts and when it returns.
type AttemptObserver interface {
	// StartAttempt is called before the handler runs; the handler runs in
	// the context it returns.
	StartAttempt(ctx context.Context, a *AttemptRecord) context.Context
	// EndAttempt is called when the handler has returned, with a complete.
	EndAttempt(ctx context.Context, a *AttemptRecord)
}

// Observe adds observers: they are told of every delivery of the
// Endpoints that route with r, and of every attempt at r's handlers.
// Several may be installed; they start in the order given and end in the
// reverse. With none installed, observing costs nothing: no allocation, no
// clock read beyond the Endpoint's own.
func (r *Router) Observe(obs ...Observer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, o := range obs {
		if o != nil {
			r.observers = append(r.observers, o)
		}
	}
	r.compiled = nil
}

// AttemptKind says where an attempt at a handler runs.
type AttemptKind uint8

const (
	// AttemptSync runs during the delivery, before the sender is answered
	// (the default accept step, dispatch/sqltx, dispatch/pgxtx).
	AttemptSync AttemptKind = iota + 1
	// AttemptAsync runs in a queue's worker after the 200
	// (dispatch/riverqueue, Router.Dispatch).
	AttemptAsync
	// AttemptRerun re-runs a dead letter (Router.Rerun, the dead-letter
	// stores' Rerun).
	AttemptRerun
)

// String returns "sync", "async" or "rerun".
func (k AttemptKind) String() string {
	switch k {
	case AttemptSync:
		return "sync"
	case AttemptAsync:
		return "async"
	case AttemptRerun:
		return "rerun"
	}
	return "unknown"
}

// AttemptRecord is one run of a handler, as an Observer sees it.
type AttemptRecord struct {
	Event *events.Event
	// Route is the pattern the handler is registered under: the type
	// itself, a prefix pattern ("payment_intent.*") or "*". Unlike event
	// types, which senders choose, patterns are bounded by the program:
	// metrics label events with them.
	Route string
	Kind  AttemptKind
	// Number counts the attempts at the event: 1 for the first, then each
	// retry by a queue's worker or re-run of its dead letter (Attempt).
	// The sender's own retries are each a first attempt.
	Number int
	Start  time.Time
	// Duration, Outcome and Err are set when the handler has returned.
	Duration time.Duration
	// Outcome is OutcomeProcessed, OutcomeFailed (the error is retryable,
	// or the handler panicked), OutcomeDeadLettered (Permanent, or a
	// payload that does not decode), OutcomeStale (an ordered handler's
	// event older than its object's last, not run) or OutcomeKept (the
	// handler said ErrNotYet): what the handler's result asks for.
	// A queue that has no attempt left dead-letters a failed one too.
	Outcome Outcome
	Err     error
}

// Timings break a delivery's duration down by step, for Observers.
type Timings struct {
	// Read is the time to receive the body.
	Read time.Duration
	// Verify is the signature check.
	Verify time.Duration
	// Parse is the parse into an Event.
	Parse time.Duration
	// Store is the accept step's own time, outside the handler: the
	// idempotency store's claim and completion, the transaction's begin,
	// claim and commit, or the queue's insert.
	Store time.Duration
	// Handler is the handler's run, when it ran during the delivery.
	Handler time.Duration
}

// QueueStats counts what an accept step holds for later — events waiting
// in a queue, waiting for a retry or running, and dead letters — for
// gauges (dispatch/otelobserver). Stores without a queue count only their
// dead letters.
type QueueStats struct {
	// Queue reports whether the source is a queue: for a dead-letter store
	// alone, Queued, Retrying and Running mean nothing.
	Queue                                  bool
	Queued, Retrying, Running, DeadLetters int64
}

// ReportLost tells r's observers of an attempt at e that ended without
// its handler returning, as a queue that finds its worker died mid-job
// (dispatch/riverqueue's sweep) reports it: one AttemptAsync numbered
// attempt, failed with err, or dead-lettered when final (it was the
// last). The handler does not run.
func (r *Router) ReportLost(ctx context.Context, e *events.Event, attempt int, err error, final bool) {
	c := r.routes()
	_, pattern := c.lookup(e.Type)
	a := &AttemptRecord{Event: e, Route: pattern, Kind: AttemptAsync, Number: attempt, Start: time.Now(), Err: err, Outcome: OutcomeFailed}
	if final {
		a.Outcome = OutcomeDeadLettered
	}
	var buf [4]context.Context
	_, ctxs := c.startAttempt(ctx, a, buf[:0])
	c.endAttempt(a, ctxs)
}

// attempt runs e's handler once as an attempt of kind. An event without a
// handler is an error wrapping ErrNoHandler, and no attempt.
func (c *routes) attempt(ctx context.Context, e *events.Event, kind AttemptKind) error {
	h, pattern := c.lookup(e.Type)
	if h == nil {
		return noHandler(e)
	}
	return c.run(ctx, h, pattern, e, kind)
}

// run runs h for e, telling the observers, and recovers a panic into a
// *PanicError.
func (c *routes) run(ctx context.Context, h Handler, pattern string, e *events.Event, kind AttemptKind) error {
	if len(c.observers) == 0 {
		return call(ctx, h, e)
	}
	a := &AttemptRecord{Event: e, Route: pattern, Kind: kind, Number: Attempt(ctx), Start: time.Now()}
	var buf [4]context.Context
	ctx, ctxs := c.startAttempt(ctx, a, buf[:0])
	err := call(ctx, h, e)
	a.Duration, a.Err = time.Since(a.Start), err
	a.Outcome = outcomeOf(err)
	c.endAttempt(a, ctxs)
	return err
}

// startAttempt tells the observers attempt a starts, and returns the
// context they return, with each observer's own context in ctxs.
func (c *routes) startAttempt(ctx context.Context, a *AttemptRecord, ctxs []context.Context) (context.Context, []context.Context) {
	for _, o := range c.observers {
		if next := o.StartAttempt(ctx, a); next != nil {
			ctx = next
		}
		ctxs = append(ctxs, ctx)
	}
	return ctx, ctxs
}

// endAttempt tells the observers, last first, that attempt a ended.
func (c *routes) endAttempt(a *AttemptRecord, ctxs []context.Context) {
	for i := len(c.observers) - 1; i >= 0; i-- {
		c.observers[i].EndAttempt(ctxs[i], a)
	}
}

// startDelivery tells the observers a delivery starts, and returns r in the
// context they return, with each observer's own context in ctxs.
func (c *routes) startDelivery(r *http.Request, d *Delivery, ctxs []context.Context) (*http.Request, []context.Context) {
	ctx := r.Context()
	for _, o := range c.observers {
		if next := o.StartDelivery(ctx, d); next != nil {
			ctx = next
		}
		ctxs = append(ctxs, ctx)
	}
	if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	return r, ctxs
}

func (c *routes) endDelivery(d *Delivery, ctxs []context.Context) {
	for i := len(c.observers) - 1; i >= 0; i-- {
		c.observers[i].EndDelivery(ctxs[i], d)
	}
}
