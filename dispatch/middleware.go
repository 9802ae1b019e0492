package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/hookkit/hookkit/events"
)

// PanicError is a handler's panic, recovered: an ordinary, retryable error
// that carries the panic value and the stack.
type PanicError struct {
	Value any
	Stack []byte
}

// Error returns "handler panicked: <value>".
func (p *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", p.Value) }

func stack() []byte { return debug.Stack() }

// Recover turns a handler's panic into a *PanicError, so one bad event never
// crashes the process: the delivery is answered 500 and retried. Endpoints
// always recover; add Recover to a Router that runs outside an Endpoint.
func Recover() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, e *events.Event) (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = &PanicError{Value: v, Stack: stack()}
				}
			}()
			return next.Handle(ctx, e)
		})
	}
}

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

// Logging logs every handler call with log/slog: source, id, type,
// attempt, outcome (ok, retry, permanent, panic), duration, and the error.
// It never logs the body. Successes log at Info, retryable failures at
// Warn, permanent failures and panics (with the stack) at Error.
func Logging(logger *slog.Logger) Middleware {
	if logger == nil {
		logger = slog.Default()
	}
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, e *events.Event) error {
			start := time.Now()
			err := next.Handle(ctx, e)
			attrs := []slog.Attr{
				slog.String("source", e.Source), slog.String("id", e.ID), slog.String("type", e.Type),
				slog.Int("attempt", Attempt(ctx)), slog.Duration("duration", time.Since(start)),
			}
			var panicked *PanicError
			switch {
			case err == nil:
				logger.LogAttrs(ctx, slog.LevelInfo, "webhook handled", append(attrs, slog.String("outcome", "ok"))...)
			case errors.As(err, &panicked):
				logger.LogAttrs(ctx, slog.LevelError, "webhook handler panicked", append(attrs, slog.String("outcome", "panic"),
					errAttr(err), slog.String("stack", string(panicked.Stack)))...)
			case IsPermanent(err):
				logger.LogAttrs(ctx, slog.LevelError, "webhook failed permanently", append(attrs, slog.String("outcome", "permanent"),
					errAttr(err))...)
			default:
				logger.LogAttrs(ctx, slog.LevelWarn, "webhook failed, will be retried", append(attrs, slog.String("outcome", "retry"),
					errAttr(err))...)
			}
			return err
		})
	}
}
