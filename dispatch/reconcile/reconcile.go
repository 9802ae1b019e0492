package reconcile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookkit/hookkit/dispatch"
)

// Defaults of a Reconciler.
const (
	// DefaultMaxEvents bounds the events one run feeds its Endpoint.
	DefaultMaxEvents = 1000
	// DefaultMaxDuration bounds one run's time.
	DefaultMaxDuration = time.Minute
	// DefaultPageSize is the events asked for per page: Stripe's and
	// Twilio's documented maximum for List Events is 100.
	DefaultPageSize = 100
	// DefaultLookback is how far back the first run's window starts: under
	// the accept steps' keep window (idempotency.DefaultKeep, 96 hours), so
	// that what was delivered by webhook within it is recognised as a
	// duplicate, and over Stripe's three days of retries.
	DefaultLookback = 72 * time.Hour
	// DefaultLag keeps a window's end this far behind now: an event that
	// young is still being delivered by its webhook.
	DefaultLag = time.Minute
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait after a 429
	// that says no Retry-After: it doubles from the first to the second.
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
)

// Config configures a Reconciler. Endpoint, Source and Store are
// required; the rest has defaults.
type Config struct {
	// Endpoint is the Endpoint the sender's webhooks arrive at: recovered
	// events go through its parser, router and accept step
	// (dispatch.Endpoint.Recover), and its router's patterns say which
	// types are fetched.
	Endpoint *dispatch.Endpoint
	// Source reads the sender's API (NewStripe; twilioreconcile.New).
	Source Source
	// Store keeps the checkpoint (NewSQLStore on the host's database).
	Store Store
	// MaxEvents bounds the events one run feeds the Endpoint (default
	// DefaultMaxEvents); the next run goes on from the checkpoint.
	MaxEvents int
	// MaxDuration bounds one run's time (default DefaultMaxDuration),
	// waits for a rate limit included.
	MaxDuration time.Duration
	// PageSize is the events asked for per page (default
	// DefaultPageSize).
	PageSize int
	// Concurrency is how many events of a page are fed to the Endpoint at
	// once (default 1: in the order the sender lists them). More let a
	// PostgreSQL host commit side by side (SQLite has one writer: keep 1);
	// the order of a page's events is then lost, which the ordering guard
	// makes harmless. BENCHMARKS.md has the figures.
	Concurrency int
	// Lookback is how far back from its start the first run looks
	// (default DefaultLookback). Stripe keeps events 30 days.
	Lookback time.Duration
	// Lag keeps each window's end this far behind now (default
	// DefaultLag).
	Lag time.Duration
	// Lease is how long a run holds the Store's lease without saving
	// (default MaxDuration plus a minute): a process that dies mid-run
	// frees its Source after it.
	Lease time.Duration
	// MinBackoff and MaxBackoff bound the wait after a 429 that says no
	// Retry-After (defaults DefaultMinBackoff, DefaultMaxBackoff). A
	// Retry-After is honoured as the sender says, within the run's time.
	MinBackoff, MaxBackoff time.Duration
	// Logger gets one line per run, with its counts (default
	// slog.Default()). The Sources log nothing and never put an API key in
	// an error.
	Logger *slog.Logger
	// Observe, if set, is called with each run's Report when it ends: the
	// counts a dashboard plots. Each recovered event is also reported to
	// the Endpoint's observers, as a Delivery with OutcomeRecovered.
	Observe func(ctx context.Context, r Report)
	// Clock is the clock windows are cut with (default time.Now).
	Clock func() time.Time
}

