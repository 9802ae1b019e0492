package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/hookkit/hookkit/events"
)

// ErrNoHandler means no handler is registered for an event's type.
var ErrNoHandler = errors.New("dispatch: no handler for the event type")

// Router routes events to handlers by type. Register handlers before
// serving; a Router is safe for concurrent use.
type Router struct {
	mu         sync.RWMutex
	exact      map[string]Handler
	prefixes   []prefixRoute // longest first
	any        Handler
	middleware []Middleware
	observers  []Observer
	// compiled holds the routes with the middleware applied, built on the
	// first lookup after a change, so a lookup allocates nothing.
	compiled *routes
}

// routes is a Router's compiled state, read without locking.
type routes struct {
	exact     map[string]Handler
	prefixes  []prefixRoute
	any       Handler
	observers []Observer
	ordered   bool // some handler is guarded by Ordered
}

type prefixRoute struct {
	prefix  string // "payment_intent."
	pattern string // "payment_intent.*"
	handler Handler
}

// NewRouter returns an empty Router: an Endpoint acknowledges the events
// it has no handler for, until a "*" handler says otherwise.
func NewRouter() *Router {
	return &Router{exact: map[string]Handler{}}
}

// On registers h for the events of type t; h receives the payload decoded
// into T. A payload that does not decode into T is dead-lettered (it is
// permanent: retrying cannot change the bytes).
//
//	dispatch.On(r, stripeevent.PaymentIntentSucceeded,
//		func(ctx context.Context, e *events.Event, pi *stripe.PaymentIntent) error { ... })
func On[T any](r *Router, t events.Type[T], h func(ctx context.Context, e *events.Event, v T) error) {
	r.Handle(t.Name(), HandlerFunc(func(ctx context.Context, e *events.Event) error {
		v, err := t.Decode(e)
		if err != nil {
			return Permanent(err)
		}
		return h(ctx, e, v)
	}))
}

// Handle registers h for pattern: an event type ("charge.refunded"), a
// prefix ending in ".*" ("payment_intent.*" matches payment_intent.created
// and payment_intent.succeeded), or "*" for every type. An exact type wins
// over a prefix, a longer prefix over a shorter one, and any prefix over
// "*". Like http.ServeMux, it panics if pattern is empty or already
// registered: both are mistakes in the program, not in its input.
//
// An Endpoint acknowledges (200) and logs an event no pattern matches. A
// "*" handler is the policy for the rest, as chi's not-found handler is: one
// that returns an error has the sender retry them (a rolling deploy, in
// which new types reach old replicas first), one that returns
// Permanent(err) keeps them as dead letters, to re-run once a handler
// exists.
func (r *Router) Handle(pattern string, h Handler) {
	if h == nil {
		panic("dispatch: nil handler for " + pattern)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.compiled = nil
	switch {
	case pattern == "":
		panic("dispatch: empty pattern")
	case pattern == "*":
		if r.any != nil {
			panic("dispatch: \"*\" registered twice")
		}
		r.any = h
	case strings.HasSuffix(pattern, ".*"):
		prefix := strings.TrimSuffix(pattern, "*")
		if slices.ContainsFunc(r.prefixes, func(p prefixRoute) bool { return p.prefix == prefix }) {
			panic("dispatch: " + pattern + " registered twice")
		}
		r.prefixes = append(r.prefixes, prefixRoute{prefix: prefix, pattern: pattern, handler: h})
		slices.SortStableFunc(r.prefixes, func(a, b prefixRoute) int { return len(b.prefix) - len(a.prefix) })
	case strings.Contains(pattern, "*"):
		panic("dispatch: pattern " + pattern + ": '*' may only be the whole pattern or follow the last '.'")
	default:
		if _, dup := r.exact[pattern]; dup {
			panic("dispatch: " + pattern + " registered twice")
		}
		r.exact[pattern] = h
	}
}

// HandleFunc registers f for pattern, as Handle does.
func (r *Router) HandleFunc(pattern string, f func(ctx context.Context, e *events.Event) error) {
	r.Handle(pattern, HandlerFunc(f))
}

// Use appends middleware around every handler, the first outermost.
func (r *Router) Use(mw ...Middleware) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.middleware = append(r.middleware, mw...)
	r.compiled = nil
}

// Lookup returns the handler, wrapped in the router's middleware, for an
// event type, and whether there is one.
func (r *Router) Lookup(eventType string) (Handler, bool) {
	h, _ := r.routes().lookup(eventType)
	return h, h != nil
}

// routes returns the compiled routes, compiling them after a change.
func (r *Router) routes() *routes {
	r.mu.RLock()
	c := r.compiled
	r.mu.RUnlock()
	if c == nil {
		c = r.compile()
	}
	return c
}

// lookup returns the handler for eventType and the pattern it was
// registered under (nil and "" when there is none).
func (c *routes) lookup(eventType string) (Handler, string) {
	if h, ok := c.exact[eventType]; ok {
		return h, eventType
	}
	for _, p := range c.prefixes {
		if strings.HasPrefix(eventType, p.prefix) {
			return p.handler, p.pattern
		}
	}
	if c.any != nil {
		return c.any, "*"
	}
	return nil, ""
}

func (r *Router) compile() *routes {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.compiled != nil {
		return r.compiled
	}
	wrap := func(h Handler) Handler {
		if h == nil {
			return nil
		}
		for i := len(r.middleware) - 1; i >= 0; i-- {
			h = r.middleware[i](h)
		}
		return h
	}
	c := &routes{exact: make(map[string]Handler, len(r.exact)), any: wrap(r.any), observers: slices.Clone(r.observers)}
	for name, h := range r.exact {
		c.exact[name] = wrap(h)
	}
	for _, p := range r.prefixes {
		c.prefixes = append(c.prefixes, prefixRoute{prefix: p.prefix, pattern: p.pattern, handler: wrap(p.handler)})
	}
	c.ordered = r.anyOrdered()
	r.compiled = c
	return c
}

// Dispatch runs e's handler once, outside any delivery, as a queue's
// worker does: its observers see an AttemptAsync whose Number is
// Attempt(ctx). An event without a handler is an error wrapping
// ErrNoHandler; a panic in the handler is recovered into an error, so
// Dispatch never crashes its caller.
func (r *Router) Dispatch(ctx context.Context, e *events.Event) error {
	return r.routes().attempt(ctx, e, AttemptAsync)
}

func noHandler(e *events.Event) error {
	return fmt.Errorf("%s event %s: %q: %w", e.Source, e.ID, e.Type, ErrNoHandler)
}

// call runs h, recovering a panic into a *PanicError.
func call(ctx context.Context, h Handler, e *events.Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: stack()}
		}
	}()
	return h.Handle(ctx, e)
}
