package dispatch

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/internal/configerr"
	"github.com/hookkit/hookkit/verify"
)

// Option configures an Endpoint. An option given a value that cannot work
// (a duration that is not positive, a nil store) makes NewEndpointSafely
// fail, and NewEndpoint panic, with an error that names the option and
// wraps ErrInvalidConfig: a misconfiguration never reaches the first
// delivery.
type Option func(*settings) error

// ErrInvalidConfig is wrapped by the error of an option or a combination of
// options that cannot work.
var ErrInvalidConfig = configerr.ErrInvalidConfig

// settings is what the options set; an Endpoint embeds it.
type settings struct {
	store       idempotency.Store
	maxBody     int64
	readTimeout time.Duration
	logger      *slog.Logger
	lease, keep time.Duration
	timeout     time.Duration // the delivery's deadline, from its arrival
	maxAge      time.Duration
	now         func() time.Time // the clock of the age check
	maxInFlight int64
	retryAfter  time.Duration
	deadLetters DeadLetterSink
	acceptor    Acceptor
	// defaultStep names the options given that configure the default
	// accept step, for the error when WithAcceptor replaces it.
	defaultStep []string
	archives    []Archive
	// archiveRejected also tells archives of deliveries whose signature did
	// not verify.
	archiveRejected bool
}

func defaultSettings() settings {
	return settings{
		store:       nil, // a new MemoryStore, made only when no option sets one
		maxBody:     verify.DefaultMaxBodyBytes,
		readTimeout: DefaultReadTimeout,
		logger:      slog.Default(),
		keep:        idempotency.DefaultKeep,
		timeout:     DefaultTimeout,
		retryAfter:  DefaultRetryAfter,
		now:         time.Now,
	}
}

func invalid(option string, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", option, fmt.Sprintf(format, args...), ErrInvalidConfig)
}

func positive(option string, d time.Duration) error {
	if d <= 0 {
		return invalid(option, "%s must be positive", d)
	}
	return nil
}

// Defaults of an Endpoint.
const (
	// DefaultTimeout is each delivery's deadline, from its arrival to its
	// answer: under the shortest sender's timeout (Twilio waits 15 s,
	// GoConverso 30 s, Stripe and Etail Depot about as long), so that
	// every sender reads its answer, even when the database is saturated.
	DefaultTimeout = 10 * time.Second
	// DefaultReadTimeout bounds the reading of a body: senders post a few
	// kilobytes at once, so a body still arriving after this is a client
	// holding a connection open.
	DefaultReadTimeout = 10 * time.Second
	// DefaultRetryAfter is what Retry-After says on a 503.
	DefaultRetryAfter = 30 * time.Second
)

// WithStore sets the idempotency store of the default accept step (default:
// a new idempotency.MemoryStore, which deduplicates within this process
// only): claim the event's key, run its handler, complete or release the
// claim. A 200 then means the handler returned nil; a crash after the
// handler's own commit and before the completion runs it again when the
// lease ends (at-least-once). For effects that must happen once, run in the
// host's transaction instead (WithAcceptor with dispatch/sqltx or
// dispatch/pgxtx).
func WithStore(s idempotency.Store) Option {
	return func(c *settings) error {
		if s == nil {
			return invalid("WithStore", "nil store")
		}
		c.store = s
		c.defaultStep = append(c.defaultStep, "WithStore")
		return nil
	}
}

// WithMaxBodyBytes sets the largest body read (default
// verify.DefaultMaxBodyBytes, 1 MiB); a larger one is answered 413.
func WithMaxBodyBytes(n int64) Option {
	return func(c *settings) error {
		if n <= 0 {
			return invalid("WithMaxBodyBytes", "%d bytes must be positive", n)
		}
		c.maxBody = n
		return nil
	}
}

// WithReadTimeout bounds the time to read a request's body (default
// DefaultReadTimeout), whatever the server's own timeouts; a body that has
// not arrived by then is answered 408.
func WithReadTimeout(d time.Duration) Option {
	return func(c *settings) error {
		c.readTimeout = d
		return positive("WithReadTimeout", d)
	}
}

