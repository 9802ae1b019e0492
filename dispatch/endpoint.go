package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/internal/logtext"
	"github.com/hookkit/hookkit/internal/requesttarget"
	"github.com/hookkit/hookkit/verify"
)

// Endpoint is the http.Handler a host mounts for one sender. It is a
// pipeline — read the body, verify it, parse it, find its handler — and one
// accept step (an Acceptor) that decides what a 200 means: run the handler
// now, with a claim in an idempotency store (the default); run it in the
// host's own transaction (dispatch/sqltx, dispatch/pgxtx); or enqueue it
// durably (dispatch/riverqueue). The sender is answered with the status its
// Outcome says:
//
//	200  processed, queued, a duplicate, an unknown type (no handler, not
//	     even "*"; logged), or dead-lettered (Permanent, or a payload that
//	     does not decode)
//	400  signature missing, wrong or stale (403 for Twilio), or an event
//	     older than WithMaxAge; malformed body
//	405  not a POST
//	408  the body did not arrive within the read timeout
//	409  the same event is being processed by another delivery
//	413  body over the limit
//	500  the handler failed or panicked (the event is free for the retry)
//	503  store, database or queue unavailable, the delivery's deadline
//	     passed before its commit could start (WithTimeout), more deliveries
//	     in flight than WithMaxInFlight, or shutting down (with Retry-After)
//
// Response bodies are small JSON ({"received":true}, or {"error":"..."} with
// a short reason that reveals no secret, signature or internal error).
type Endpoint struct {
	verifier verify.Verifier
	parser   events.Parser
	source   string // the parser's, when it names its sender
	router   *Router
	settings
	acceptor Acceptor

	// Shutdown.
	mu       sync.RWMutex
	closing  bool
	inflight sync.WaitGroup
	stopCtx  context.Context // canceled when Shutdown's deadline passes
	stopAll  context.CancelFunc

	// reading holds, by request, what sets the read deadline of the
	// bodies being read, for Shutdown's deadline to interrupt
	// (interruptReads).
	readingMu sync.Mutex
	reading   map[*http.Request]readDeadlineSetter

	// active counts the deliveries being served, for WithMaxInFlight.
	active atomic.Int64

	// runDone is signalled, under runMu, when a handler run that
	// closeAcceptance waits for ends (see Acceptance.Run).
	runMu   sync.Mutex
	runDone sync.Cond
}

// NewEndpointSafely is NewEndpoint returning its error instead of
// panicking, for configurations chosen at run time. It is hookkit's one
// rule for a constructor with both forms, after River's AddWorker and
// AddWorkerSafely: the plain name panics on a configuration that cannot
// work, its …Safely twin returns that error (verify.Middleware and
// MiddlewareSafely, events.NewJSONParser and NewJSONParserSafely).
func NewEndpointSafely(v verify.Verifier, p events.Parser, r *Router, opts ...Option) (*Endpoint, error) {
	if v == nil || p == nil || r == nil {
		return nil, fmt.Errorf("dispatch: a Verifier, a Parser and a Router are all required: %w", ErrInvalidConfig)
	}
	e := &Endpoint{verifier: v, parser: p, router: r, settings: defaultSettings()}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&e.settings); err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
	}
	acceptor, err := e.settings.acceptorOrDefault()
	if err != nil {
		return nil, fmt.Errorf("dispatch: %w", err)
	}
	e.acceptor = acceptor
	if e.maxAge == 0 && !boundsAge(v) {
		e.maxAge = e.keep - e.keep/8
	}
	if named, ok := p.(interface{ Source() string }); ok {
		e.source = named.Source()
	}
	e.stopCtx, e.stopAll = context.WithCancel(context.Background())
	e.runDone.L = &e.runMu
	return e, nil
}

// NewEndpoint returns an Endpoint that verifies with v, parses with p and
// routes with r, configured by opts. A nil v, p or r, an option given a
// value that cannot work, options that contradict each other, or a lease
// that does not exceed the handler timeout is a configuration fixed in code
// that cannot work: NewEndpoint panics with an error wrapping
// ErrInvalidConfig, as regexp.MustCompile does, and NewEndpointSafely
// returns it. There is no Endpoint that accepts unverified deliveries.
func NewEndpoint(v verify.Verifier, p events.Parser, r *Router, opts ...Option) *Endpoint {
	e, err := NewEndpointSafely(v, p, r, opts...)
	if err != nil {
		panic(err)
	}
	return e
}

