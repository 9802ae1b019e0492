package txstep

import (
	"context"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/order"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/idempotency"
)

// Driver opens and ends transactions of type Tx (*sql.Tx, pgx.Tx, ...).
type Driver[Tx any] interface {
	// Begin opens a transaction.
	Begin(ctx context.Context) (Tx, error)
	// End commits tx when commit is true, and rolls it back otherwise; a
	// rollback of a transaction already ended is not an error.
	End(ctx context.Context, tx Tx, commit bool) error
}

// Database is what the transactional accept step needs from the host's
// database, for transactions of type Tx.
type Database[Tx any] interface {
	Driver[Tx]
	// ClaimTx claims key inside tx, writing it as completed: the claim
	// commits with tx, or is gone with its rollback (see
	// sqlstore.Store.ClaimTx). A key another transaction holds waits for
	// it, or is Busy after a bounded wait.
	ClaimTx(ctx context.Context, tx Tx, key string) (idempotency.State, error)
	// DeadLetterTx stores dl inside tx.
	DeadLetterTx(ctx context.Context, tx Tx, dl dispatch.DeadLetter) error
}

// Config configures hookkit's tables on the host's database, for
// dispatch/sqltx and dispatch/pgxtx. The zero value is ready to use.
type Config struct {
	// IdempotencyTable is the idempotency keys' table (default
	// "hookkit_idempotency": sqlstore.DefaultTable, pgxstore.DefaultTable).
	IdempotencyTable string
	// DeadLetterTable is the dead letters' table (default
	// "hookkit_dead_letters").
	DeadLetterTable string
	// Keep is how long a processed event's key is remembered (default
	// idempotency.DefaultKeep, 96 hours).
	Keep time.Duration
	// LockTimeout bounds, on PostgreSQL, how long a delivery waits for
	// another transaction that holds the same event before it is answered
	// 409 (default 2 seconds: sqlstore.DefaultLockTimeout,
	// pgxstore.DefaultLockTimeout).
	LockTimeout time.Duration
	// PositionTable and KeptTable are the ordering guard's tables (default
	// "hookkit_positions" and "hookkit_kept": package dispatch/order),
	// used by ordered handlers (dispatch.Ordered) and kept events
	// (dispatch.ErrNotYet).
	PositionTable, KeptTable string
}

// Ordering is what a Database that orders events adds (dispatch/sqltx's
// and dispatch/pgxtx's do): its positions' and kept events' tables
// (package dispatch/order), and the Keeper that runs kept events again.
// With it, the step puts the transaction's guard in the handler's context
// (dispatch.Ordered reads it), answers a stale event 200 with its key
// completed, and keeps an event whose handler says dispatch.ErrNotYet in
// a transaction that completes its key (200, kept).
type Ordering[Tx any] interface {
	Order() (*order.Tables[Tx], *order.Keeper[Tx])
}

// OrderedClaim is what a Database that orders events may add: the claim
// of an ordered event's key that also advances its object, in one
// statement (dispatch/sqltx's and dispatch/pgxtx's do on PostgreSQL). The
// step calls it, with the transaction's guard g, for an event whose
// handler reads its object and position first (dispatch.Acceptance's
// Position): one round trip fewer per ordered event. It answers as
// ClaimTx does; when it answers Acquired, the key is claimed and the
// object either advanced through g (g.ClaimAdvance) or not yet, in which
// case the handler's guard advances it.
type OrderedClaim[Tx any] interface {
	ClaimOrderedTx(ctx context.Context, tx Tx, key string, g *order.TxGuard[Tx], source, object string, pos events.Position) (idempotency.State, error)
}

type txKey[Tx any] struct{}

// WithTx returns ctx carrying tx, the transaction a handler runs in: the
// accept step and a queue's workers call it before they run the handler.
func WithTx[Tx any](ctx context.Context, tx Tx) context.Context {
	return context.WithValue(ctx, txKey[Tx]{}, tx)
}

// TxFrom returns the transaction of type Tx that ctx carries, and whether
// it carries one: a handler reaches its transaction with it (sqltx.Tx and
// pgxtx.Tx call it for their types).
func TxFrom[Tx any](ctx context.Context) (Tx, bool) {
	tx, ok := ctx.Value(txKey[Tx]{}).(Tx)
	return tx, ok
}
