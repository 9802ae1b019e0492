package txstep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/order"
	"github.com/hookkit/hookkit/idempotency"
)

// acceptor is the step New returns.
type acceptor[Tx any] struct {
	db      Database[Tx]
	order   *order.Tables[Tx] // nil: the Database orders nothing
	keeper  *order.Keeper[Tx]
	claimer OrderedClaim[Tx] // nil: ordered events are claimed, then advanced
}

// New returns the transactional accept step on db, for
// dispatch.WithAcceptor (a nil db is an error wrapping
// dispatch.ErrInvalidConfig). It runs each event's handler inside one
// transaction on the host's database, in which the event's key is claimed
// first: the handler's writes and the key's completion commit together, or
// not at all.
//
//   - A handler that succeeds: its writes and the key commit together, in
//     one commit; 200.
//   - A duplicate of a committed event: 200, without running. One being
//     processed by another transaction: the claim waits for it (409 past a
//     short lock timeout on PostgreSQL), never runs beside it.
//   - A handler error, panic or timeout: everything rolls back, the key is
//     free; 500, and the sender's retry runs it again.
//   - A permanent failure: the handler's writes roll back; the key's
//     completion and the dead letter commit together in a second
//     transaction; 200.
//   - A crash at any point: the database aborts the unfinished transaction,
//     so either nothing or everything is committed. There is no lease to
//     wait out, and no window in which the handler could run twice.
//   - The delivery's deadline (dispatch.WithTimeout) bounds the wait for a
//     pool connection, the claim's row lock and the handler: a delivery
//     that could not start its commit by then rolls back and is answered
//     503, having done nothing. A commit that has started is not
//     interrupted.
//
// The handler reaches the transaction through its context
// (TxFrom; sqltx.Tx and pgxtx.Tx); a handler that does not use it
// still works, without the guarantee for its own side effects.
func New[Tx any](db Database[Tx]) (dispatch.Acceptor, error) {
	if db == nil {
		return nil, fmt.Errorf("txstep: nil Database: %w", dispatch.ErrInvalidConfig)
	}
	a := &acceptor[Tx]{db: db}
	if o, ok := db.(Ordering[Tx]); ok {
		a.order, a.keeper = o.Order()
		a.claimer, _ = db.(OrderedClaim[Tx])
	}
	return a, nil
}

// Accept implements dispatch.Acceptor.
func (a *acceptor[Tx]) Accept(ctx context.Context, acc dispatch.Acceptance) dispatch.Result {
	tx, err := a.db.Begin(ctx)
	if err != nil {
		return claimed(0, fmt.Errorf("begin: %w", err))
	}
	runCtx, g := a.guard(ctx, acc, tx)
	state, err := a.claim(ctx, tx, acc, g)
	if err != nil || state != idempotency.Acquired {
		a.rollback(tx)
		return claimed(state, err)
	}
	err = acc.Run(runCtx)
	stale := errors.Is(err, dispatch.ErrStale)
	switch {
	case err == nil || stale:
		if late := ctx.Err(); late != nil {
			// The delivery's deadline (or Shutdown's) passed while the
			// handler ran: its commit cannot start, nothing is kept, and
			// the sender retries.
			a.rollback(tx)
			return dispatch.Result{Outcome: dispatch.OutcomeUnavailable, Err: fmt.Errorf("not committed: the handler returned after the delivery's deadline: %w", late)}
		}
		// A commit that has started is seen through, past the deadline:
		// the sender is answered with what it did.
		commitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
		defer cancel()
		if err := a.db.End(commitCtx, tx, true); err != nil {
			// Committed or not, the sender's retry finds out: a duplicate
			// if it was, a first run if it was not.
			return dispatch.Result{Outcome: dispatch.OutcomeUnavailable, Err: fmt.Errorf("commit: %w", err)}
		}
		return a.committed(acc, g, err)
	case a.order != nil && errors.Is(err, dispatch.ErrNotYet):
		a.rollback(tx)
		return a.keep(ctx, acc, g, err)
	case dispatch.IsPermanent(err):
		a.rollback(tx)
		return a.deadLetter(ctx, acc, err)
	}
	a.rollback(tx)
	return dispatch.Result{Outcome: dispatch.OutcomeFailed, Err: err}
}

