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
	"time"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/internal/logtext"
	"github.com/hookkit/hookkit/verify"
)

// Endpoint is the http.Handler a host mounts for one sender: it reads the
// body, verifies it, parses it, claims the event in the idempotency store,
// runs its handler (or enqueues it, in async mode), and answers with the
// status the sender needs:
//
//	200  processed; acknowledged into the queue (async); a duplicate of a
//	     processed event; an unknown type (AcknowledgeUnknown, logged);
//	     dead-lettered (Permanent, or a payload that does not decode)
//	400  signature missing, wrong or stale (403 for Twilio); malformed body
//	405  not a POST
//	408  the body did not arrive within the read timeout
//	409  the same event is being processed by another delivery
//	413  body over the limit
//	500  the handler failed or panicked (the claim is released)
//	503  store unavailable, queue full, or shutting down (with Retry-After)
//
// Response bodies are small JSON ({"received":true}, or {"error":"..."} with
// a short reason that reveals no secret, signature or internal error).
type Endpoint struct {
	verifier verify.Verifier
	parser   events.Parser
	router   *Router
	settings

	// Async mode.
	queue   Queue
	retry   RetryPolicy
	workers sync.WaitGroup

	// Shutdown.
	mu       sync.RWMutex
	closing  bool
	inflight sync.WaitGroup
	stop     chan struct{} // closed when Shutdown's deadline passes
	stopCtx  context.Context
	stopAll  context.CancelFunc
	shutOnce sync.Once
}

// New returns an Endpoint that verifies with v, parses with p and routes
// with r, configured by opts. A nil v, p or r, an option given a value that
// cannot work, or a lease that does not exceed the handler timeout is an
// error wrapping ErrInvalidConfig: there is no Endpoint that accepts
// unverified deliveries.
func New(v verify.Verifier, p events.Parser, r *Router, opts ...Option) (*Endpoint, error) {
	if v == nil || p == nil || r == nil {
		return nil, fmt.Errorf("dispatch: a Verifier, a Parser and a Router are all required: %w", ErrInvalidConfig)
	}
	e := &Endpoint{verifier: v, parser: p, router: r, settings: defaultSettings(), stop: make(chan struct{})}
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&e.settings); err != nil {
			return nil, fmt.Errorf("dispatch: %w", err)
		}
	}
	if e.store == nil {
		store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
		if err != nil {
			return nil, err
		}
		e.store = store
	}
	if e.deadLetters == nil {
		e.deadLetters = &MemoryDeadLetters{}
	}
	if e.lease == 0 {
		e.lease = idempotency.DefaultLease
		if e.asyncCfg != nil {
			e.lease = DefaultAsyncLease
		}
	}
	if e.lease <= e.timeout {
		return nil, fmt.Errorf("dispatch: WithLease %s must exceed WithTimeout %s, or a retry runs beside a slow handler: %w",
			e.lease, e.timeout, ErrInvalidConfig)
	}
	e.stopCtx, e.stopAll = context.WithCancel(context.Background())
	if cfg := e.asyncCfg; cfg != nil {
		e.queue = cfg.Queue
		if e.queue == nil {
			e.queue = NewMemoryQueue(1024)
		}
		e.retry = cfg.Retry.withDefaults()
		n := cfg.Workers
		if n <= 0 {
			n = 4
		}
		e.workers.Add(n)
		for range n {
			go e.worker()
		}
	}
	return e, nil
}

// NewEndpoint is New for configurations fixed in code: like
// regexp.MustCompile, it panics with New's error instead of returning it.
func NewEndpoint(v verify.Verifier, p events.Parser, r *Router, opts ...Option) *Endpoint {
	e, err := New(v, p, r, opts...)
	if err != nil {
		panic(err)
	}
	return e
}

// DeadLetters returns the sink dead letters go to.
func (e *Endpoint) DeadLetters() DeadLetterSink { return e.deadLetters }

// ServeHTTP implements http.Handler.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := Delivery{Received: time.Now(), Method: r.Method, Host: r.Host, Target: verify.RequestTarget(r), Header: r.Header}
	e.serve(w, r, &d)
	if len(e.archives) > 0 && (d.Verified || e.archiveRejected) {
		d.Duration = time.Since(d.Received)
		if f, ok := w.(http.Flusher); ok {
			f.Flush() // the sender has its answer before the archives write
		}
		for _, a := range e.archives {
			a.Archive(r.Context(), &d)
		}
	}
}

