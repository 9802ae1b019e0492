package dispatch

import (
	"log/slog"
	"time"

	"github.com/hookkit/hookkit/idempotency"
)

// Option configures an Endpoint.
type Option func(*Endpoint)

// Defaults of an Endpoint.
const (
	// DefaultTimeout bounds one handler call. Senders wait about as long
	// before timing out and retrying (Stripe and Twilio, 10 to 15 s), so a
	// synchronous handler slower than that is retried while it runs.
	DefaultTimeout = 10 * time.Second
	// DefaultAsyncLease is the claim's lease in async mode: it covers the
	// wait in the queue and every retry of the default policy.
	DefaultAsyncLease = 15 * time.Minute
	// DefaultReadTimeout bounds the reading of a body: senders post a few
	// kilobytes at once, so a body still arriving after this is a client
	// holding a connection open.
	DefaultReadTimeout = 10 * time.Second
	// DefaultRetryAfter is what Retry-After says on a 503.
	DefaultRetryAfter = 30 * time.Second
)

// WithStore sets the idempotency store (default: a new
// idempotency.MemoryStore, which deduplicates within this process only).
func WithStore(s idempotency.Store) Option { return func(e *Endpoint) { e.store = s } }

// WithMaxBodyBytes sets the largest body read (default
// verify.DefaultMaxBodyBytes, 1 MiB); a larger one is answered 413.
func WithMaxBodyBytes(n int64) Option { return func(e *Endpoint) { e.maxBody = n } }

// WithLogger sets the logger (default slog.Default()): one line per
// delivery, whatever its outcome, at Error for what an operator must look at
// (dead letters, panics with their stack, an unavailable store), Warn for
// rejections, unknown types and handler failures, Info for the rest; in
// async mode also one line per failed attempt. Nothing it logs includes a
// secret, a signature or body text, and request-derived text is clipped.
func WithLogger(l *slog.Logger) Option { return func(e *Endpoint) { e.logger = l } }

// WithLease sets how long a claim holds an event before another delivery
// may take it over (default idempotency.DefaultLease, 2 minutes, or
// DefaultAsyncLease in async mode). It must exceed the handler timeout.
func WithLease(d time.Duration) Option { return func(e *Endpoint) { e.lease = d } }

// WithKeep sets how long a processed event's key is remembered (default
// idempotency.DefaultKeep, 96 hours: longer than any sender retries).
func WithKeep(d time.Duration) Option { return func(e *Endpoint) { e.keep = d } }

// WithTimeout bounds each handler call (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return func(e *Endpoint) { e.timeout = d } }

// WithDeadLetters sets where dead letters go (default a MemoryDeadLetters,
// see Endpoint.DeadLetters).
func WithDeadLetters(s DeadLetterSink) Option { return func(e *Endpoint) { e.deadLetters = s } }

// WithArchive sets a sink told of every delivery (default none).
func WithArchive(a Archive) Option { return func(e *Endpoint) { e.archive = a } }

// WithAsync makes the Endpoint asynchronous (see AsyncConfig). Call
// Endpoint.Shutdown to stop its workers.
func WithAsync(cfg AsyncConfig) Option {
	return func(e *Endpoint) {
		c := cfg
		e.asyncCfg = &c
	}
}

// WithRetryAfter sets what Retry-After says on a 503 (default
// DefaultRetryAfter).
func WithRetryAfter(d time.Duration) Option { return func(e *Endpoint) { e.retryAfter = d } }

// WithReadTimeout bounds the time to read a request's body (default
// DefaultReadTimeout), whatever the server's own timeouts; a body that has
// not arrived by then is answered 408.
func WithReadTimeout(d time.Duration) Option { return func(e *Endpoint) { e.readTimeout = d } }