// commitTimeout bounds a commit, which the delivery's deadline does not
// interrupt, and the dead letter's transaction.
const commitTimeout = 5 * time.Second

// begin opens a transaction and claims key in it; unless the claim is
// Acquired, the transaction is already rolled back.
func (a *acceptor[Tx]) begin(ctx context.Context, key string) (Tx, idempotency.State, error) {
	tx, err := a.db.Begin(ctx)
	if err != nil {
		return tx, 0, fmt.Errorf("begin: %w", err)
	}
	state, err := a.db.ClaimTx(ctx, tx, key)
	if err != nil || state != idempotency.Acquired {
		a.rollback(tx)
	}
	return tx, state, err
}

// claim claims the event's key in tx: with its object's advance, in one
// statement, when the Database can and the event's handler reads its
// object and position first.
func (a *acceptor[Tx]) claim(ctx context.Context, tx Tx, acc dispatch.Acceptance, g *order.TxGuard[Tx]) (idempotency.State, error) {
	if g != nil && a.claimer != nil {
		if object, pos, ok := acc.Position(); ok {
			return a.claimer.ClaimOrderedTx(ctx, tx, acc.Event.Key(), g, acc.Event.Source, object, pos)
		}
	}
	return a.db.ClaimTx(ctx, tx, acc.Event.Key())
}

// claimed is the answer to a claim that did not take the key.
func claimed(state idempotency.State, err error) dispatch.Result {
	switch {
	case err != nil:
		return dispatch.Result{Outcome: dispatch.OutcomeUnavailable, Err: err}
	case state == idempotency.Completed:
		return dispatch.Result{Outcome: dispatch.OutcomeDuplicate, Err: nil}
	}
	return dispatch.Result{Outcome: dispatch.OutcomeBusy, Err: nil}
}

// deadLetter stores a permanently failed event in a transaction of its own
// that claims its key again: the dead letter and the key's completion
// commit together. If the key was taken meanwhile, its holder decides: a
// duplicate delivery may have found the cause fixed and processed it.
func (a *acceptor[Tx]) deadLetter(ctx context.Context, acc dispatch.Acceptance, cause error) dispatch.Result {
	if late := ctx.Err(); late != nil {
		// Past the deadline, no commit starts: the sender retries, and the
		// handler's permanent failure is dead-lettered then.
		return dispatch.Result{Outcome: dispatch.OutcomeUnavailable,
			Err: fmt.Errorf("dead letter not stored: the handler returned after the delivery's deadline: %w: %w", late, cause)}
	}
	// Begun within the deadline, the dead letter's transaction is seen
	// through, even past it, or past Shutdown's.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	tx, state, err := a.begin(ctx, acc.Event.Key())
	if err != nil || state != idempotency.Acquired {
		if err != nil {
			err = fmt.Errorf("dead letter not stored: %w: %w", err, cause)
		}
		return claimed(state, err)
	}
	dl := dispatch.DeadLetter{Event: acc.Event, Err: cause, Attempts: 1, At: time.Now()}
	if err := a.db.DeadLetterTx(ctx, tx, dl); err != nil {
		a.rollback(tx)
		return dispatch.Result{Outcome: dispatch.OutcomeFailed, Err: fmt.Errorf("dead letter not stored: %w: %w", err, cause)}
	}
	if err := a.db.End(ctx, tx, true); err != nil {
		return dispatch.Result{Outcome: dispatch.OutcomeUnavailable, Err: fmt.Errorf("dead letter not committed: %w: %w", err, cause)}
	}
	return dispatch.Result{Outcome: dispatch.OutcomeDeadLettered, Err: cause}
}

func (a *acceptor[Tx]) rollback(tx Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // even past the request's end
	defer cancel()
	// A rollback that fails leaves the transaction to the database, which
	// aborts it with its connection: nothing it did is committed.
	_ = a.db.End(ctx, tx, false)
}
