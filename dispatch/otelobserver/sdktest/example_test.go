package sdktest_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/otelobserver"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// The observer counts a delivery and its attempt: its metrics read back
// from the SDK's in-memory reader (a host passes its own MeterProvider: a
// Prometheus exporter, OTLP...).
func Example_metrics() {
	reader := sdkmetric.NewManualReader()
	obs, err := otelobserver.New(otelobserver.Config{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		Types:         stripeevent.Catalog(),
	})
	if err != nil {
		panic(err)
	}
	defer obs.Close()

	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.*", func(context.Context, *events.Event) error { return nil })
	r.Observe(obs)
	v, err := verify.NewStripe("whsec_example")
	if err != nil {
		panic(err)
	}
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithLogger(slog.New(slog.DiscardHandler)))

	body := fmt.Appendf(nil, `{"id":"evt_1","type":"payment_intent.succeeded","created":%d,"data":{"object":{}}}`, time.Now().Unix())
	ep.ServeHTTP(httptest.NewRecorder(), verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_example"}, "/webhooks/stripe", body))

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
			for _, p := range sum.DataPoints {
				fmt.Println(m.Name, p.Attributes.Encoded(attribute.DefaultEncoder()), p.Value)
			}
		}
	}
	// Output:
	// hookkit.deliveries hookkit.event.type=payment_intent.succeeded,hookkit.outcome=processed,hookkit.source=stripe,http.response.status_code=200 1
	// hookkit.attempts hookkit.attempt.kind=sync,hookkit.event.type=payment_intent.succeeded,hookkit.outcome=processed,hookkit.source=stripe 1
}