// ServeHTTP implements http.Handler.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := Delivery{Received: time.Now(), Method: r.Method, Host: r.Host, Target: requesttarget.Of(r), Pattern: r.Pattern,
		Header: r.Header, EventSource: e.source}
	c := e.router.routes()
	var buf [4]context.Context
	ctxs := buf[:0]
	if len(c.observers) > 0 {
		r, ctxs = c.startDelivery(r, &d, ctxs)
	}
	e.serve(w, r, &d, c)
	archive := len(e.archives) > 0 && (d.Verified || e.archiveRejected)
	if !archive && len(c.observers) == 0 {
		return
	}
	d.Duration = time.Since(d.Received)
	if f, ok := w.(http.Flusher); ok {
		f.Flush() // the sender has its answer before archives and observers run
	}
	if archive {
		for _, a := range e.archives {
			a.Archive(r.Context(), &d)
		}
	}
	c.endDelivery(&d, ctxs)
}

func (e *Endpoint) serve(w http.ResponseWriter, r *http.Request, d *Delivery, c *routes) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e.answer(w, r, d, OutcomeMethodNotAllowed, 0, nil)
		return
	}
	e.mu.RLock()
	if e.closing {
		e.mu.RUnlock()
		e.answer(w, r, d, OutcomeUnavailable, 0, errShuttingDown)
		return
	}
	e.inflight.Add(1)
	e.mu.RUnlock()
	defer e.inflight.Done()
	if e.maxInFlight > 0 {
		// Admission control: past the limit, a delivery is refused before
		// it holds anything, rather than queue for a pool connection.
		defer e.active.Add(-1)
		if e.active.Add(1) > e.maxInFlight {
			e.answer(w, r, d, OutcomeUnavailable, 0, errOverloaded)
			return
		}
	}

	// Steps are timed for observers only: without one, no clock is read.
	sw := stopwatch{last: d.Received, on: len(c.observers) > 0}
	body, err := e.readBody(w, r)
	d.Timings.Read = sw.lap()
	if err != nil {
		outcome := OutcomeMalformed
		switch {
		case errors.Is(err, verify.ErrBodyTooLarge):
			outcome = OutcomeTooLarge
		case errors.Is(err, os.ErrDeadlineExceeded):
			outcome = OutcomeReadTimeout
		}
		e.answer(w, r, d, outcome, 0, err)
		return
	}
	d.Body = body
	err = e.verifier.Verify(r, body)
	d.Timings.Verify = sw.lap()
	if err != nil {
		e.answer(w, r, d, OutcomeRejectedSignature, verify.StatusCode(err), err)
		return
	}
	d.Verified = true
	ev, err := e.parser.Parse(r, body)
	if err == nil {
		err = ev.Validate() // the parser may be the host's own
	}
	d.Timings.Parse = sw.lap()
	if err != nil {
		e.answer(w, r, d, OutcomeMalformed, 0, err)
		return
	}
	d.EventSource, d.EventID, d.EventType = ev.Source, ev.ID, ev.Type
	if err := e.checkAge(ev); err != nil {
		e.answer(w, r, d, OutcomeRejectedSignature, verify.StatusCode(err), err)
		return
	}

	h, route := c.lookup(ev.Type)
	d.Route = route
	if h == nil {
		// Senders deliver types the host never subscribed to: they must
		// not pile up as retries. A "*" handler decides otherwise (see
		// Router.Handle).
		e.answer(w, r, d, OutcomeUnknownType, 0, nil)
		return
	}

	// The accept step outlives a sender that hangs up (half-done work would
	// be worse than a duplicate answered 200), but not the delivery's
	// deadline, which bounds every wait (a pool connection, a row lock, a
	// batch, the handler) so that the sender is answered before it gives
	// up, nor Shutdown's deadline.
	deadline := d.Received.Add(e.timeout)
	ctx, cancel := context.WithDeadline(detached{Context: e.stopCtx, values: r.Context()}, deadline)
	defer cancel()
	a := Acceptance{Event: ev, handler: h, route: route, routes: c, router: e.router, ep: e, d: d, timed: sw.on, deadline: deadline}
	res := e.acceptor.Accept(ctx, a)
	e.closeAcceptance(d)
	d.Timings.Store = max(0, sw.lap()-d.Timings.Handler)
	e.answer(w, r, d, res.Outcome, 0, res.Err)
}

