package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// TxDatabase is what the transactional accept step needs from the host's
// database, for transactions of type Tx (*sql.Tx, pgx.Tx). Packages
// dispatch/sqltx and dispatch/pgxtx provide it; a host uses those, not this.
type TxDatabase[Tx any] interface {
	// Begin opens a transaction.
	Begin(ctx context.Context) (Tx, error)
	// End commits tx, or rolls it back.
	End(ctx context.Context, tx Tx, commit bool) error
	// ClaimTx claims key inside tx, writing it as completed (see
	// sqlstore.Store.ClaimTx).
	ClaimTx(ctx context.Context, tx Tx, key string) (idempotency.State, error)
	// DeadLetterTx stores dl inside tx.
	DeadLetterTx(ctx context.Context, tx Tx, dl DeadLetter) error
}

// TxAcceptor runs each event's handler inside one transaction on the host's
// database, in which the event's key is claimed first: the handler's writes
// and the key's completion commit together, or not at all.
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
//
// The handler reaches the transaction through its context
// (sqltx.Tx(ctx), pgxtx.Tx(ctx)); a handler that does not use it still
// works, without the guarantee for its own side effects.
type TxAcceptor[Tx any] struct {
	db TxDatabase[Tx]
}

// NewTxAcceptor returns the transactional accept step on db.
func NewTxAcceptor[Tx any](db TxDatabase[Tx]) *TxAcceptor[Tx] { return &TxAcceptor[Tx]{db: db} }

// ErrNoTransaction is what a handler that needs the host's transaction
// returns when its context carries none (sqltx.Tx or pgxtx.Tx said ok =
// false): its Endpoint was mounted without the transactional accept step
// (dispatch.WithAcceptor(db.Acceptor()) of dispatch/sqltx or dispatch/pgxtx)
// and is not a dispatch/riverqueue worker. It is not permanent: the sender
// retries until the Endpoint is mounted as it should be, and nothing is
// dead-lettered for a configuration mistake.
var ErrNoTransaction = errors.New("dispatch: no transaction in the handler's context: " +
	"mount its Endpoint with dispatch.WithAcceptor(db.Acceptor()) from dispatch/sqltx or dispatch/pgxtx, or run it through dispatch/riverqueue")

type txKey[Tx any] struct{}

// WithTx returns ctx carrying tx, for TxFromContext.
func WithTx[Tx any](ctx context.Context, tx Tx) context.Context {
	return context.WithValue(ctx, txKey[Tx]{}, tx)
}

// TxFromContext returns the transaction of type Tx a handler runs in, and
// whether there is one. Hosts call the typed wrappers, sqltx.Tx and
// pgxtx.Tx.
func TxFromContext[Tx any](ctx context.Context) (Tx, bool) {
	tx, ok := ctx.Value(txKey[Tx]{}).(Tx)
	return tx, ok
}

// Accept implements Acceptor.
func (a *TxAcceptor[Tx]) Accept(ctx context.Context, acc Acceptance) Result {
	key := acc.Event.Key()
	tx, state, err := a.begin(ctx, key)
	if err != nil || state != idempotency.Acquired {
		return claimed(state, err)
	}
	err = acc.Run(WithTx(ctx, tx))
	switch {
	case err == nil:
		if err := a.db.End(ctx, tx, true); err != nil {
			// Committed or not, the sender's retry finds out: a duplicate
			// if it was, a first run if it was not.
			return Result{OutcomeUnavailable, fmt.Errorf("commit: %w", err)}
		}
		return Result{OutcomeProcessed, nil}
	case IsPermanent(err):
		a.rollback(tx)
		return a.deadLetter(ctx, acc, err)
	}
	a.rollback(tx)
	return Result{OutcomeFailed, err}
}

// begin opens a transaction and claims key in it; unless the claim is
// Acquired, the transaction is already rolled back.
func (a *TxAcceptor[Tx]) begin(ctx context.Context, key string) (Tx, idempotency.State, error) {
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

// claimed is the answer to a claim that did not take the key.
func claimed(state idempotency.State, err error) Result {
	switch {
	case err != nil:
		return Result{OutcomeUnavailable, err}
	case state == idempotency.Completed:
		return Result{OutcomeDuplicate, nil}
	}
	return Result{OutcomeBusy, nil}
}

// deadLetter stores a permanently failed event in a transaction of its own
// that claims its key again: the dead letter and the key's completion
// commit together. If the key was taken meanwhile, its holder decides: a
// duplicate delivery may have found the cause fixed and processed it.
func (a *TxAcceptor[Tx]) deadLetter(ctx context.Context, acc Acceptance, cause error) Result {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second) // even past Shutdown's deadline
	defer cancel()
	tx, state, err := a.begin(ctx, acc.Event.Key())
	if err != nil || state != idempotency.Acquired {
		if err != nil {
			err = fmt.Errorf("dead letter not stored: %w: %w", err, cause)
		}
		return claimed(state, err)
	}
	dl := DeadLetter{Event: acc.Event, Err: cause, Attempts: 1, At: time.Now()}
	if err := a.db.DeadLetterTx(ctx, tx, dl); err != nil {
		a.rollback(tx)
		return Result{OutcomeFailed, fmt.Errorf("dead letter not stored: %w: %w", err, cause)}
	}
	if err := a.db.End(ctx, tx, true); err != nil {
		return Result{OutcomeUnavailable, fmt.Errorf("dead letter not committed: %w: %w", err, cause)}
	}
	return Result{OutcomeDeadLettered, cause}
}

func (a *TxAcceptor[Tx]) rollback(tx Tx) {
	ctx, cancel := storeCtx()
	defer cancel()
	// A rollback that fails leaves the transaction to the database, which
	// aborts it with its connection: nothing it did is committed.
	_ = a.db.End(ctx, tx, false)
}
