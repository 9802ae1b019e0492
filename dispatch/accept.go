package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/internal/logtext"
)

// An Acceptor is the last step of an Endpoint: it takes an event the
// Endpoint has read, verified and parsed, and decides what a 200 means. The
// Endpoint answers the sender with the Result's Outcome. Each Acceptor
// promises one thing, the README's "Delivery guarantees" table says which:
//
//   - the default (WithStore): claim the event in an idempotency store, run
//     its handler, complete or release the claim: 200 means the handler
//     returned nil;
//   - sqltx and pgxtx: claim and run inside the host's own transaction: 200
//     means the handler's writes and the key's completion are committed,
//     together;
//   - riverqueue: insert a durable job: 200 means the insert is committed.
type Acceptor interface {
	Accept(ctx context.Context, a Acceptance) Result
}

// Acceptance is what an Endpoint hands its Acceptor: the event, and how to
// run its handler once. The context Accept receives carries the request's
// values but is not canceled when the sender hangs up (half-done work is
// worse than a duplicate answered 200); it ends at the delivery's deadline
// (WithTimeout), and when Shutdown's deadline passes.
//
// The deadline bounds every wait of the accept step: for a pool
// connection, a row lock, a batch, the handler. An Acceptor that could not
// start its commit by then undoes what it began and answers
// OutcomeUnavailable (503, with Retry-After: the sender retries an event
// of which nothing was kept); one whose commit has started lets it finish,
// on a context of its own, and answers with what the commit did.
type Acceptance struct {
	// Event is the delivery, verified and parsed.
	Event *events.Event

	handler  Handler // nil in an Acceptance not made by an Endpoint
	route    string  // the handler's pattern
	routes   *routes
	router   *Router
	ep       *Endpoint
	d        *Delivery // the delivery being accepted
	timed    bool      // the handler's time is added to d.Timings.Handler
	deadline time.Time // the delivery's
}

// ErrAcceptanceClosed means an Acceptor called Acceptance.Run after its
// Accept returned: the Endpoint has answered the sender by then, and its
// observers are reading the delivery. An Acceptor runs the handler inside
// Accept, or hands the event to a queue whose workers run it (as
// dispatch/riverqueue does), never both.
var ErrAcceptanceClosed = errors.New("dispatch: Acceptance.Run called after Accept returned")

// Run runs the event's handler once, as its first attempt, in ctx (an
// Acceptor that holds a transaction passes it in ctx), with a panic
// recovered into a *PanicError. The handler has what remains of the
// delivery's deadline (WithTimeout), even if ctx has none. An event whose
// type has no handler fails permanently, wrapping ErrNoHandler.
func (a Acceptance) Run(ctx context.Context) error {
	if a.d != nil {
		if !atomic.CompareAndSwapInt32(&a.d.run, runIdle, runBusy) {
			return ErrAcceptanceClosed
		}
		defer a.ep.endRun(a.d)
	}
	if a.handler == nil {
		return Permanent(noHandler(a.Event))
	}
	if end, ok := ctx.Deadline(); !a.deadline.IsZero() && (!ok || end.After(a.deadline)) {
		// Not the Endpoint's context (an Acceptor's own): the deadline
		// still holds.
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, a.deadline)
		defer cancel()
	}
	if a.d != nil && a.d.read.event == a.Event && a.Event != nil {
		ctx = context.WithValue(ctx, readKey{}, &a.d.read) // Position read it
	}
	if !a.timed { // no observer
		return a.routes.run(ctx, a.handler, a.route, a.Event, AttemptSync)
	}
	start := time.Now()
	err := a.routes.run(ctx, a.handler, a.route, a.Event, AttemptSync)
	a.d.Timings.Handler += time.Since(start)
	return err
}

// Router returns the Router the event is routed with: an accept step that
// runs the event again after Accept has returned (a kept event, see
// ErrNotYet) runs it with this Router's Dispatch.
func (a Acceptance) Router() *Router { return a.router }

// endRun ends a run of d's handler, and wakes closeAcceptance if it waits
// for it.
func (e *Endpoint) endRun(d *Delivery) {
	if atomic.SwapInt32(&d.run, runIdle) == runWaited {
		e.runMu.Lock()
		e.runDone.Broadcast()
		e.runMu.Unlock()
	}
}

