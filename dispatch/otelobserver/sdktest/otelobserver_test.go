package sdktest_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

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

// counts returns an int64 counter's values by attribute set.
func counts(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	sum, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a counter", m.Name)
	}
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
	if !ok {
		t.Fatalf("%s is a float histogram", m.Name)
	}
	out := map[string]uint64{}
	for _, p := range h.DataPoints {
		out[attrs(p.Attributes)] = p.Count
	}
	return out
}

func gauges(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	g, ok := m.Data.(metricdata.Gauge[int64])
	if !ok {
		t.Fatalf("%s is a gauge", m.Name)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	store, err := idempotency.NewMemoryStore(idempotency.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
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
		if !trace.SpanContextFromContext(ctx).IsValid() {
			t.Errorf("the handler runs in the attempt's span")
		}
		return nil
	})
	r.Observe(tm.obs)
	if got := send(mux(t, r), body("evt_otel_1", "payment_intent.succeeded"), stripeSigner); got != 200 {
		t.Fatalf("status: got %d, want 200", got)
	}

	spans := tm.spans.Ended()
	if len(spans) != 2 {
		t.Fatalf("spans: got %d items, want %d: %v", len(spans), 2, spans)
	}
	attempt, delivery := spans[0], spans[1]
	if got := delivery.Name(); got != "POST /webhooks/stripe" {
		t.Errorf("delivery.Name(): got %q, want %q", got, "POST /webhooks/stripe")
	}
	if got := delivery.SpanKind(); got != trace.SpanKindServer {
		t.Errorf("delivery.SpanKind(): got %v, want %v", got, trace.SpanKindServer)
	}
	if got := spanAttr(delivery, "http.request.method"); got != "POST" {
		t.Errorf("delivery span http.request.method: got %q, want %q", got, "POST")
	}
	if got := spanAttr(delivery, "http.route"); got != "/webhooks/stripe" {
		t.Errorf("delivery span http.route: got %q, want %q", got, "/webhooks/stripe")
	}
	if got := spanAttr(delivery, "url.path"); got != "/webhooks/stripe" {
		t.Errorf("delivery span url.path: got %q, want %q", got, "/webhooks/stripe")
	}
	if got := spanAttr(delivery, "http.response.status_code"); got != "200" {
		t.Errorf("delivery span http.response.status_code: got %q, want %q", got, "200")
	}
	if got := spanAttr(delivery, "hookkit.outcome"); got != "processed" {
		t.Errorf("delivery span hookkit.outcome: got %q, want %q", got, "processed")
	}
	if got := spanAttr(delivery, "hookkit.event.id"); got != "evt_otel_1" {
		t.Errorf("delivery span hookkit.event.id: got %q, want %q", got, "evt_otel_1")
	}
	if got := attempt.Name(); got != "handle payment_intent.succeeded" {
		t.Errorf("attempt.Name(): got %q, want %q", got, "handle payment_intent.succeeded")
	}
	if got, want := attempt.Parent().SpanID(), delivery.SpanContext().SpanID(); got != want {
		t.Errorf("the attempt is the delivery's child: got %v, want %v", got, want)
	}
	if got := spanAttr(attempt, "hookkit.attempt.kind"); got != "sync" {
		t.Errorf("attempt span hookkit.attempt.kind: got %q, want %q", got, "sync")
	}
	if got := spanAttr(attempt, "hookkit.attempt.number"); got != "1" {
		t.Errorf("attempt span hookkit.attempt.number: got %q, want %q", got, "1")
	}

	m := tm.metrics(t)
	if got, want := counts(t, m["hookkit.deliveries"]), (map[string]int64{
		"hookkit.event.type=payment_intent.succeeded,hookkit.outcome=processed,hookkit.source=stripe,http.response.status_code=200": 1,
	}); !reflect.DeepEqual(got, want) {
		t.Errorf("hookkit.deliveries: got %v, want %v", got, want)
	}
	if got, want := counts(t, m["hookkit.attempts"]), (map[string]int64{
		"hookkit.attempt.kind=sync,hookkit.event.type=payment_intent.succeeded,hookkit.outcome=processed,hookkit.source=stripe": 1,
	}); !reflect.DeepEqual(got, want) {
		t.Errorf("hookkit.attempts: got %v, want %v", got, want)
	}
	steps := histogramCounts(t, m["hookkit.delivery.step.duration"])
	for _, step := range []string{"read", "verify", "parse", "store", "handler"} {
		if steps["hookkit.source=stripe,hookkit.step="+step] != uint64(1) {
			t.Errorf("hookkit.delivery.step.duration of %s: got %d, want 1", step, steps["hookkit.source=stripe,hookkit.step="+step])
		}
	}
	if got := histogramCounts(t, m["hookkit.delivery.duration"])["hookkit.event.type=payment_intent.succeeded,hookkit.outcome=processed,hookkit.source=stripe"]; got != uint64(1) {
		t.Errorf("hookkit.delivery.duration: got %d, want 1", got)
	}
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
	if got := send(h, body("evt_fails", "payment_intent.succeeded"), stripeSigner); got != 500 {
		t.Fatalf("status: got %d, want 500", got)
	}
	if got := send(h, body("evt_forged", "payment_intent.succeeded"), verifytest.Stripe{Secret: "whsec_guess"}); got != 400 {
		t.Fatalf("status: got %d, want 400", got)
	}
	if got := send(h, body("evt_unknown", "invoice.paid"), stripeSigner); got != 200 {
		t.Fatalf("status: got %d, want 200", got)
	}

	if got, want := counts(t, tm.metrics(t)["hookkit.deliveries"]), (map[string]int64{
		"hookkit.event.type=payment_intent.succeeded,hookkit.outcome=failed,hookkit.source=stripe,http.response.status_code=500": 1,
		"hookkit.outcome=rejected-signature,hookkit.source=stripe,http.response.status_code=400":                                 1,
		"hookkit.event.type=other,hookkit.outcome=unknown-type,hookkit.source=stripe,http.response.status_code=200":              1,
	}); !reflect.DeepEqual(got, want) {
		t.Errorf("hookkit.deliveries: got %v, want %v", got, want)
	}
	for _, s := range tm.spans.Ended() {
		for _, kv := range s.Attributes() {
			if got := kv.Value.String(); strings.Contains(got, "hunter2") {
				t.Errorf("no error text in spans: got %q, want it not to contain %q", got, "hunter2")
			}
		}
		if s.Name() == "POST /webhooks/stripe" && spanAttr(s, "http.response.status_code") == "500" {
			if got := s.Status().Code; got != codes.Error {
				t.Errorf("s.Status().Code: got %v, want %v", got, codes.Error)
			}
			if got := spanAttr(s, "error.type"); got != "500" {
				t.Errorf("span error.type: got %q, want %q", got, "500")
			}
		}
		if strings.HasPrefix(s.Name(), "handle ") {
			if got := spanAttr(s, "error.type"); got != "*errors.errorString" {
				t.Errorf("span error.type: got %q, want %q", got, "*errors.errorString")
			}
			if got := spanAttr(s, "hookkit.outcome"); got != "failed" {
				t.Errorf("span hookkit.outcome: got %q, want %q", got, "failed")
			}
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
		if got := send(h, body(fmt.Sprintf("evt_card_%05d", i), typ), stripeSigner); got != 200 {
			t.Fatalf("status: got %d, want 200", got)
		}
	}
	if got := send(h, body("evt_listed", "charge.refunded"), stripeSigner); got != 200 {
		t.Fatalf("status: got %d, want 200", got)
	}

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
	if want := (map[string]bool{"payment_intent.*": true, "other": true, "charge.refunded": true}); !reflect.DeepEqual(types, want) {
		t.Errorf("types: got %v, want %v", types, want)
	}
	if got := len(counts(t, m["hookkit.deliveries"])); got != 3 {
		t.Errorf("series of hookkit.deliveries: got %d, want 3", got)
	}
	if got := len(histogramCounts(t, m["hookkit.delivery.duration"])); got != 3 {
		t.Errorf("series of hookkit.delivery.duration: got %d, want 3", got)
	}
}

// Watched queues and dead-letter stores are gauges; a source that cannot
// answer reports nothing rather than a false zero.
func TestGauges(t *testing.T) {
	tm := newTelemetry(t, otelobserver.Config{})
	dls := &dispatch.MemoryDeadLetters{}
	for i := range 2 {
		if err := dls.DeadLetter(context.Background(), dispatch.DeadLetter{Event: &events.Event{Source: "x", ID: fmt.Sprint(i), Type: "t"}}); err != nil {
			t.Fatal(err)
		}
	}
	tm.obs.Watch("memory", dls)
	tm.obs.Watch("down", downSource{})
	m := tm.metrics(t)
	if got, want := gauges(t, m["hookkit.dead_letters"]), (map[string]int64{"hookkit.queue=memory": 2}); !reflect.DeepEqual(got, want) {
		t.Errorf("hookkit.dead_letters: got %v, want %v", got, want)
	}
	_, ok := m["hookkit.queue.events"]
	if ok {
		t.Errorf("a dead-letter store is not a queue")
	}
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
	if err := dls.DeadLetter(context.Background(), dispatch.DeadLetter{Event: e, Err: errors.New("no template"), Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if err := dls.Rerun(context.Background(), r, e.Key()); err != nil {
		t.Fatal(err)
	}
	spans := tm.spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("spans: got %d items, want %d: %v", len(spans), 1, spans)
	}
	if got := spans[0].Name(); got != "handle booking.reminder" {
		t.Errorf("spans[0].Name(): got %q, want %q", got, "handle booking.reminder")
	}
	if got := spanAttr(spans[0], "hookkit.attempt.kind"); got != "rerun" {
		t.Errorf("span hookkit.attempt.kind: got %q, want %q", got, "rerun")
	}
	if got := spanAttr(spans[0], "hookkit.attempt.number"); got != "2" {
		t.Errorf("span hookkit.attempt.number: got %q, want %q", got, "2")
	}
	if got, want := counts(t, tm.metrics(t)["hookkit.attempts"]), (map[string]int64{
		"hookkit.attempt.kind=rerun,hookkit.event.type=booking.reminder,hookkit.outcome=processed,hookkit.source=goconverso": 1,
	}); !reflect.DeepEqual(got, want) {
		t.Errorf("hookkit.attempts: got %v, want %v", got, want)
	}
}
