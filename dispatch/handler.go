package dispatch

import (
	"context"
	"errors"

	"github.com/hookkit/hookkit/events"
)

// Handler processes one event. Returning nil marks the event done; an error
// wrapped by Permanent dead-letters it; any other error means "try again",
// and the sender will retry it (or, behind a durable queue such as
// dispatch/riverqueue, the queue's workers will).
type Handler interface {
	Handle(ctx context.Context, e *events.Event) error
}

// HandlerFunc adapts a function to the Handler interface.
type HandlerFunc func(ctx context.Context, e *events.Event) error

// Handle calls f(ctx, e).
func (f HandlerFunc) Handle(ctx context.Context, e *events.Event) error { return f(ctx, e) }

// Middleware wraps a Handler, as func(http.Handler) http.Handler does for
// HTTP. A handler's time is bounded by its delivery's deadline
// (WithTimeout), or by a queue's own attempt timeout, not by a middleware.
type Middleware func(Handler) Handler

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return "permanent: " + p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot fix — a booking that does
// not exist, a payload that breaks a business rule — so the event is
// dead-lettered and the sender gets 200 instead of retrying for days.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by
// Permanent, or is a payload that does not decode into its registered type
// (events.ErrUndecodable).
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p) || errors.Is(err, events.ErrUndecodable)
}

// Attempt returns which attempt at the event a handler is running: 1 for
// the first, 2 for a queue worker's first retry (or a dead letter's
// re-run), and so on. Deliveries the sender retries are each a first
// attempt here.
func Attempt(ctx context.Context) int {
	if n, ok := ctx.Value(attemptKey{}).(int); ok {
		return n
	}
	return 1
}

type attemptKey struct{}

// WithAttempt returns ctx in which Attempt is n: what a queue's worker
// (dispatch/riverqueue) sets before Router.Dispatch, from its job's
// attempt count. A first attempt (n <= 1) needs none.
func WithAttempt(ctx context.Context, n int) context.Context {
	if n <= 1 {
		return ctx
	}
	return context.WithValue(ctx, attemptKey{}, n)
}
