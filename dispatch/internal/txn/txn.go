// Package txn is hookkit's one abstraction of the host's transactions: what
// opens and ends a transaction of type Tx (*sql.Tx, pgx.Tx). The
// transactional accept step, the dead-letter tables and the queue's workers
// (riverqueue.Transactor is this type) all take it; sqltx.Transactor and
// pgxtx.Transactor implement it.
package txn

import "context"

// Transactor opens and ends transactions of type Tx.
type Transactor[Tx any] interface {
	// Begin opens a transaction.
	Begin(ctx context.Context) (Tx, error)
	// End commits tx when commit is true, and rolls it back otherwise; a
	// rollback of a transaction already ended is not an error.
	End(ctx context.Context, tx Tx, commit bool) error
}
