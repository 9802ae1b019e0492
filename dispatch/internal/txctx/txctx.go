// Package txctx carries the host's transaction in a handler's context,
// for the transactional accept steps and the queue's workers that put it
// there and for sqltx.Tx and pgxtx.Tx that hand it to handlers.
package txctx

import "context"

type key[Tx any] struct{}

// With returns ctx carrying tx.
func With[Tx any](ctx context.Context, tx Tx) context.Context {
	return context.WithValue(ctx, key[Tx]{}, tx)
}

// From returns the transaction of type Tx ctx carries, and whether there is
// one.
func From[Tx any](ctx context.Context) (Tx, bool) {
	tx, ok := ctx.Value(key[Tx]{}).(Tx)
	return tx, ok
}