// WithLogger sets the logger (default slog.Default()): one line per
// delivery, whatever its outcome, at Error for what an operator must look at
// (dead letters, panics with their stack, an unavailable store), Warn for
// rejections, unknown types and handler failures, Info for the rest (a
// queue's workers, such as dispatch/riverqueue's, log each failed attempt
// on their own logger). Nothing it logs includes a
// secret, a signature or body text, and request-derived text is clipped.
func WithLogger(l *slog.Logger) Option {
	return func(c *settings) error {
		if l == nil {
			return invalid("WithLogger", "nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithLease sets how long the default accept step's claim holds an event
// before another delivery may take it over (default
// idempotency.DefaultLease, 2 minutes). It must exceed the delivery's
// deadline (WithTimeout), which bounds the handler.
func WithLease(d time.Duration) Option {
	return func(c *settings) error {
		c.lease = d
		c.defaultStep = append(c.defaultStep, "WithLease")
		return positive("WithLease", d)
	}
}

// WithKeep sets how long the default accept step remembers a processed
// event's key (default idempotency.DefaultKeep, 96 hours: longer than any
// sender retries).
func WithKeep(d time.Duration) Option {
	return func(c *settings) error {
		c.keep = d
		c.defaultStep = append(c.defaultStep, "WithKeep")
		return positive("WithKeep", d)
	}
}

// WithTimeout sets each delivery's deadline, counted from its arrival
// (default DefaultTimeout), so that the time its body took to arrive
// counts: one bound on everything the accept step waits for — a pool
// connection, a row lock, a batch of acknowledgements, the handler, which
// has what remains of it. A delivery that could not start
// its commit by then has done nothing and is answered 503 with
// Retry-After; a handler still running then sees its context end, and its
// delivery is answered 500. Keep it under the senders' own timeouts
// (Twilio 15 s), or a sender gives up on answers it would have had.
//
// It is the only timeout of a delivery. A queue's workers
// (dispatch/riverqueue's Config.Timeout) bound their attempts on their own:
// those run after the 200, when no sender waits.
func WithTimeout(d time.Duration) Option {
	return func(c *settings) error {
		c.timeout = d
		return positive("WithTimeout", d)
	}
}

// WithMaxAge sets the oldest event the Endpoint accepts, by the time its
// sender put in the signed body (Event.Time: Etail Depot's and Stripe's
// "created", GoConverso's "timestamp"). An older one is refused, 400
// (outcome rejected-signature, wrapping verify.ErrTimestampTooOld, as a
// stale signature is), and logged.
//
// The age window interlocks with the key window: a captured delivery of a
// sender that signs its body and no time (Etail Depot, GoConverso with an
// HMAC, a generic HMAC without a timestamp header) verifies forever, and
// replayed once its key has been forgotten it would run again. So an
// Endpoint whose verifier accepts signatures of any age (its Tolerance is
// 0, or it has none) checks ages by default, with a window of seven
// eighths of the keep window (84 hours with the default 96): longer than
// any sender retries (Stripe for three days, the Standard Webhooks
// schedule about 75 hours), shorter than the keys are kept, with 12 hours
// to spare for clocks. Keep it so when setting it: NewEndpoint refuses a
// WithMaxAge longer than WithKeep (with WithAcceptor, keep it under the
// accept step's own Config.Keep).
//
// Senders that sign a time with their signature (Stripe, Standard
// Webhooks: verifiers with a Tolerance) are bounded by it already, and are
// not checked unless WithMaxAge is given; this lets tests replay recorded
// deliveries of theirs, re-signed, whatever their age (dispatch/replay).
// Events without a time, such as Twilio's callbacks, are never checked:
// what protects them is the ordering guard (see the package doc). The check
// is the Endpoint's, for HTTP deliveries: events recovered from a sender's
// API later do not pass through it.
func WithMaxAge(d time.Duration) Option {
	return func(c *settings) error {
		c.maxAge = d
		return positive("WithMaxAge", d)
	}
}

// WithClock sets the clock against which the Endpoint measures an event's
// age (WithMaxAge); nothing else reads it. Tests that replay deliveries
// recorded days ago to an Endpoint whose sender signs no time (Etail
// Depot's HMAC over the body alone) set it to the time of the recording,
// as verify.WithClock does for signatures; production leaves it alone.
func WithClock(now func() time.Time) Option {
	return func(c *settings) error {
		if now == nil {
			return invalid("WithClock", "a nil clock")
		}
		c.now = now
		return nil
	}
}

// WithMaxInFlight bounds how many deliveries the Endpoint serves at once
// (default: no bound). Past it, a delivery is answered 503 with
// Retry-After at once, before it reads its body or waits for anything: a
// burst larger than the database's pool can serve is turned away in
// microseconds rather than queued until its deadline.
func WithMaxInFlight(n int) Option {
	return func(c *settings) error {
		if n <= 0 {
			return invalid("WithMaxInFlight", "%d must be positive", n)
		}
		c.maxInFlight = int64(n)
		return nil
	}
}

// WithDeadLetters sets where the default accept step stores dead letters
// (default a MemoryDeadLetters, which a restart loses: give production a
// durable sink, such as dispatch/sqltx's DeadLetters).
func WithDeadLetters(s DeadLetterSink) Option {
	return func(c *settings) error {
		if s == nil {
			return invalid("WithDeadLetters", "nil sink")
		}
		c.deadLetters = s
		c.defaultStep = append(c.defaultStep, "WithDeadLetters")
		return nil
	}
}

// WithArchive adds an archive, told of every delivery whose signature
// verified, whatever its outcome, after the sender has been answered. Give
// it several times for several archives.
func WithArchive(a Archive) Option {
	return func(c *settings) error {
		if a == nil {
			return invalid("WithArchive", "nil archive")
		}
		c.archives = append(c.archives, a)
		return nil
	}
}

// WithArchiveRejected also tells the archives of deliveries that were
// refused before their signature verified (a bad or missing signature, a
// body over the limit, not a POST). Their bytes are unauthenticated and as
// many as anyone cares to send: turn it on while debugging a signature
// problem, not for good, above all with a record.Archive.
func WithArchiveRejected() Option {
	return func(c *settings) error {
		c.archiveRejected = true
		return nil
	}
}

// WithRetryAfter sets what Retry-After says on a 503 or 409 (default
// DefaultRetryAfter).
func WithRetryAfter(d time.Duration) Option {
	return func(c *settings) error {
		c.retryAfter = d
		return positive("WithRetryAfter", d)
	}
}

// WithAcceptor replaces the default accept step (claim in a store, run,
// complete) with a: running in the host's transaction (dispatch/sqltx,
// dispatch/pgxtx) or enqueueing durably (dispatch/riverqueue). The options
// of the default step (WithStore, WithLease, WithKeep, WithDeadLetters)
// cannot be given with it: a's own configuration says those things.
func WithAcceptor(a Acceptor) Option {
	return func(c *settings) error {
		if a == nil {
			return invalid("WithAcceptor", "nil acceptor")
		}
		c.acceptor = a
		return nil
	}
}

// acceptorOrDefault returns the configured accept step, or builds the
// default one.
func (c *settings) acceptorOrDefault() (Acceptor, error) {
	if c.acceptor != nil {
		if len(c.defaultStep) > 0 {
			return nil, fmt.Errorf("%v configure the default accept step, which WithAcceptor replaces: %w", c.defaultStep, ErrInvalidConfig)
		}
		return c.acceptor, nil
	}
	store := c.store
	if store == nil {
		var err error
		if store, err = idempotency.NewMemoryStore(idempotency.MemoryConfig{}); err != nil {
			return nil, err
		}
	}
	deadLetters := c.deadLetters
	if deadLetters == nil {
		deadLetters = &MemoryDeadLetters{}
	}
	lease := c.lease
	if lease == 0 {
		lease = idempotency.DefaultLease
	}
	if lease <= c.timeout {
		return nil, fmt.Errorf("WithLease %s must exceed WithTimeout %s, or a retry runs beside a slow handler: %w",
			lease, c.timeout, ErrInvalidConfig)
	}
	if c.maxAge > c.keep {
		return nil, fmt.Errorf("WithMaxAge %s must not exceed WithKeep %s, or an event replayed after its key is forgotten runs again: %w",
			c.maxAge, c.keep, ErrInvalidConfig)
	}
	return &claimAcceptor{store: store, lease: lease, keep: c.keep, deadLetters: deadLetters, logger: c.logger,
		positions: newMemoryPositions(c.keep)}, nil
}