func (e *Endpoint) serve(w http.ResponseWriter, r *http.Request, d *Delivery) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e.answer(w, r, d, http.StatusMethodNotAllowed, "method-not-allowed", nil)
		return
	}
	e.mu.RLock()
	if e.closing {
		e.mu.RUnlock()
		e.answer(w, r, d, http.StatusServiceUnavailable, "unavailable", errShuttingDown)
		return
	}
	e.inflight.Add(1)
	e.mu.RUnlock()
	defer e.inflight.Done()

	body, err := e.readBody(w, r)
	if err != nil {
		outcome := "malformed"
		switch {
		case errors.Is(err, verify.ErrBodyTooLarge):
			outcome = "too-large"
		case errors.Is(err, os.ErrDeadlineExceeded):
			outcome = "read-timeout"
		}
		e.answer(w, r, d, verify.StatusCode(err), outcome, err)
		return
	}
	d.Body = body
	if err := e.verifier.Verify(r, body); err != nil {
		e.answer(w, r, d, verify.StatusCode(err), "rejected-signature", err)
		return
	}
	d.Verified = true
	ev, err := e.parser.Parse(r, body)
	if err == nil {
		err = ev.Validate() // the parser may be the host's own
	}
	if err != nil {
		e.answer(w, r, d, http.StatusBadRequest, "malformed", err)
		return
	}
	d.EventSource, d.EventID, d.EventType = ev.Source, ev.ID, ev.Type

	h, known := e.router.Lookup(ev.Type) // once per delivery; run calls it
	if !known {
		switch e.router.UnknownPolicy() {
		case AcknowledgeUnknown:
			e.answer(w, r, d, http.StatusOK, "unknown-type", nil)
			return
		case RetryUnknown:
			e.answer(w, r, d, http.StatusInternalServerError, "unknown-type",
				fmt.Errorf("%q: %w", ev.Type, ErrNoHandler))
			return
		}
		// DeadLetterUnknown: claimed and dead-lettered like any event whose
		// handler fails permanently.
	}

	key := ev.Key()
	claim, err := e.store.Claim(r.Context(), key, e.lease)
	if err != nil {
		e.answer(w, r, d, http.StatusServiceUnavailable, "unavailable", err)
		return
	}
	switch claim.State {
	case idempotency.Completed:
		e.answer(w, r, d, http.StatusOK, "duplicate", nil)
		return
	case idempotency.Busy:
		e.answer(w, r, d, http.StatusConflict, "busy", nil)
		return
	}

	if e.queue != nil {
		e.enqueue(w, r, d, ev, key, claim.Token)
		return
	}
	// The handler outlives a sender that hangs up (half-done work would be
	// worse than a duplicate answered 200), but not a Shutdown deadline.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	defer context.AfterFunc(e.stopCtx, cancel)()
	err = e.run(ctx, h, ev, 1)
	switch {
	case err == nil:
		e.complete(key, claim.Token, ev)
		e.answer(w, r, d, http.StatusOK, "processed", nil)
	case IsPermanent(err):
		if !e.deadLetter(ev, err, 1) {
			e.release(key, claim.Token, ev, "dead letter not stored")
			e.answer(w, r, d, http.StatusInternalServerError, "failed", err)
			return
		}
		e.complete(key, claim.Token, ev)
		e.answer(w, r, d, http.StatusOK, "dead-lettered", err)
	default:
		e.release(key, claim.Token, ev, "handler failed")
		e.answer(w, r, d, http.StatusInternalServerError, "failed", err)
	}
}

func (e *Endpoint) enqueue(w http.ResponseWriter, r *http.Request, d *Delivery, ev *events.Event, key, token string) {
	err := e.queue.Enqueue(r.Context(), &Job{Event: ev, Key: key, Token: token, Enqueued: time.Now()})
	if err != nil {
		e.release(key, token, ev, "not enqueued")
		e.answer(w, r, d, http.StatusServiceUnavailable, "unavailable", err)
		return
	}
	e.answer(w, r, d, http.StatusOK, "queued", nil)
}

// readBody reads the body within the read timeout, and is interrupted when
// Shutdown's deadline passes: a client that trickles its body holds neither
// this request nor Shutdown. Writers that cannot set deadlines (a
// ResponseRecorder in tests) read without one.
func (e *Endpoint) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	d := readDeadliner(w)
	if d == nil || d.SetReadDeadline(time.Now().Add(e.readTimeout)) != nil {
		return verify.ReadBody(w, r, e.maxBody)
	}
	defer context.AfterFunc(e.stopCtx, func() { d.SetReadDeadline(time.Now()) })()
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

// run calls the event's handler h once, with the timeout; no handler (nil,
// under DeadLetterUnknown) is a permanent failure.
func (e *Endpoint) run(ctx context.Context, h Handler, ev *events.Event, attempt int) error {
	if h == nil {
		return Permanent(noHandler(ev))
	}
	ctx, cancel := context.WithTimeout(withAttempt(ctx, attempt), e.timeout)
	defer cancel()
	return call(ctx, h, ev)
}

// storeCtx bounds a completion or release, which must happen even when
// the request or the shutdown context has ended.
func storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

