package dispatch

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/hookkit/hookkit/events"
)

// PanicError is a handler's panic, recovered: an ordinary, retryable error
// that carries the panic value and the stack. A Router recovers every
// handler it runs (Dispatch, Rerun, a queue's workers), so one bad event
// never crashes the process: the delivery is answered 500 and retried.
type PanicError struct {
	Value any
	Stack []byte
}

// Error returns "handler panicked: <value>".
func (p *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", p.Value) }

func stack() []byte { return debug.Stack() }

// Timeout gives each handler call a context that ends after d. A handler
// must watch ctx (database and HTTP clients do) for the deadline to stop
// it; when it returns, a deadline error is retryable. Keep the claim's
// lease longer than d.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, e *events.Event) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			err := next.Handle(ctx, e)
			if err == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil // it finished, late: the work is done
			}
			return err
		})
	}
}
