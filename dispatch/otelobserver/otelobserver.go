package otelobserver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/otelobserver/internal/logtext"
)

// ScopeName is the instrumentation scope of the spans and metrics.
const ScopeName = "github.com/hookkit/hookkit/dispatch/otelobserver"

// OtherType is the event type recorded for a type that neither the router
// nor Config.Types knows: what senders choose cannot grow the metrics.
const OtherType = "other"

// The attribute keys of hookkit's own metrics and spans.
const (
	SourceKey        = attribute.Key("hookkit.source")
	EventTypeKey     = attribute.Key("hookkit.event.type")
	EventIDKey       = attribute.Key("hookkit.event.id") // spans only
	OutcomeKey       = attribute.Key("hookkit.outcome")
	StepKey          = attribute.Key("hookkit.step")
	AttemptKindKey   = attribute.Key("hookkit.attempt.kind")
	AttemptNumberKey = attribute.Key("hookkit.attempt.number") // spans only
	QueueKey         = attribute.Key("hookkit.queue")
	QueueStateKey    = attribute.Key("hookkit.queue.state")
	// SenderGoneKey is true on a delivery whose sender had hung up before
	// its answer (dispatch.Delivery.SenderGone): a 200 no one received.
	// Absent otherwise.
	SenderGoneKey = attribute.Key("hookkit.sender_gone")
)

// Config configures an Observer. The zero value uses the global providers
// (otel.GetTracerProvider, otel.GetMeterProvider).
type Config struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	// Types are event types recorded under their own name. Types the
	// router handles by exact name always are; without this list, a type a
	// prefix pattern handles is recorded as the pattern ("message.*"), and
	// one no handler takes as OtherType. The senders' catalogs
	// (stripeevent.Catalog(), ...) are the usual list.
	Types []string
}

// Observer is a dispatch.Observer that traces and measures deliveries and
// attempts with OpenTelemetry. Install it with Router.Observe; it is safe
// for concurrent use.
type Observer struct {
	tracer trace.Tracer
	known  map[string]bool

	deliveries       metric.Int64Counter
	deliveryDuration metric.Float64Histogram
	stepDuration     metric.Float64Histogram
	attempts         metric.Int64Counter
	attemptDuration  metric.Float64Histogram
	attemptsPerEvent metric.Int64Histogram
	queueJobs        metric.Int64ObservableGauge
	deadLetters      metric.Int64ObservableGauge
	registration     metric.Registration

	mu      sync.Mutex
	sources map[string]StatsSource
}

// StatsSource is what Watch reads: riverqueue.Queue, sqltx.Tables,
// dispatch.MemoryDeadLetters are StatsSources.
type StatsSource interface {
	Stats(ctx context.Context) (dispatch.QueueStats, error)
}

// Bucket boundaries, in seconds: a whole delivery or attempt (the
// semantic conventions' HTTP server buckets), and a single step (verify
// takes microseconds).
var (
	durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	stepBuckets     = []float64{0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}
	attemptBuckets  = []float64{1, 2, 3, 4, 5, 6, 7, 8, 10}
)

// New returns an Observer with its instruments created.
func New(cfg Config) (*Observer, error) {
	tp, mp := cfg.TracerProvider, cfg.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	o := &Observer{tracer: tp.Tracer(ScopeName), known: map[string]bool{}, sources: map[string]StatsSource{}}
	for _, t := range cfg.Types {
		o.known[t] = true
	}
	m := mp.Meter(ScopeName)
	var err error
	check := func(e error) {
		if err == nil && e != nil {
			err = e
		}
	}
	var e error
	o.deliveries, e = m.Int64Counter("hookkit.deliveries", metric.WithUnit("{delivery}"),
		metric.WithDescription("Webhook deliveries answered, by sender, event type and outcome."))
	check(e)
	o.deliveryDuration, e = m.Float64Histogram("hookkit.delivery.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from a delivery's arrival to its answer."), metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(e)
	o.stepDuration, e = m.Float64Histogram("hookkit.delivery.step.duration", metric.WithUnit("s"),
		metric.WithDescription("Time of each step of a delivery: read, verify, parse, store (the accept step outside the handler), handler."),
		metric.WithExplicitBucketBoundaries(stepBuckets...))
	check(e)
	o.attempts, e = m.Int64Counter("hookkit.attempts", metric.WithUnit("{attempt}"),
		metric.WithDescription("Handler runs, by where they ran (sync, async, rerun) and how they ended."))
	check(e)
	o.attemptDuration, e = m.Float64Histogram("hookkit.attempt.duration", metric.WithUnit("s"),
		metric.WithDescription("Time of one handler run."), metric.WithExplicitBucketBoundaries(durationBuckets...))
	check(e)
	o.attemptsPerEvent, e = m.Int64Histogram("hookkit.attempts.per_event", metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts an event took, counted when it ended processed or dead-lettered."),
		metric.WithExplicitBucketBoundaries(attemptBuckets...))
	check(e)
	o.queueJobs, e = m.Int64ObservableGauge("hookkit.queue.events", metric.WithUnit("{event}"),
		metric.WithDescription("Events a queue holds: queued, retrying, running."))
	check(e)
	o.deadLetters, e = m.Int64ObservableGauge("hookkit.dead_letters", metric.WithUnit("{event}"),
		metric.WithDescription("Dead letters waiting for an operator."))
	check(e)
	if err != nil {
		return nil, fmt.Errorf("otelobserver: %w", err)
	}
	if o.registration, err = m.RegisterCallback(o.observeQueues, o.queueJobs, o.deadLetters); err != nil {
		return nil, fmt.Errorf("otelobserver: %w", err)
	}
	return o, nil
}