// detached is what a delivery's context derives from: the request's
// values, without its cancellation (a sender that hangs up), ended by
// Shutdown's deadline (stopCtx, the embedded Context). It is what
// context.WithoutCancel(r.Context()) and a context.AfterFunc(stopCtx,
// cancel) made together, without their allocations: a context derived
// from it joins stopCtx's own (its Value answers the context package's
// lookup of its parent with stopCtx's, which has no values of its own).
type detached struct {
	context.Context // the Endpoint's stopCtx
	values          context.Context
}

func (c detached) Value(key any) any {
	if v := c.Context.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}

// stopwatch times consecutive steps, when on.
type stopwatch struct {
	last time.Time
	on   bool
}

// lap returns the time since the last lap (or the start); 0 when off.
func (s *stopwatch) lap() time.Duration {
	if !s.on {
		return 0
	}
	now := time.Now()
	d := now.Sub(s.last)
	s.last = now
	return d
}

// readBody reads the body within the read timeout, and is interrupted when
// Shutdown's deadline passes: a client that trickles its body holds neither
// this request nor Shutdown. Writers that cannot set deadlines
// (httptest.ResponseRecorder, in tests) read without one.
func (e *Endpoint) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	d := readDeadliner(w)
	if d == nil || d.SetReadDeadline(time.Now().Add(e.readTimeout)) != nil {
		return verify.ReadBody(w, r, e.maxBody)
	}
	if !e.startRead(r, d) {
		d.SetReadDeadline(time.Now()) // Shutdown's deadline has passed
	}
	defer e.endRead(r)
	body, err := verify.ReadBody(w, r, e.maxBody)
	if err != nil {
		// The rest of the body is not worth waiting for: net/http would
		// otherwise try to drain it before answering.
		w.Header().Set("Connection", "close")
		return nil, err
	}
	d.SetReadDeadline(time.Time{})
	return body, nil
}

type readDeadlineSetter interface{ SetReadDeadline(time.Time) error }

// startRead registers r's body read, whose deadline d sets, for
// interruptReads, and reports whether Shutdown's deadline is still ahead.
// It is what a context.AfterFunc(stopCtx, ...) per delivery did, without
// its allocations. The key is the request (a pointer, whatever the writer
// d is, which may not be comparable).
func (e *Endpoint) startRead(r *http.Request, d readDeadlineSetter) bool {
	e.readingMu.Lock()
	defer e.readingMu.Unlock()
	if e.reading == nil {
		e.reading = map[*http.Request]readDeadlineSetter{}
	}
	e.reading[r] = d
	return e.stopCtx.Err() == nil
}

func (e *Endpoint) endRead(r *http.Request) {
	e.readingMu.Lock()
	delete(e.reading, r)
	e.readingMu.Unlock()
}

// interruptReads ends the body reads under way, once Shutdown's deadline
// has passed (stopCtx canceled first: a read that starts after it sees
// the cancellation in startRead).
func (e *Endpoint) interruptReads() {
	e.readingMu.Lock()
	defer e.readingMu.Unlock()
	for _, d := range e.reading {
		d.SetReadDeadline(time.Now())
	}
}

