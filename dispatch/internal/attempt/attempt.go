// Package attempt carries the number of the attempt a handler runs in its
// context: set by the queue's workers and by re-runs, read by
// dispatch.Attempt.
package attempt

import "context"

type key struct{}

// With returns ctx in which the attempt is n (a first attempt needs none).
func With(ctx context.Context, n int) context.Context {
	if n <= 1 {
		return ctx
	}
	return context.WithValue(ctx, key{}, n)
}

// From returns the attempt ctx carries, 1 when it carries none.
func From(ctx context.Context) int {
	if n, ok := ctx.Value(key{}).(int); ok {
		return n
	}
	return 1
}
