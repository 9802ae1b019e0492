package otelobserver_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/otelobserver"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/idempotency"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

const secret = "whsec_otel_tests"

// telemetry is an Observer on the SDK's in-memory span recorder and manual
// metric reader.
type telemetry struct {
	obs    *otelobserver.Observer
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
}

func newTelemetry(t *testing.T, cfg otelobserver.Config) *telemetry {
	t.Helper()
	tm := &telemetry{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tm.spans))
	cfg.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(tm.reader))
	obs, err := otelobserver.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { obs.Close() })
	tm.obs = obs
	return tm
}

// metrics collects the metrics, by name.
func (tm *telemetry) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, tm.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// attrs renders an attribute set as "k=v,k=v", sorted, for comparisons.
func attrs(s attribute.Set) string {
	var parts []string
	for _, kv := range s.ToSlice() {
		parts = append(parts, string(kv.Key)+"="+kv.Value.String())
	}
	return strings.Join(parts, ",")
}

// counts returns an int64 counter's values by attribute set.
func counts(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a counter", m.Name)
	out := map[string]int64{}
	for _, p := range sum.DataPoints {
		out[attrs(p.Attributes)] = p.Value
	}
	return out
}

// histogramCounts returns a float64 histogram's counts by attribute set.
func histogramCounts(t *testing.T, m metricdata.Metrics) map[string]uint64 {
	t.Helper()
	h, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a float histogram", m.Name)
	out := map[string]uint64{}
	for _, p := range h.DataPoints {
		out[attrs(p.Attributes)] = p.Count
	}
	return out
}

func gauges(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	g, ok := m.Data.(metricdata.Gauge[int64])
	require.True(t, ok, "%s is a gauge", m.Name)
	out := map[string]int64{}
	for _, p := range g.DataPoints {
		out[attrs(p.Attributes)] = p.Value
	}
	return out
}