// readDeadliner finds what sets w's read deadline, unwrapping middleware's
// writers as http.ResponseController does, without its allocations when
// there is none.
func readDeadliner(w http.ResponseWriter) readDeadlineSetter {
	for {
		switch t := w.(type) {
		case readDeadlineSetter:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

// logDelivery writes one line per delivery, at a level that fits how it
// ended: what an operator must look at (dead letters, panics, an
// unavailable store) at Error, what the sender or a misconfiguration got
// wrong at Warn, the rest at Info.
func (e *Endpoint) logDelivery(ctx context.Context, d *Delivery) {
	level := slog.LevelInfo
	var panicked *PanicError // found only for a failure: errors.As would move it to the heap for every delivery
	switch d.Outcome {
	case OutcomeDeadLettered, OutcomeUnavailable:
		level = slog.LevelError
	case OutcomeFailed:
		level = slog.LevelWarn
		if panicked = panicOf(d.Err); panicked != nil {
			level = slog.LevelError
		}
	case OutcomeUnknownType, OutcomeRejectedSignature, OutcomeMalformed, OutcomeTooLarge, OutcomeReadTimeout, OutcomeMethodNotAllowed:
		level = slog.LevelWarn
	}
	if !e.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("outcome", d.Outcome.String()), slog.Int("status", d.Status))
	if d.EventID != "" {
		attrs = append(attrs, slog.String("source", d.EventSource), slog.String("type", d.EventType), slog.String("id", d.EventID))
	} else {
		attrs = append(attrs, targetAttr(d.Target))
	}
	if d.Err != nil {
		attrs = append(attrs, errAttr(d.Err))
	}
	if d.SenderGone {
		attrs = append(attrs, slog.Bool("sender_gone", true))
	}
	if panicked != nil {
		attrs = append(attrs, slog.String("stack", string(panicked.Stack)))
	}
	e.logger.LogAttrs(ctx, level, "webhook delivery", attrs...)
}

// panicOf returns the *PanicError in err's chain, or nil.
func panicOf(err error) *PanicError {
	var p *PanicError
	if errors.As(err, &p) {
		return p
	}
	return nil
}

var (
	errShuttingDown = errors.New("dispatch: endpoint shutting down")
	errOverloaded   = errors.New("dispatch: more deliveries in flight than WithMaxInFlight allows")
)

// boundsAge reports whether v refuses signatures past an age of its own
// (a signed timestamp and a tolerance), so that a captured delivery cannot
// be replayed after its key is forgotten (WithMaxAge).
func boundsAge(v verify.Verifier) bool {
	t, ok := v.(interface{ Tolerance() time.Duration })
	return ok && t.Tolerance() > 0
}

// checkAge refuses an event older than the Endpoint's maximum age
// (WithMaxAge), by the time its sender wrote in it (signed content, for
// hookkit's parsers): a delivery captured and replayed once its key has
// been forgotten would otherwise run again. An event without a time
// (Twilio's) is not refused.
func (e *Endpoint) checkAge(ev *events.Event) error {
	if e.maxAge == 0 || ev.Time.IsZero() {
		return nil
	}
	if age := e.now().Sub(ev.Time); age > e.maxAge {
		return fmt.Errorf("%s: event %s is %s old, older than WithMaxAge %s (a replay past the keep window would run again): %w",
			ev.Source, logtext.Clip(ev.ID, maxLoggedTarget), age.Round(time.Second), e.maxAge, verify.ErrTimestampTooOld)
	}
	return nil
}

// Bounds on request-derived text in logs: a target or an error message can
// be as long as a hostile request makes it.
const (
	maxLoggedTarget = 200
	maxLoggedError  = 500
)

func targetAttr(target string) slog.Attr {
	return slog.String("target", logtext.Clip(target, maxLoggedTarget))
}

func errAttr(err error) slog.Attr {
	return slog.String("error", logtext.Clip(err.Error(), maxLoggedError))
}

// answer writes the response, with status (or the outcome's own when 0),
// and the delivery's one log line.
func (e *Endpoint) answer(w http.ResponseWriter, r *http.Request, d *Delivery, outcome Outcome, status int, err error) {
	if status == 0 {
		status = outcome.Status()
	}
	d.Status, d.Outcome, d.Err = status, outcome, err
	// net/http cancels the request's context when the client's connection
	// closes: the answer about to be written reaches no one.
	d.SenderGone = r.Context().Err() != nil
	e.logDelivery(r.Context(), d)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusServiceUnavailable || status == http.StatusConflict {
		h.Set("Retry-After", strconv.Itoa(int((e.retryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(status)
	if status < 300 {
		io.WriteString(w, `{"received":true}`+"\n")
		return
	}
	io.WriteString(w, `{"error":"`+outcome.Reason()+`"}`+"\n")
}

// Shutdown stops the Endpoint: new deliveries are answered 503 at once, and
// deliveries being handled finish. It returns nil when they have, or ctx's
// error as soon as ctx ends, whatever clients and handlers are doing: then
// handlers still running see their context canceled (what they did not
// finish is not acknowledged: the sender retries it), and body reads still
// waiting on a slow client are interrupted. It may be called more than
// once.
func (e *Endpoint) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()

	drained := make(chan struct{})
	go func() {
		e.inflight.Wait()
		close(drained)
	}()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		e.stopAll()
		e.interruptReads()
		return ctx.Err()
	}
}
