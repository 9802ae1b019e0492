package dispatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/hookkit/hookkit/events"
)

// ErrNotYet is what a handler returns, wrapped or not, when the object its
// event is about is not here yet: a booking.confirmed that arrived before
// its booking.created. It is not a failure. The accept step keeps the
// event and runs it again as soon as an event of the same object is
// applied (see Ordered), at the latest after a bounded delay, and
// dead-letters it after a bound; what "kept" means depends on the step:
//
//   - dispatch/sqltx and dispatch/pgxtx: the event is written to a kept
//     events' table with its key's completion, in one transaction, and
//     the sender is answered 200 (OutcomeKept);
//   - dispatch/riverqueue: the job is snoozed, and woken when its object
//     advances;
//   - the default accept step, which keeps nothing durably: the delivery
//     waits, within its deadline (WithTimeout), for its object to
//     advance in this process, and runs again then; past the deadline it
//     is answered 500, and the sender retries it.
//
// The handler's writes of the attempt that returned ErrNotYet are rolled
// back, and its event's position is not recorded: the event that creates
// the object is not made stale by it.
var ErrNotYet = errors.New("dispatch: the event's object is not here yet")

// ErrStale is what an ordered handler (Ordered) returns, without running,
// for an event older than the last one applied for its object. The accept
// steps answer it 200 with OutcomeStale, and keep its key as processed: a
// duplicate of it is a duplicate.
var ErrStale = errors.New("dispatch: the event is older than the last one applied for its object")

// ErrNoGuard is what an ordered handler (Ordered) returns when its context
// carries no Guard: it runs outside an accept step that orders events
// (each of hookkit's does), for example called directly. It is not
// permanent: nothing is dead-lettered for a configuration mistake.
var ErrNoGuard = errors.New("dispatch: no ordering guard in the handler's context: " +
	"run ordered handlers through an Endpoint or a dispatch/riverqueue worker")

// A Guard keeps, for an accept step, the last position applied for each
// object, and is what makes the events of one object run one at a time.
// An accept step puts one in the context of each attempt (WithGuard),
// bound to the attempt's transaction: dispatch/sqltx, dispatch/pgxtx and
// dispatch/riverqueue on the host's database (package dispatch/order), the
// default step in memory. Hosts do not implement it.
type Guard interface {
	// Advance holds object's position (of events from source) for the
	// rest of the attempt — other attempts at the same object wait — and
	// records pos as its position unless pos is older than the last one
	// applied. It returns the last position applied before this attempt,
	// and found false when the object has none yet. What it records is
	// undone with the attempt when the attempt does not commit (its
	// handler failed, or said ErrNotYet).
	Advance(ctx context.Context, source, object string, pos events.Position) (last events.Position, found bool, err error)
}

type guardKey struct{}

// readPosition is an Order's answer for one event, read before its
// handler runs (Acceptance.Position), for the Ordered handler by whose
// Order it was read.
type readPosition struct {
	by     *ordered
	event  *events.Event
	object string
	pos    events.Position
}

type readKey struct{}

// WithGuard returns ctx carrying g, for the ordered handlers (Ordered) the
// attempt runs.
func WithGuard(ctx context.Context, g Guard) context.Context {
	return context.WithValue(ctx, guardKey{}, g)
}

type tieKey struct{}

// Tie reports whether the event an ordered handler runs has the same
// position as the last one applied for its object: then which of the two
// is the newer is unknown to anyone but the sender (two Stripe
// customer.subscription.updated in one second), and the sound answer is
// to read the object from the sender (stripe-go's subscription.Get)
// rather than trust the event's payload.
func Tie(ctx context.Context) bool {
	tie, _ := ctx.Value(tieKey{}).(bool)
	return tie
}

// Ordered returns middleware that guards handlers with o: an event runs
// only if its position (o) is not older than the last one applied for its
// object, and its position is recorded with the handler's writes, in the
// attempt's transaction. An older event does not run: its handler returns
// ErrStale, and the accept step answers 200, OutcomeStale. Events of one
// object run one at a time; events of different objects in parallel. An
// event o says is about no object (an empty object) runs unguarded; one
// whose object or position cannot be read is permanent (it wraps
// events.ErrUndecodable) and is dead-lettered.
//
//	r.Use(dispatch.Ordered(conversoevent.Ordering))          // every handler of r
//	r.Handle("booking.*", dispatch.Ordered(myOrder)(handler)) // one
//
// The guarantees are the accept step's: with dispatch/sqltx, dispatch/pgxtx
// and dispatch/riverqueue the position is a row of the host's database,
// written in the handler's transaction and locked for its length, so they
// hold across replicas and crashes. With the default accept step the
// positions are in this process's memory: they order the events of one
// process while it lives, but are lost when it restarts, are not shared
// with replicas, and a position recorded for a handler whose own writes
// failed to reach its database afterwards is not undone.
func Ordered(o events.Order) Middleware {
	return func(next Handler) Handler { return &ordered{order: o, next: next} }
}