func (c *Config) withDefaults() error {
	switch {
	case c.Endpoint == nil:
		return fmt.Errorf("reconcile: Config.Endpoint is required: %w", dispatch.ErrInvalidConfig)
	case c.Source == nil:
		return fmt.Errorf("reconcile: Config.Source is required: %w", dispatch.ErrInvalidConfig)
	case c.Store == nil:
		return fmt.Errorf("reconcile: Config.Store is required: %w", dispatch.ErrInvalidConfig)
	case c.Source.Name() == "":
		return fmt.Errorf("reconcile: the Source has no Name: %w", dispatch.ErrInvalidConfig)
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"MaxEvents", int64(c.MaxEvents)}, {"MaxDuration", int64(c.MaxDuration)}, {"PageSize", int64(c.PageSize)}, {"Concurrency", int64(c.Concurrency)},
		{"Lookback", int64(c.Lookback)}, {"Lag", int64(c.Lag)}, {"Lease", int64(c.Lease)},
		{"MinBackoff", int64(c.MinBackoff)}, {"MaxBackoff", int64(c.MaxBackoff)}} {
		if f.v < 0 {
			return fmt.Errorf("reconcile: Config.%s is negative: %w", f.name, dispatch.ErrInvalidConfig)
		}
	}
	c.MaxEvents = cmpOr(c.MaxEvents, DefaultMaxEvents)
	c.MaxDuration = cmpOr(c.MaxDuration, DefaultMaxDuration)
	c.PageSize = cmpOr(c.PageSize, DefaultPageSize)
	c.Concurrency = cmpOr(c.Concurrency, 1)
	c.Lookback = cmpOr(c.Lookback, DefaultLookback)
	c.Lag = cmpOr(c.Lag, DefaultLag)
	c.Lease = cmpOr(c.Lease, c.MaxDuration+time.Minute)
	c.MinBackoff = cmpOr(c.MinBackoff, DefaultMinBackoff)
	c.MaxBackoff = cmpOr(c.MaxBackoff, DefaultMaxBackoff)
	if c.MaxBackoff < c.MinBackoff {
		return fmt.Errorf("reconcile: Config.MaxBackoff %s is under MinBackoff %s: %w", c.MaxBackoff, c.MinBackoff, dispatch.ErrInvalidConfig)
	}
	if c.Lease <= c.MaxDuration {
		return fmt.Errorf("reconcile: Config.Lease %s must exceed MaxDuration %s, or a second run starts beside a slow one: %w",
			c.Lease, c.MaxDuration, dispatch.ErrInvalidConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return nil
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Report is what one run did, for logs, observers and the admin API.
type Report struct {
	Source  string    `json:"source"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// Checkpoint is where the run left it.
	Checkpoint Checkpoint `json:"checkpoint"`
	// Pages and Fetched count the pages read and the events in them.
	Pages   int `json:"pages"`
	Fetched int `json:"fetched"`
	// Outcomes counts the events fed to the Endpoint by the name of their
	// dispatch.Outcome: "recovered" (missed, and now accepted),
	// "duplicate" (delivered by webhook already), ...
	Outcomes map[string]int `json:"outcomes"`
	// RateLimited counts the sender's 429s, each waited out.
	RateLimited int `json:"rate_limited"`
	// CaughtUp reports that the run finished its window: the checkpoint
	// is within Lag of the run's start.
	CaughtUp bool `json:"caught_up"`
	// Stopped says why a run that did not catch up stopped: "max-events",
	// "max-duration", "error", "canceled" (empty when it caught up).
	Stopped string `json:"stopped,omitempty"`
	// Error is the error that stopped it, if one did.
	Error string `json:"error,omitempty"`
}

// Recovered returns the number of events recovered: missed by their
// webhook, and accepted by this run.
func (r Report) Recovered() int { return r.Outcomes[dispatch.OutcomeRecovered.String()] }

// ErrNotAccepted means an event fed to the Endpoint was not accepted (its
// handler failed, the store was unavailable, ...): the run stops there,
// and the checkpoint stays before its page, so the next run tries it
// again.
var ErrNotAccepted = errors.New("reconcile: a recovered event was not accepted")

// Reconciler recovers the events a sender kept and never delivered: each
// run reads a window of its Source's API from the checkpoint on, feeds
// every event to the Endpoint (dispatch.Endpoint.Recover), and moves the
// checkpoint past each page whose events were all accepted. It is safe for
// concurrent use; runs of one Source never overlap, in one process or,
// through the Store's lease, across processes.
type Reconciler struct {
	cfg     Config
	running atomic.Bool
}

// New returns a Reconciler, or an error wrapping dispatch.ErrInvalidConfig
// for a configuration that cannot work.
func New(cfg Config) (*Reconciler, error) {
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	return &Reconciler{cfg: cfg}, nil
}

// Name returns the Source's name.
func (r *Reconciler) Name() string { return r.cfg.Source.Name() }

// Running reports whether a run is under way in this process.
func (r *Reconciler) Running() bool { return r.running.Load() }

// Status is a Reconciler's state, for the admin API.
type Status struct {
	Name string `json:"name"`
	// Running reports a run under way in this process.
	Running bool `json:"running"`
	// Checkpoint is the stored checkpoint.
	Checkpoint Checkpoint `json:"checkpoint"`
	// Last is the last finished run's report, from any process.
	Last Report `json:"last"`
}

// Status returns the stored checkpoint and the last run's report.
func (r *Reconciler) Status(ctx context.Context) (Status, error) {
	cp, last, err := r.cfg.Store.Last(ctx, r.Name())
	if err != nil {
		return Status{}, err
	}
	return Status{Name: r.Name(), Running: r.Running(), Checkpoint: cp, Last: last}, nil
}

// Run runs once: it reads from the checkpoint on, within the run's bounds
// (MaxEvents, MaxDuration), and returns its Report. The error is
// ErrRunning when another run of the Source is under way, or what stopped
// the run (ErrNotAccepted, the Source's error, the Store's); the Report
// says how far it got either way. A rate limit slows a run, and fails it
// only when MaxDuration passes before the sender lets it go on, which ends
// it as "max-duration", without error.
func (r *Reconciler) Run(ctx context.Context) (Report, error) {
	if !r.running.CompareAndSwap(false, true) {
		return Report{Source: r.Name()}, ErrRunning
	}
	defer r.running.Store(false)
	return r.runOnce(ctx)
}

// Start starts a run in the background, on a context that keeps ctx's
// values but not its end (the run is bounded by MaxDuration), unless one
// is under way in this process; it reports whether it started one. Its
// Report is logged and stored as any run's: Status shows it.
func (r *Reconciler) Start(ctx context.Context) bool {
	if !r.running.CompareAndSwap(false, true) {
		return false
	}
	go func() {
		defer r.running.Store(false)
		r.runOnce(context.WithoutCancel(ctx))
	}()
	return true
}

func (r *Reconciler) runOnce(ctx context.Context) (Report, error) {
	rep := Report{Source: r.Name(), Started: r.cfg.Clock(), Outcomes: map[string]int{}}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.MaxDuration)
	defer cancel()
	holder := newHolder()
	cp, err := r.cfg.Store.Acquire(ctx, r.Name(), holder, r.cfg.Lease)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// MaxDuration passed before the checkpoint could be read
			// (a saturated database): bounded, and nothing was taken.
			rep.Stopped = "max-duration"
			return rep, nil
		}
		if !errors.Is(err, ErrRunning) {
			err = fmt.Errorf("reconcile %s: acquiring the checkpoint: %w", r.Name(), err)
		}
		return rep, err
	}
	rep.Checkpoint = cp
	err = r.run(ctx, holder, &rep)
	r.finish(ctx, holder, &rep, err)
	if rep.Stopped == "max-duration" {
		return rep, nil // bounded, not failed: the next run goes on
	}
	return rep, err
}

func newHolder() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// run works through the checkpoint's window, page by page.
func (r *Reconciler) run(ctx context.Context, holder string, rep *Report) error {
	streams := r.cfg.Source.Streams(r.cfg.Endpoint.Patterns())
	cp := rep.Checkpoint
	if !cp.Open() {
		since := cp.Since
		if since.IsZero() {
			since = rep.Started.Add(-r.cfg.Lookback)
		}
		until := rep.Started.Add(-r.cfg.Lag).Truncate(time.Second)
		if len(streams) == 0 || until.Before(since) {
			rep.CaughtUp = true
			return nil
		}
		cp = Checkpoint{Since: since.Truncate(time.Second), Until: until, Stream: streams[0]}
	}
	i := slices.Index(streams, cp.Stream)
	if i < 0 {
		// The router's patterns changed since the window opened: its
		// streams are read again from the first (what was accepted is a
		// duplicate now).
		i, cp.Stream, cp.Cursor = 0, "", ""
		if len(streams) > 0 {
			cp.Stream = streams[0]
		}
	}
	for i < len(streams) {
		remaining := r.cfg.MaxEvents - rep.Fetched
		if remaining <= 0 {
			rep.Stopped = "max-events"
			return nil
		}
		page, err := r.fetch(ctx, rep, Query{Stream: cp.Stream, Since: cp.Since, Until: cp.Until, Cursor: cp.Cursor,
			Limit: min(r.cfg.PageSize, remaining)})
		if err != nil {
			return err
		}
		rep.Pages++
		rep.Fetched += len(page.Events)
		if err := r.feed(ctx, rep, page.Events); err != nil {
			return err
		}
		if page.More && page.Next != "" {
			cp.Cursor = page.Next
		} else if i++; i < len(streams) {
			cp.Stream, cp.Cursor = streams[i], ""
		} else {
			// The window is done: the next starts where it ended.
			cp = Checkpoint{Since: cp.Until.Add(time.Second)}
			rep.CaughtUp = true
		}
		if err := r.save(ctx, holder, cp); err != nil {
			return fmt.Errorf("reconcile %s: saving the checkpoint: %w", r.Name(), err)
		}
		rep.Checkpoint = cp
	}
	return nil
}

// feed hands a page's events to the Endpoint, Concurrency at a time, and
// returns the first that was not accepted (the page then stays before the
// checkpoint), or the run's end.
func (r *Reconciler) feed(ctx context.Context, rep *Report, bodies [][]byte) error {
	results := make([]dispatch.Result, len(bodies))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(r.cfg.Concurrency, len(bodies)) {
		wg.Go(func() {
			for i := range next {
				results[i] = r.cfg.Endpoint.Recover(ctx, bodies[i], nil)
			}
		})
	}
	var stopped error
	for i := range bodies {
		if stopped = ctx.Err(); stopped != nil {
			// Out of time (or canceled) mid-page: the page is read again
			// next run, its accepted events as duplicates.
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	var failed error
	for _, res := range results {
		if res.Outcome == 0 {
			continue // not fed
		}
		rep.Outcomes[res.Outcome.String()]++
		if !acknowledged(res.Outcome) && failed == nil {
			failed = fmt.Errorf("reconcile %s: outcome %s: %w: %w", r.Name(), res.Outcome, ErrNotAccepted, errOrOutcome(res))
		}
	}
	if failed != nil {
		return failed
	}
	return stopped
}

// save stores cp. Its accepted events are committed already: a run whose
// time ran out meanwhile still records them, within a bound of its own.
func (r *Reconciler) save(ctx context.Context, holder string, cp Checkpoint) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return r.cfg.Store.Save(ctx, r.Name(), holder, cp, r.cfg.Lease)
}

// acknowledged reports whether o tells a sender not to send the event
// again (a 2xx): the event is taken care of, and the checkpoint may move
// past it.
func acknowledged(o dispatch.Outcome) bool { return o.Status() < 300 }

func errOrOutcome(res dispatch.Result) error {
	if res.Err != nil {
		return res.Err
	}
	return errors.New(res.Outcome.String())
}

// fetch reads one page, waiting out the sender's rate limits while the
// run has time.
func (r *Reconciler) fetch(ctx context.Context, rep *Report, q Query) (Page, error) {
	backoff := r.cfg.MinBackoff
	for {
		page, err := r.cfg.Source.Page(ctx, q)
		if err == nil {
			return page, nil
		}
		rl, ok := rateLimited(err)
		if !ok || ctx.Err() != nil {
			return Page{}, fmt.Errorf("reconcile %s: reading stream %s: %w", r.Name(), q.Stream, err)
		}
		rep.RateLimited++
		wait := rl.RetryAfter
		if wait <= 0 {
			wait = backoff
			backoff = min(backoff*2, r.cfg.MaxBackoff)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return Page{}, fmt.Errorf("reconcile %s: waiting out a rate limit: %w", r.Name(), ctx.Err())
		}
	}
}

// finish records the run's end: its report in the Store (releasing the
// lease), in the log, and to the observer.
func (r *Reconciler) finish(ctx context.Context, holder string, rep *Report, err error) {
	rep.Ended = r.cfg.Clock()
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && !rep.CaughtUp:
		// MaxDuration passed mid-page or mid-wait: bounded, not failed.
		// The run's own context says so, whatever the error a library
		// made of it (stripe-go's and twilio-go's do not always wrap it).
		rep.Stopped = "max-duration"
	case err != nil && errors.Is(err, context.Canceled):
		rep.Stopped, rep.Error = "canceled", err.Error()
	case err != nil:
		rep.Stopped, rep.Error = "error", err.Error()
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := r.cfg.Store.Release(rctx, r.Name(), holder, *rep); rerr != nil {
		r.cfg.Logger.LogAttrs(rctx, slog.LevelWarn, "reconcile: the run's report was not stored; its lease frees the source when it ends",
			slog.String("source", r.Name()), slog.String("error", rerr.Error()))
	}
	level := slog.LevelInfo
	if rep.Error != "" {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("source", r.Name()), slog.Int("pages", rep.Pages), slog.Int("fetched", rep.Fetched),
		slog.Int("recovered", rep.Recovered()), slog.Int("duplicate", rep.Outcomes[dispatch.OutcomeDuplicate.String()]),
		slog.Int("rate_limited", rep.RateLimited), slog.Bool("caught_up", rep.CaughtUp),
		slog.Time("checkpoint", rep.Checkpoint.Since), slog.Duration("duration", rep.Ended.Sub(rep.Started))}
	if rep.Stopped != "" {
		attrs = append(attrs, slog.String("stopped", rep.Stopped))
	}
	if rep.Error != "" {
		attrs = append(attrs, slog.String("error", rep.Error))
	}
	r.cfg.Logger.LogAttrs(rctx, level, "reconcile run", attrs...)
	if r.cfg.Observe != nil {
		r.cfg.Observe(rctx, *rep)
	}
}