func spanAttr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func body(id, typ string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"type":%q,"created":%d,"data":{"object":{"id":"pi_1","amount":5000}}}`, id, typ, time.Now().Unix()))
}

// mux mounts a Stripe endpoint on r at "POST /webhooks/stripe".
func mux(t *testing.T, r *dispatch.Router, opts ...dispatch.Option) *http.ServeMux {
	t.Helper()
	v, err := verify.NewStripe(secret)
	require.NoError(t, err)
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	require.NoError(t, err)
	if len(opts) == 0 {
		opts = []dispatch.Option{dispatch.WithStore(store), dispatch.WithDeadLetters(&dispatch.MemoryDeadLetters{})}
	}
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, append(opts, dispatch.WithLogger(slog.New(slog.DiscardHandler)))...)
	t.Cleanup(func() { ep.Shutdown(context.Background()) })
	m := http.NewServeMux()
	m.Handle("POST /webhooks/stripe", ep)
	return m
}

func send(h http.Handler, b []byte, signer verifytest.Signer) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, verifytest.NewRequest(signer, "/webhooks/stripe", b))
	return rec.Code
}

var stripeSigner = verifytest.Stripe{Secret: secret}

// A delivery is an HTTP server span with the handler's attempt as its
// child, and one count in each metric, attributed by sender, type and
// outcome.
func TestDeliveryAndAttempt(t *testing.T) {
	tm := newTelemetry(t, otelobserver.Config{})
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(ctx context.Context, e *events.Event) error {
		assert.True(t, trace.SpanContextFromContext(ctx).IsValid(), "the handler runs in the attempt's span")
		return nil
	})
	r.Observe(tm.obs)
	require.Equal(t, 200, send(mux(t, r), body("evt_otel_1", "payment_intent.succeeded"), stripeSigner))

	spans := tm.spans.Ended()
	require.Len(t, spans, 2)
	attempt, delivery := spans[0], spans[1]
	assert.Equal(t, "POST /webhooks/stripe", delivery.Name())
	assert.Equal(t, trace.SpanKindServer, delivery.SpanKind())
	assert.Equal(t, "POST", spanAttr(delivery, "http.request.method"))
	assert.Equal(t, "/webhooks/stripe", spanAttr(delivery, "http.route"))
	assert.Equal(t, "/webhooks/stripe", spanAttr(delivery, "url.path"))
	assert.Equal(t, "200", spanAttr(delivery, "http.response.status_code"))
	assert.Equal(t, "processed", spanAttr(delivery, "hookkit.outcome"))
	assert.Equal(t, "evt_otel_1", spanAttr(delivery, "hookkit.event.id"))
	assert.Equal(t, "handle payment_intent.succeeded", attempt.Name())
	assert.Equal(t, delivery.SpanContext().SpanID(), attempt.Parent().SpanID(), "the attempt is the delivery's child")
	assert.Equal(t, "sync", spanAttr(attempt, "hookkit.attempt.kind"))
	assert.Equal(t, "1", spanAttr(attempt, "hookkit.attempt.number"))

	m := tm.metrics(t)
	assert.Equal(t, map[string]int64{
		"hookkit.event.type=payment_intent.succeeded,hookkit.outcome=processed,hookkit.source=stripe,http.response.status_code=200": 1,
	}, counts(t, m["hookkit.deliveries"]))
	assert.Equal(t, map[string]int64{
		"hookkit.attempt.kind=sync,hookkit.event.type=payment_intent.succeeded,hookkit.outcome=processed,hookkit.source=stripe": 1,
	}, counts(t, m["hookkit.attempts"]))
	steps := histogramCounts(t, m["hookkit.delivery.step.duration"])
	for _, step := range []string{"read", "verify", "parse", "store", "handler"} {
		assert.Equal(t, uint64(1), steps["hookkit.source=stripe,hookkit.step="+step], step)
	}
	assert.Equal(t, uint64(1), histogramCounts(t, m["hookkit.delivery.duration"])["hookkit.event.type=payment_intent.succeeded,hookkit.outcome=processed,hookkit.source=stripe"])
}

// Failures and rejections are counted under their outcome; a 5xx marks the
// span as an error, with the error's type and never its text.
func TestOutcomesAndErrors(t *testing.T) {
	tm := newTelemetry(t, otelobserver.Config{})
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
		return errors.New("database password=hunter2 refused")
	})
	r.Observe(tm.obs)
	h := mux(t, r)
	require.Equal(t, 500, send(h, body("evt_fails", "payment_intent.succeeded"), stripeSigner))
	require.Equal(t, 400, send(h, body("evt_forged", "payment_intent.succeeded"), verifytest.Stripe{Secret: "whsec_guess"}))
	require.Equal(t, 200, send(h, body("evt_unknown", "invoice.paid"), stripeSigner))

	assert.Equal(t, map[string]int64{
		"hookkit.event.type=payment_intent.succeeded,hookkit.outcome=failed,hookkit.source=stripe,http.response.status_code=500": 1,
		"hookkit.outcome=rejected-signature,hookkit.source=stripe,http.response.status_code=400":                                 1,
		"hookkit.event.type=other,hookkit.outcome=unknown-type,hookkit.source=stripe,http.response.status_code=200":              1,
	}, counts(t, tm.metrics(t)["hookkit.deliveries"]))
	for _, s := range tm.spans.Ended() {
		for _, kv := range s.Attributes() {
			assert.NotContains(t, kv.Value.String(), "hunter2", "no error text in spans")
		}
		if s.Name() == "POST /webhooks/stripe" && spanAttr(s, "http.response.status_code") == "500" {
			assert.Equal(t, codes.Error, s.Status().Code)
			assert.Equal(t, "500", spanAttr(s, "error.type"))
		}
		if strings.HasPrefix(s.Name(), "handle ") {
			assert.Equal(t, "*errors.errorString", spanAttr(s, "error.type"))
			assert.Equal(t, "failed", spanAttr(s, "hookkit.outcome"))
		}
	}
}

// Ten thousand made-up event types, unknown or caught by a prefix pattern,
// make a handful of series: the pattern and "other", never the types.
func TestCardinalityIsBounded(t *testing.T) {
	tm := newTelemetry(t, otelobserver.Config{Types: []string{"charge.refunded"}})
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.*", func(context.Context, *events.Event) error { return nil })
	r.Observe(tm.obs)
	h := mux(t, r)
	for i := range 10_000 {
		typ := fmt.Sprintf("made.up.%05d", i)
		if i%2 == 0 {
			typ = fmt.Sprintf("payment_intent.made_up_%05d", i)
		}
		require.Equal(t, 200, send(h, body(fmt.Sprintf("evt_card_%05d", i), typ), stripeSigner))
	}
	require.Equal(t, 200, send(h, body("evt_listed", "charge.refunded"), stripeSigner))

	m := tm.metrics(t)
	types := map[string]bool{}
	for _, name := range []string{"hookkit.deliveries", "hookkit.attempts"} {
		for set := range counts(t, m[name]) {
			for kv := range strings.SplitSeq(set, ",") {
				if typ, ok := strings.CutPrefix(kv, "hookkit.event.type="); ok {
					types[typ] = true
				}
			}
		}
	}
	assert.Equal(t, map[string]bool{"payment_intent.*": true, "other": true, "charge.refunded": true}, types)
	assert.Equal(t, 3, len(counts(t, m["hookkit.deliveries"])), "series of hookkit.deliveries")
	assert.Equal(t, 3, len(histogramCounts(t, m["hookkit.delivery.duration"])), "series of hookkit.delivery.duration")
}

// Watched queues and dead-letter stores are gauges; a source that cannot
// answer reports nothing rather than a false zero.
func TestGauges(t *testing.T) {
	tm := newTelemetry(t, otelobserver.Config{})
	dls := &dispatch.MemoryDeadLetters{}
	for i := range 2 {
		require.NoError(t, dls.DeadLetter(context.Background(), dispatch.DeadLetter{Event: &events.Event{Source: "x", ID: fmt.Sprint(i), Type: "t"}}))
	}
	tm.obs.Watch("memory", dls)
	tm.obs.Watch("down", downSource{})
	m := tm.metrics(t)
	assert.Equal(t, map[string]int64{"hookkit.queue=memory": 2}, gauges(t, m["hookkit.dead_letters"]))
	_, ok := m["hookkit.queue.events"]
	assert.False(t, ok, "a dead-letter store is not a queue")
}

type downSource struct{}

func (downSource) Stats(context.Context) (dispatch.QueueStats, error) {
	return dispatch.QueueStats{}, errors.New("database unavailable")
}

// A dead letter's re-run is an attempt of its own kind, numbered on.
func TestRerunAttempt(t *testing.T) {
	tm := newTelemetry(t, otelobserver.Config{})
	r := dispatch.NewRouter()
	r.HandleFunc("booking.reminder", func(context.Context, *events.Event) error { return nil })
	r.Observe(tm.obs)
	dls := &dispatch.MemoryDeadLetters{}
	e := &events.Event{Source: "goconverso", ID: "msg_1", Type: "booking.reminder"}
	require.NoError(t, dls.DeadLetter(context.Background(), dispatch.DeadLetter{Event: e, Err: errors.New("no template"), Attempts: 1}))
	require.NoError(t, dls.Rerun(context.Background(), r, e.Key()))
	spans := tm.spans.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, "handle booking.reminder", spans[0].Name())
	assert.Equal(t, "rerun", spanAttr(spans[0], "hookkit.attempt.kind"))
	assert.Equal(t, "2", spanAttr(spans[0], "hookkit.attempt.number"))
	assert.Equal(t, map[string]int64{
		"hookkit.attempt.kind=rerun,hookkit.event.type=booking.reminder,hookkit.outcome=processed,hookkit.source=goconverso": 1,
	}, counts(t, tm.metrics(t)["hookkit.attempts"]))
}