// Watch reports s's queue depth and dead letters as gauges, under name
// (hookkit.queue), each time metrics are collected. Watching a name again
// replaces its source.
func (o *Observer) Watch(name string, s StatsSource) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sources[name] = s
}

// Close stops reading the watched sources.
func (o *Observer) Close() error { return o.registration.Unregister() }

// statsTimeout bounds one source's Stats during a collection.
const statsTimeout = 5 * time.Second

func (o *Observer) observeQueues(ctx context.Context, obs metric.Observer) error {
	o.mu.Lock()
	sources := make(map[string]StatsSource, len(o.sources))
	for name, s := range o.sources {
		sources[name] = s
	}
	o.mu.Unlock()
	for name, s := range sources {
		sctx, cancel := context.WithTimeout(ctx, statsTimeout)
		stats, err := s.Stats(sctx)
		cancel()
		if err != nil {
			otel.Handle(fmt.Errorf("otelobserver: queue %s: %w", name, err))
			continue // no value rather than a false zero
		}
		queue := QueueKey.String(name)
		obs.ObserveInt64(o.deadLetters, stats.DeadLetters, metric.WithAttributes(queue))
		if !stats.Queue {
			continue
		}
		for _, state := range []struct {
			name string
			n    int64
		}{{"queued", stats.Queued}, {"retrying", stats.Retrying}, {"running", stats.Running}} {
			obs.ObserveInt64(o.queueJobs, state.n, metric.WithAttributes(queue, QueueStateKey.String(state.name)))
		}
	}
	return nil
}

// eventType is the bounded name of an event type: the type itself when the
// router handles it by name or Config.Types lists it, else the pattern that
// routed it, else OtherType ("" when there was no event).
func (o *Observer) eventType(typ, route string) string {
	switch {
	case typ == "":
		return ""
	case typ == route || o.known[typ]:
		return typ
	case route != "":
		return route
	}
	return OtherType
}

// StartDelivery starts the delivery's span: an HTTP server span, unless the
// host's own instrumentation already started one (then it is a child).
func (o *Observer) StartDelivery(ctx context.Context, d *dispatch.Delivery) context.Context {
	kind := trace.SpanKindServer
	if trace.SpanContextFromContext(ctx).IsValid() && !trace.SpanContextFromContext(ctx).IsRemote() {
		kind = trace.SpanKindInternal
	}
	path, _, _ := strings.Cut(d.Target, "?")
	ctx, _ = o.tracer.Start(ctx, spanName(d), trace.WithSpanKind(kind), trace.WithTimestamp(d.Received),
		trace.WithAttributes(method(d.Method), semconv.URLPath(logtext.Clip(path, 200))))
	return ctx
}

// spanName is "{method} {route}" as the HTTP conventions name server
// spans, with the mux pattern's path as the route.
func spanName(d *dispatch.Delivery) string {
	m := d.Method
	if _, known := methods[m]; !known {
		m = "HTTP"
	}
	if route := route(d.Pattern); route != "" {
		return m + " " + route
	}
	return m
}