type ordered struct {
	order events.Order
	next  Handler
}

func (h *ordered) Handle(ctx context.Context, e *events.Event) error {
	object, pos, err := h.positionOf(ctx, e)
	switch {
	case err != nil:
		return Permanent(err)
	case object == "":
		return h.next.Handle(ctx, e)
	}
	g, ok := ctx.Value(guardKey{}).(Guard)
	if !ok || g == nil {
		return fmt.Errorf("%s event %s: %w", e.Source, e.ID, ErrNoGuard)
	}
	last, found, err := g.Advance(ctx, e.Source, object, pos)
	if err != nil {
		return fmt.Errorf("ordering guard: object %s: %w", object, err)
	}
	if found {
		switch pos.Compare(last) {
		case -1:
			return &StaleError{Object: object, Position: pos, Last: last}
		case 0:
			ctx = context.WithValue(ctx, tieKey{}, true)
		}
	}
	return h.next.Handle(ctx, e)
}

// positionOf returns e's object and position: as Acceptance.Position read
// them by h's Order, when it did, or by h's Order now.
func (h *ordered) positionOf(ctx context.Context, e *events.Event) (string, events.Position, error) {
	if r, ok := ctx.Value(readKey{}).(*readPosition); ok && r.by == h && r.event == e {
		return r.object, r.pos, nil
	}
	return h.order.Of(e)
}

// StaleError is the error an ordered handler returns for an event older
// than the last one applied for its object; it wraps ErrStale.
type StaleError struct {
	Object         string
	Position, Last events.Position
}

func (s *StaleError) Error() string {
	return fmt.Sprintf("object %s: position %d/%d is older than %d/%d, applied: %v",
		s.Object, s.Position.At, s.Position.Rank, s.Last.At, s.Last.Rank, ErrStale)
}

// Unwrap returns ErrStale.
func (s *StaleError) Unwrap() error { return ErrStale }

// outcomeOf is the outcome an attempt's error asks for.
func outcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OutcomeProcessed
	case errors.Is(err, ErrStale):
		return OutcomeStale
	case errors.Is(err, ErrNotYet):
		return OutcomeKept
	case IsPermanent(err):
		return OutcomeDeadLettered
	}
	return OutcomeFailed
}

// anyOrdered reports whether some handler of r is guarded by Ordered:
// through Use (each middleware is tried on a probe handler: Ordered's
// returns its own type) or registered as Ordered(o)(h). r.mu is held.
func (r *Router) anyOrdered() bool {
	probe := HandlerFunc(func(context.Context, *events.Event) error { return nil })
	for _, mw := range r.middleware {
		if _, ok := mw(probe).(*ordered); ok {
			return true
		}
	}
	if _, ok := r.any.(*ordered); ok {
		return true
	}
	for _, h := range r.exact {
		if _, ok := h.(*ordered); ok {
			return true
		}
	}
	for _, p := range r.prefixes {
		if _, ok := p.handler.(*ordered); ok {
			return true
		}
	}
	return false
}

// Position returns the object the event is about and its position, as
// the event's handler will read them first, when that handler is guarded
// by Ordered outermost (Ordered is the first middleware the Router Uses,
// or the handler was registered as Ordered(o)(h) in a Router without
// middleware); ok is false otherwise, and for an event Ordered runs
// unguarded or dead-letters (no object, or one that cannot be read). An
// accept step may then advance the object in the statement that claims
// the event's key (dispatch/sqltx and dispatch/pgxtx do on PostgreSQL),
// with the Guard it gives the handler answering the handler's Advance of
// the same object and position.
//
// The Order runs here outside the handler's panic recovery: an Order that
// panics reports ok false, and panics again in the handler's run, where
// it is recovered into a *PanicError.
func (a Acceptance) Position() (object string, pos events.Position, ok bool) {
	h, guarded := a.handler.(*ordered)
	if !guarded {
		return "", events.Position{}, false
	}
	defer func() {
		if recover() != nil {
			object, pos, ok = "", events.Position{}, false
		}
	}()
	object, pos, err := h.order.Of(a.Event)
	if err != nil || object == "" {
		return "", events.Position{}, false
	}
	if a.d != nil { // Run hands it to the handler, which reads it once
		a.d.read = readPosition{by: h, event: a.Event, object: object, pos: pos}
	}
	return object, pos, true
}

// Ordered reports whether the event's Router guards some handler with
// Ordered: only then does an accept step need to put a Guard in the
// handler's context (an unordered Router pays nothing for ordering).
func (a Acceptance) Ordered() bool { return a.routes != nil && a.routes.ordered }
