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
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
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
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { obs.Close() })
	tm.obs = obs
	return tm
}

// metrics collects the metrics, by name.
func (tm *telemetry) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tm.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	tm.obs.Watch("webhooks", q)
	v, err := verify.NewStripe(otelSecret)
	if err != nil {
		t.Fatal(err)
	}
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithAcceptor(q), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() { ep.Shutdown(context.Background()) })
	b := []byte(fmt.Sprintf(`{"id":"evt_async","type":"payment_intent.succeeded","created":%d,"data":{"object":{"id":"pi_1","amount":5000}}}`, time.Now().Unix()))
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, verifytest.NewRequest(verifytest.Stripe{Secret: otelSecret}, "/webhooks/stripe", b))
	if rec.Code != http.StatusOK {
		t.Fatalf("rec.Code: got %d, want %d", rec.Code, http.StatusOK)
	}
	if got, want := points(t, tm.metrics(t)["hookkit.queue.events"]), (map[string]int64{"hookkit.queue=webhooks,hookkit.queue.state=queued": 1, "hookkit.queue=webhooks,hookkit.queue.state=retrying": 0,
		"hookkit.queue=webhooks,hookkit.queue.state=running": 0}); !reflect.DeepEqual(got, want) {
		t.Errorf("hookkit.queue.events: got %v, want %v", got, want)
	}

	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	waitFor(t, "the delivery and three attempts", 20*time.Second, func() bool { return len(tm.spans.Ended()) == 4 })

	var delivery sdktrace.ReadOnlySpan
	var attempts []sdktrace.ReadOnlySpan
	for _, s := range tm.spans.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			delivery = s
		} else {
			attempts = append(attempts, s)
		}
	}
	if delivery == nil {
		t.Fatal("no delivery span")
	}
	if got := spanAttr(delivery, "hookkit.outcome"); got != "queued" {
		t.Errorf("delivery span hookkit.outcome: got %q, want %q", got, "queued")
	}
	if len(attempts) != 3 {
		t.Fatalf("attempts: got %d items, want %d: %v", len(attempts), 3, attempts)
	}
	for i, a := range attempts {
		if got := a.Name(); got != "process payment_intent.succeeded" {
			t.Errorf("a.Name(): got %q, want %q", got, "process payment_intent.succeeded")
		}
		if got := a.SpanKind(); got != trace.SpanKindConsumer {
			t.Errorf("a.SpanKind(): got %v, want %v", got, trace.SpanKindConsumer)
		}
		if got, want := a.SpanContext().TraceID(), delivery.SpanContext().TraceID(); got != want {
			t.Errorf("one trace: got %v, want %v", got, want)
		}
		if got, want := a.Parent().SpanID(), delivery.SpanContext().SpanID(); got != want {
			t.Errorf("the delivery's span is the parent, across the queue: got %v, want %v", got, want)
		}
		if !a.Parent().IsRemote() {
			t.Errorf("a.Parent().IsRemote(): got false, want true")
		}
		if got, want := spanAttr(a, "hookkit.attempt.number"), fmt.Sprint(i+1); got != want {
			t.Errorf("a span hookkit.attempt.number: got %q, want %q", got, want)
		}
		if got := spanAttr(a, "messaging.message.id"); got != "stripe:evt_async" {
			t.Errorf("a span messaging.message.id: got %q, want %q", got, "stripe:evt_async")
		}
	}

	m := tm.metrics(t)
	if got, want := points(t, m["hookkit.attempts"]), (map[string]int64{
		"hookkit.attempt.kind=async,hookkit.event.type=payment_intent.succeeded,hookkit.outcome=failed,hookkit.source=stripe":    2,
		"hookkit.attempt.kind=async,hookkit.event.type=payment_intent.succeeded,hookkit.outcome=processed,hookkit.source=stripe": 1,
	}); !reflect.DeepEqual(got, want) {
		t.Errorf("points(t, m[\"hookkit.attempts\"]): got %v, want %v", got, want)
	}
	perEvent, ok := m["hookkit.attempts.per_event"].Data.(metricdata.Histogram[int64])
	if !ok {
		t.Fatalf("ok: got false, want true")
	}
	if len(perEvent.DataPoints) != 1 {
		t.Fatalf("perEvent.DataPoints: got %d items, want %d: %v", len(perEvent.DataPoints), 1, perEvent.DataPoints)
	}
	if perEvent.DataPoints[0].Count != uint64(1) {
		t.Errorf("one event: got %d, want %d", perEvent.DataPoints[0].Count, uint64(1))
	}
	if perEvent.DataPoints[0].Sum != int64(3) {
		t.Errorf("that took three attempts: got %d, want %d", perEvent.DataPoints[0].Sum, int64(3))
	}
	if got, want := points(t, m["hookkit.dead_letters"]), (map[string]int64{"hookkit.queue=webhooks": 0}); !reflect.DeepEqual(got, want) {
		t.Errorf("points(t, m[\"hookkit.dead_letters\"]): got %v, want %v", got, want)
	}
}