// route is the path of a ServeMux pattern ("POST example.com/x" -> "/x").
func route(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

var methods = map[string]attribute.KeyValue{
	http.MethodGet: semconv.HTTPRequestMethodGet, http.MethodHead: semconv.HTTPRequestMethodHead,
	http.MethodPost: semconv.HTTPRequestMethodPost, http.MethodPut: semconv.HTTPRequestMethodPut,
	http.MethodPatch: semconv.HTTPRequestMethodPatch, http.MethodDelete: semconv.HTTPRequestMethodDelete,
	http.MethodOptions: semconv.HTTPRequestMethodOptions, http.MethodConnect: semconv.HTTPRequestMethodConnect,
	http.MethodTrace: semconv.HTTPRequestMethodTrace,
}

func method(m string) attribute.KeyValue {
	if kv, ok := methods[m]; ok {
		return kv
	}
	return semconv.HTTPRequestMethodOther
}

// EndDelivery ends the delivery's span and records its metrics.
func (o *Observer) EndDelivery(ctx context.Context, d *dispatch.Delivery) {
	typ := o.eventType(d.EventType, d.Route)
	attrs := make([]attribute.KeyValue, 0, 5)
	if d.EventSource != "" {
		attrs = append(attrs, SourceKey.String(d.EventSource))
	}
	if typ != "" {
		attrs = append(attrs, EventTypeKey.String(typ))
	}
	attrs = append(attrs, OutcomeKey.String(d.Outcome.String()))
	if d.SenderGone {
		attrs = append(attrs, SenderGoneKey.Bool(true))
	}

	span := trace.SpanFromContext(ctx)
	span.SetAttributes(semconv.HTTPResponseStatusCode(d.Status))
	span.SetAttributes(attrs...)
	if r := route(d.Pattern); r != "" {
		span.SetAttributes(semconv.HTTPRoute(r))
	}
	if d.EventID != "" {
		span.SetAttributes(EventIDKey.String(logtext.Clip(d.EventID, 200)))
	}
	if d.Status >= 500 {
		span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(d.Status)))
		span.SetStatus(codes.Error, d.Outcome.String())
	}
	span.End(trace.WithTimestamp(d.Received.Add(d.Duration)))

	set := attribute.NewSet(attrs...)
	o.deliveries.Add(ctx, 1, metric.WithAttributeSet(set), metric.WithAttributes(semconv.HTTPResponseStatusCode(d.Status)))
	o.deliveryDuration.Record(ctx, d.Duration.Seconds(), metric.WithAttributeSet(set))
	var source []attribute.KeyValue
	if d.EventSource != "" {
		source = append(source, SourceKey.String(d.EventSource))
	}
	for _, step := range []struct {
		name string
		took time.Duration
	}{{"read", d.Timings.Read}, {"verify", d.Timings.Verify}, {"parse", d.Timings.Parse}, {"store", d.Timings.Store}, {"handler", d.Timings.Handler}} {
		if step.took > 0 {
			o.stepDuration.Record(ctx, step.took.Seconds(), metric.WithAttributes(append(source, StepKey.String(step.name))...))
		}
	}
}

// StartAttempt starts the attempt's span, a child of the delivery's: during
// the delivery the request's context carries it, in a queue's worker the
// job's trace context does (a remote parent).
func (o *Observer) StartAttempt(ctx context.Context, a *dispatch.AttemptRecord) context.Context {
	kind, name := trace.SpanKindInternal, "handle "+a.Route
	attrs := []attribute.KeyValue{EventIDKey.String(logtext.Clip(a.Event.ID, 200)), EventTypeKey.String(logtext.Clip(a.Event.Type, 200)),
		SourceKey.String(a.Event.Source), AttemptKindKey.String(a.Kind.String()), AttemptNumberKey.Int(a.Number)}
	if a.Kind == dispatch.AttemptAsync {
		kind, name = trace.SpanKindConsumer, "process "+a.Route
		attrs = append(attrs, semconv.MessagingOperationTypeProcess, semconv.MessagingMessageID(logtext.Clip(a.Event.Key(), 200)))
	}
	ctx, _ = o.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithTimestamp(a.Start), trace.WithAttributes(attrs...))
	return ctx
}

// EndAttempt ends the attempt's span and records its metrics.
func (o *Observer) EndAttempt(ctx context.Context, a *dispatch.AttemptRecord) {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(OutcomeKey.String(a.Outcome.String()))
	if a.Err != nil {
		// The error's type, never its text: a handler's message can hold
		// anything.
		span.SetAttributes(semconv.ErrorType(a.Err))
		span.SetStatus(codes.Error, a.Outcome.String())
	}
	span.End(trace.WithTimestamp(a.Start.Add(a.Duration)))

	attrs := []attribute.KeyValue{SourceKey.String(a.Event.Source), EventTypeKey.String(o.eventType(a.Event.Type, a.Route)),
		AttemptKindKey.String(a.Kind.String())}
	o.attemptsPerEventRecord(ctx, a, attrs)
	attrs = append(attrs, OutcomeKey.String(a.Outcome.String()))
	set := attribute.NewSet(attrs...)
	o.attempts.Add(ctx, 1, metric.WithAttributeSet(set))
	o.attemptDuration.Record(ctx, a.Duration.Seconds(), metric.WithAttributeSet(set))
}

// attemptsPerEventRecord records how many attempts an event took, once it
// ended: processed or dead-lettered.
func (o *Observer) attemptsPerEventRecord(ctx context.Context, a *dispatch.AttemptRecord, attrs []attribute.KeyValue) {
	if a.Outcome == dispatch.OutcomeProcessed || a.Outcome == dispatch.OutcomeDeadLettered {
		o.attemptsPerEvent.Record(ctx, int64(a.Number), metric.WithAttributes(attrs...))
	}
}

var _ dispatch.Observer = (*Observer)(nil)
