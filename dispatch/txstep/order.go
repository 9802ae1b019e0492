package txstep

import (
	"context"
	"fmt"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/order"
	"github.com/hookkit/hookkit/idempotency"
)

// guard returns the handler's context: tx, and the transaction's ordering
// guard when the Database orders events.
func (a *acceptor[Tx]) guard(ctx context.Context, acc dispatch.Acceptance, tx Tx) (context.Context, *order.TxGuard[Tx]) {
	ctx = WithTx(ctx, tx)
	if a.order == nil || !acc.Ordered() {
		return ctx, nil
	}
	a.route(acc) // a restarted process's Keeper starts with its first ordered delivery
	g := a.order.Guard(tx)
	return dispatch.WithGuard(ctx, g), g
}

// committed answers a delivery whose transaction committed: processed, or
// stale (err wraps dispatch.ErrStale: its key is completed, its handler
// never ran). The Keeper is woken for the objects the transaction
// advanced that have events kept, and learns the delivery's Router.
func (a *acceptor[Tx]) committed(acc dispatch.Acceptance, g *order.TxGuard[Tx], err error) dispatch.Result {
	if g != nil {
		if advanced := g.Advanced(); len(advanced) > 0 {
			a.route(acc)
			a.keeper.Wake(advanced...)
		}
	}
	if err != nil {
		return dispatch.Result{Outcome: dispatch.OutcomeStale, Err: err}
	}
	return dispatch.Result{Outcome: dispatch.OutcomeProcessed, Err: nil}
}

// route has the Keeper run kept events of the delivery's source with its
// Router (and starts it).
func (a *acceptor[Tx]) route(acc dispatch.Acceptance) {
	if r := acc.Router(); r != nil {
		a.keeper.Route(acc.Event.Source, r)
	}
}

// keep stores an event whose handler said dispatch.ErrNotYet in a
// transaction of its own that claims its key again: the kept event and the
// key's completion commit together, and the sender is answered 200, kept.
// If the key was taken meanwhile, its holder decides.
func (a *acceptor[Tx]) keep(ctx context.Context, acc dispatch.Acceptance, g *order.TxGuard[Tx], cause error) dispatch.Result {
	if late := ctx.Err(); late != nil {
		return dispatch.Result{Outcome: dispatch.OutcomeUnavailable,
			Err: fmt.Errorf("not kept: the handler returned after the delivery's deadline: %w: %w", late, cause)}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	tx, state, err := a.begin(ctx, acc.Event.Key())
	if err != nil || state != idempotency.Acquired {
		if err != nil {
			err = fmt.Errorf("not kept: %w: %w", err, cause)
		}
		return claimed(state, err)
	}
	due, err := a.order.KeepTx(ctx, tx, acc.Event, g, cause)
	if err != nil {
		a.rollback(tx)
		return dispatch.Result{Outcome: dispatch.OutcomeFailed, Err: fmt.Errorf("not kept: %w: %w", err, cause)}
	}
	if err := a.db.End(ctx, tx, true); err != nil {
		return dispatch.Result{Outcome: dispatch.OutcomeUnavailable, Err: fmt.Errorf("kept event not committed: %w: %w", err, cause)}
	}
	a.route(acc)
	if o, ok := g.Object(); due && ok {
		a.keeper.Wake(o) // its object advanced while it was being kept
	}
	return dispatch.Result{Outcome: dispatch.OutcomeKept, Err: cause}
}