func (e *Endpoint) complete(key, token string, ev *events.Event) {
	ctx, cancel := storeCtx()
	defer cancel()
	if err := e.store.Complete(ctx, key, token, e.keep); err != nil {
		// The handler succeeded; answering anything but 200 would make the
		// sender retry work already done. A later duplicate may run again.
		e.logger.LogAttrs(ctx, slog.LevelError, "webhook processed but not recorded as done",
			slog.String("key", key), slog.String("type", ev.Type), errAttr(err))
	}
}

func (e *Endpoint) release(key, token string, ev *events.Event, why string) {
	ctx, cancel := storeCtx()
	defer cancel()
	if err := e.store.Release(ctx, key, token); err != nil && !errors.Is(err, idempotency.ErrLeaseLost) {
		e.logger.LogAttrs(ctx, slog.LevelError, "webhook claim not released; it frees itself when its lease ends",
			slog.String("key", key), slog.String("type", ev.Type), slog.String("why", why), errAttr(err))
	}
}

// deadLetter stores the event and reports whether it was stored. A letter
// that cannot be stored is logged here, naming the event; the delivery's
// own line says what the sender was told.
func (e *Endpoint) deadLetter(ev *events.Event, cause error, attempts int) bool {
	ctx, cancel := storeCtx()
	defer cancel()
	err := e.deadLetters.DeadLetter(ctx, DeadLetter{Event: ev, Err: cause, Attempts: attempts, At: time.Now()})
	if err != nil {
		e.logger.LogAttrs(ctx, slog.LevelError, "webhook dead letter could not be stored",
			slog.String("source", ev.Source), slog.String("id", ev.ID), slog.String("type", ev.Type),
			slog.Int("attempts", attempts), slog.String("cause", logtext.Clip(cause.Error(), maxLoggedError)), errAttr(err))
	}
	return err == nil
}

// logDelivery writes one line per delivery, at a level that fits how it
// ended: what an operator must look at (dead letters, panics, an
// unavailable store) at Error, what the sender or a misconfiguration got
// wrong at Warn, the rest at Info.
func (e *Endpoint) logDelivery(ctx context.Context, d *Delivery) {
	level := slog.LevelInfo
	var panicked *PanicError
	switch d.Outcome {
	case "dead-lettered", "unavailable":
		level = slog.LevelError
	case "failed":
		level = slog.LevelWarn
		if errors.As(d.Err, &panicked) {
			level = slog.LevelError
		}
	case "unknown-type", "rejected-signature", "malformed", "too-large", "read-timeout", "method-not-allowed":
		level = slog.LevelWarn
	}
	if !e.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs, slog.String("outcome", d.Outcome), slog.Int("status", d.Status))
	if d.EventID != "" {
		attrs = append(attrs, slog.String("source", d.EventSource), slog.String("type", d.EventType), slog.String("id", d.EventID))
	} else {
		attrs = append(attrs, targetAttr(d.Target))
	}
	if d.Err != nil {
		attrs = append(attrs, errAttr(d.Err))
	}
	if panicked != nil {
		attrs = append(attrs, slog.String("stack", string(panicked.Stack)))
	}
	e.logger.LogAttrs(ctx, level, "webhook delivery", attrs...)
}

var errShuttingDown = errors.New("dispatch: endpoint shutting down")

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

// Short public reasons, by outcome; internal error text never reaches the
// sender.
var reasons = map[string]string{
	"method-not-allowed": "method not allowed",
	"too-large":          "body too large",
	"read-timeout":       "body not received in time",
	"malformed":          "malformed event",
	"rejected-signature": "invalid signature",
	"busy":               "event in progress",
	"unavailable":        "temporarily unavailable",
	"failed":             "processing failed",
	"unknown-type":       "no handler for event type",
}

// answer writes the response and the delivery's one log line.
func (e *Endpoint) answer(w http.ResponseWriter, r *http.Request, d *Delivery, status int, outcome string, err error) {
	d.Status, d.Outcome, d.Err = status, outcome, err
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
	io.WriteString(w, `{"error":"`+reasons[outcome]+`"}`+"\n")
}

// Shutdown stops the Endpoint: new deliveries are answered 503 at once;
// deliveries being handled finish; in async mode the workers drain the
// queue. It returns nil when all of that is done, or ctx's error as soon as
// ctx ends, whatever clients and handlers are doing: then handlers still
// running see their context canceled, body reads still waiting on a slow
// client are interrupted, and queued events are released unprocessed
// (their senders' retries will find them free). It may be called more than
// once.
func (e *Endpoint) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.closing = true
	e.mu.Unlock()

	drained := make(chan struct{})
	go func() {
		e.inflight.Wait()
		if e.queue != nil {
			e.queue.Close()
			e.workers.Wait()
		}
		close(drained)
	}()
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
		e.shutOnce.Do(func() {
			close(e.stop)
			e.stopAll()
		})
		if e.queue != nil {
			// Signalled, the workers release what they hold at once.
			e.queue.Close()
			e.workers.Wait()
		}
		return ctx.Err()
	}
}
