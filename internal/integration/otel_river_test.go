package integration_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/otelobserver"
	"github.com/hookkit/hookkit/dispatch/riverqueue"
	"github.com/hookkit/hookkit/dispatch/sqltx"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// This file checks dispatch/otelobserver and dispatch/riverqueue together,
// which is why it lives in this module: otelobserver's own module does not
// require River.

const otelSecret = "whsec_otel_tests"

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

// points returns an int64 counter's or gauge's values by attribute set.
func points(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	switch data := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range data.DataPoints {
			out[attrs(p.Attributes)] = p.Value
		}
	case metricdata.Gauge[int64]:
		for _, p := range data.DataPoints {
			out[attrs(p.Attributes)] = p.Value
		}
	default:
		t.Fatalf("%s is neither an int64 counter nor a gauge", m.Name)
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

// Through River, the worker's attempts are consumer spans whose parent is
// the delivery's span, across the queue; each retry is an attempt record,
// and the event's attempts are counted once it is processed.
func TestAttemptsAcrossTheQueue(t *testing.T) {
	tm := newTelemetry(t, otelobserver.Config{})
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "river.db")+"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	var runs atomic.Int32
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(context.Context, *events.Event) error {
		if runs.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	r.Observe(tm.obs)
	q, err := riverqueue.New(riversqlite.New(db), sqltx.NewTransactor(db), r, riverqueue.Config{
		Retry:  []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond},
		Logger: slog.New(slog.DiscardHandler),
		River:  &river.Config{FetchPollInterval: 50 * time.Millisecond},
	})
	require.NoError(t, err)
	require.NoError(t, q.Migrate(context.Background()))
	tm.obs.Watch("webhooks", q)
	v, err := verify.NewStripe(otelSecret)
	require.NoError(t, err)
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(q), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() { ep.Shutdown(context.Background()) })
	b := []byte(fmt.Sprintf(`{"id":"evt_async","type":"payment_intent.succeeded","created":%d,"data":{"object":{"id":"pi_1","amount":5000}}}`, time.Now().Unix()))
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, verifytest.NewRequest(verifytest.Stripe{Secret: otelSecret}, "/webhooks/stripe", b))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, map[string]int64{"hookkit.queue=webhooks,hookkit.queue.state=queued": 1, "hookkit.queue=webhooks,hookkit.queue.state=retrying": 0,
		"hookkit.queue=webhooks,hookkit.queue.state=running": 0}, points(t, tm.metrics(t)["hookkit.queue.events"]))

	require.NoError(t, q.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	require.Eventually(t, func() bool { return len(tm.spans.Ended()) == 4 }, 20*time.Second, 20*time.Millisecond, "the delivery and three attempts")

	var delivery sdktrace.ReadOnlySpan
	var attempts []sdktrace.ReadOnlySpan
	for _, s := range tm.spans.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			delivery = s
		} else {
			attempts = append(attempts, s)
		}
	}
	require.NotNil(t, delivery)
	assert.Equal(t, "queued", spanAttr(delivery, "hookkit.outcome"))
	require.Len(t, attempts, 3)
	for i, a := range attempts {
		assert.Equal(t, "process payment_intent.succeeded", a.Name())
		assert.Equal(t, trace.SpanKindConsumer, a.SpanKind())
		assert.Equal(t, delivery.SpanContext().TraceID(), a.SpanContext().TraceID(), "one trace")
		assert.Equal(t, delivery.SpanContext().SpanID(), a.Parent().SpanID(), "the delivery's span is the parent, across the queue")
		assert.True(t, a.Parent().IsRemote())
		assert.Equal(t, fmt.Sprint(i+1), spanAttr(a, "hookkit.attempt.number"))
		assert.Equal(t, "stripe:evt_async", spanAttr(a, "messaging.message.id"))
	}

	m := tm.metrics(t)
	assert.Equal(t, map[string]int64{
		"hookkit.attempt.kind=async,hookkit.event.type=payment_intent.succeeded,hookkit.outcome=failed,hookkit.source=stripe":    2,
		"hookkit.attempt.kind=async,hookkit.event.type=payment_intent.succeeded,hookkit.outcome=processed,hookkit.source=stripe": 1,
	}, points(t, m["hookkit.attempts"]))
	perEvent, ok := m["hookkit.attempts.per_event"].Data.(metricdata.Histogram[int64])
	require.True(t, ok)
	require.Len(t, perEvent.DataPoints, 1)
	assert.Equal(t, uint64(1), perEvent.DataPoints[0].Count, "one event")
	assert.Equal(t, int64(3), perEvent.DataPoints[0].Sum, "that took three attempts")
	assert.Equal(t, map[string]int64{"hookkit.queue=webhooks": 0}, points(t, m["hookkit.dead_letters"]))
}
