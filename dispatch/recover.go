package dispatch

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Recover feeds the Endpoint an event its sender never delivered, read
// from the sender's own API instead (Stripe's List Events, Twilio's
// Messages; package dispatch/reconcile does the reading). body is the
// event as the sender would have posted it — a Stripe event object, a
// Twilio status callback's form — and header what the parser may read
// (nil for none).
//
// The event goes through the Endpoint's parser, router and accept step,
// the ones its delivery would have gone through, and so under the same
// key: an event that arrives both ways, by webhook and by Recover, runs
// once, whichever comes first, and an ordering guard in the accept step or
// the router's middleware sees it as it would the delivery. Two steps of a
// delivery do not apply: there is no signature (the body came from the
// sender's API, over a connection authenticated with the host's key), and
// no age check (WithMaxAge): a recovered event is old by nature, and its
// key is what keeps it from running twice.
//
// The Result's Outcome is OutcomeRecovered when the accept step took the
// event (its handler ran, or its job is queued), OutcomeDuplicate when a
// delivery took it first, and otherwise what a delivery's would have been
// (OutcomeFailed, OutcomeBusy, OutcomeUnavailable, OutcomeDeadLettered,
// OutcomeUnknownType, OutcomeMalformed). Outcome.Acknowledged reports
// whether the event is taken care of, and a reconciler may move past it.
// Each call is reported to the Router's observers as a Delivery without a
// Method, Host or Target, and logged as one line.
func (e *Endpoint) Recover(ctx context.Context, body []byte, header http.Header) Result {
	d := Delivery{Received: time.Now(), Header: header, Body: body, Verified: true, EventSource: e.source}
	c := e.router.routes()
	var buf [4]context.Context
	ctxs := buf[:0]
	for _, o := range c.observers {
		if next := o.StartDelivery(ctx, &d); next != nil {
			ctx = next
		}
		ctxs = append(ctxs, ctx)
	}
	res := e.recover(ctx, &d, c)
	d.Status, d.Outcome, d.Err = res.Outcome.Status(), res.Outcome, res.Err
	d.Duration = time.Since(d.Received)
	e.logRecovery(ctx, &d)
	c.endDelivery(&d, ctxs)
	return res
}

func (e *Endpoint) recover(ctx context.Context, d *Delivery, c *routes) Result {
	if err := ctx.Err(); err != nil {
		return Result{OutcomeUnavailable, err}
	}
	e.mu.RLock()
	if e.closing {
		e.mu.RUnlock()
		return Result{OutcomeUnavailable, errShuttingDown}
	}
	e.inflight.Add(1)
	e.mu.RUnlock()
	defer e.inflight.Done()

	header := d.Header
	if header == nil {
		header = http.Header{}
	}
	// Parsers read a delivery's headers (an ID header, a content type):
	// they get the ones given, on a request that names no target.
	r := &http.Request{Method: http.MethodPost, URL: &url.URL{}, Header: header}
	r = r.WithContext(ctx)
	sw := stopwatch{last: d.Received, on: len(c.observers) > 0}
	ev, err := e.parser.Parse(r, d.Body)
	if err == nil {
		err = ev.Validate()
	}
	d.Timings.Parse = sw.lap()
	if err != nil {
		return Result{OutcomeMalformed, err}
	}
	d.EventSource, d.EventID, d.EventType = ev.Source, ev.ID, ev.Type

	h, route := c.lookup(ev.Type)
	d.Route = route
	if h == nil {
		// As for a delivery: a type nothing handles is acknowledged; a
		// "*" handler decides otherwise.
		return Result{OutcomeUnknownType, nil}
	}
	// As for a delivery: the accept step is bounded by the deadline and
	// by Shutdown's, not by a caller that gives up half-way.
	deadline := d.Received.Add(e.timeout)
	actx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	defer context.AfterFunc(e.stopCtx, cancel)()
	a := Acceptance{Event: ev, handler: h, route: route, routes: c, ep: e, d: d, timed: sw.on, deadline: deadline}
	res := e.acceptor.Accept(actx, a)
	e.closeAcceptance(d)
	d.Timings.Store = max(0, sw.lap()-d.Timings.Handler)
	if res.Outcome == OutcomeProcessed || res.Outcome == OutcomeQueued {
		res.Outcome = OutcomeRecovered
	}
	return res
}

// logRecovery writes one line per recovered event, at the level a
// delivery with its outcome would have.
func (e *Endpoint) logRecovery(ctx context.Context, d *Delivery) {
	level := slog.LevelInfo
	switch d.Outcome {
	case OutcomeDeadLettered, OutcomeUnavailable:
		level = slog.LevelError
	case OutcomeFailed, OutcomeMalformed, OutcomeUnknownType:
		level = slog.LevelWarn
	}
	if !e.logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 5)
	attrs = append(attrs, slog.String("outcome", d.Outcome.String()), slog.String("source", d.EventSource))
	if d.EventID != "" {
		attrs = append(attrs, slog.String("type", d.EventType), slog.String("id", d.EventID))
	}
	if d.Err != nil {
		attrs = append(attrs, errAttr(d.Err))
	}
	e.logger.LogAttrs(ctx, level, "webhook event recovered from its sender's API", attrs...)
}

// Patterns returns the patterns of the Endpoint's router (Router.Patterns):
// the event types a reconciler fetches for it.
func (e *Endpoint) Patterns() []string { return e.router.Patterns() }

// Patterns returns the patterns handlers are registered under, sorted:
// event types ("charge.refunded"), prefixes ("payment_intent.*") and "*".
// A reconciler asks its sender's API for these types only, so that a host
// never fetches events it has no handler for.
func (r *Router) Patterns() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	patterns := make([]string, 0, len(r.exact)+len(r.prefixes)+1)
	for name := range r.exact {
		patterns = append(patterns, name)
	}
	for _, p := range r.prefixes {
		patterns = append(patterns, p.pattern)
	}
	if r.any != nil {
		patterns = append(patterns, "*")
	}
	slices.SortFunc(patterns, strings.Compare)
	return patterns
}