// closeAcceptance forbids further runs of d's handler, waiting for a run
// that an Acceptor left behind (a bug in it) to end first, so that nothing
// writes d while the Endpoint reads it. Without such a run, it takes no
// lock.
func (e *Endpoint) closeAcceptance(d *Delivery) {
	if atomic.CompareAndSwapInt32(&d.run, runIdle, runClosed) {
		return
	}
	e.runMu.Lock()
	defer e.runMu.Unlock()
	for !atomic.CompareAndSwapInt32(&d.run, runIdle, runClosed) && atomic.LoadInt32(&d.run) != runClosed {
		// Mark the run waited for, under runMu: endRun then takes runMu to
		// signal, which it cannot do before Wait has released it.
		if atomic.CompareAndSwapInt32(&d.run, runBusy, runWaited) || atomic.LoadInt32(&d.run) == runWaited {
			e.runDone.Wait()
		}
	}
}

// Result is how an Acceptor ended a delivery: the Outcome the sender is
// answered with, and the error behind it (logged, never sent).
type Result struct {
	Outcome Outcome
	Err     error
}

// claimAcceptor is the default accept step: claim the event's key in an
// idempotency store, run the handler, then complete the claim (success, or
// a permanent failure once dead-lettered) or release it (a retryable
// failure, so the sender's retry runs it again).
type claimAcceptor struct {
	store       idempotency.Store
	lease, keep time.Duration
	deadLetters DeadLetterSink
	logger      *slog.Logger
	positions   *memoryPositions // for ordered handlers (Ordered)
}

func (c *claimAcceptor) Accept(ctx context.Context, a Acceptance) Result {
	key := a.Event.Key()
	claim, err := c.store.Claim(ctx, key, c.lease)
	if err != nil {
		return Result{OutcomeUnavailable, err}
	}
	switch claim.State {
	case idempotency.Completed:
		return Result{OutcomeDuplicate, nil}
	case idempotency.Busy:
		return Result{OutcomeBusy, nil}
	}
	if a.Ordered() {
		err = c.positions.runOrdered(ctx, a)
	} else {
		err = a.Run(ctx)
	}
	switch {
	case err == nil:
		c.complete(key, claim.Token, a.Event)
		return Result{OutcomeProcessed, nil}
	case errors.Is(err, ErrStale):
		c.complete(key, claim.Token, a.Event)
		return Result{OutcomeStale, err}
	case IsPermanent(err):
		if dlErr := c.deadLetter(a.Event, err); dlErr != nil {
			// Not stored anywhere: the sender must keep it.
			c.release(key, claim.Token, a.Event)
			return Result{OutcomeFailed, fmt.Errorf("dead letter not stored: %w: %w", dlErr, err)}
		}
		c.complete(key, claim.Token, a.Event)
		return Result{OutcomeDeadLettered, err}
	}
	c.release(key, claim.Token, a.Event)
	return Result{OutcomeFailed, err}
}

// storeCtx bounds a completion or release, which must happen even when the
// request or the shutdown context has ended.
func storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// completionCtx is storeCtx for a completion or release in c's store: the
// memory store, which never waits on anything, needs no bound (and its
// timer and context are then not made for every delivery).
func (c *claimAcceptor) completionCtx() (context.Context, context.CancelFunc) {
	if _, inMemory := c.store.(*idempotency.MemoryStore); inMemory {
		return context.Background(), func() {}
	}
	return storeCtx()
}

func (c *claimAcceptor) deadLetter(ev *events.Event, cause error) error {
	ctx, cancel := storeCtx()
	defer cancel()
	ctx = context.WithValue(ctx, positionsKey{}, c.positions) // for MemoryDeadLetters' re-runs
	return c.deadLetters.DeadLetter(ctx, DeadLetter{Event: ev, Err: cause, Attempts: 1, At: time.Now()})
}

func (c *claimAcceptor) complete(key, token string, ev *events.Event) {
	ctx, cancel := c.completionCtx()
	defer cancel()
	if err := c.store.Complete(ctx, key, token, c.keep); err != nil {
		// The handler succeeded; answering anything but 200 would make the
		// sender retry work already done. A later duplicate may run it
		// again once the lease ends: at-least-once, as this step promises.
		c.logger.LogAttrs(ctx, slog.LevelError, "webhook processed, but its completion was not recorded; a later duplicate may run it again",
			slog.String("key", logtext.Clip(key, maxLoggedTarget)), slog.String("type", ev.Type), errAttr(err))
	}
}

func (c *claimAcceptor) release(key, token string, ev *events.Event) {
	ctx, cancel := c.completionCtx()
	defer cancel()
	if err := c.store.Release(ctx, key, token); err != nil && !errors.Is(err, idempotency.ErrLeaseLost) {
		c.logger.LogAttrs(ctx, slog.LevelError, "webhook claim not released; it frees itself when its lease ends",
			slog.String("key", logtext.Clip(key, maxLoggedTarget)), slog.String("type", ev.Type), errAttr(err))
	}
}
