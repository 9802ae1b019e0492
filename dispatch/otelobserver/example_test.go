package otelobserver_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"time"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/otelobserver"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// Install the observer on the router; every delivery of its endpoints and
// every attempt at its handlers is then traced and counted, through the
// host's global providers (otel.SetTracerProvider, otel.SetMeterProvider:
// an OTLP or Prometheus exporter) unless Config names others.
// dispatch/otelobserver/sdktest reads the metrics back (Example_metrics).
func Example() {
	obs, err := otelobserver.New(otelobserver.Config{Types: stripeevent.Catalog()})
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
	rec := httptest.NewRecorder()
	ep.ServeHTTP(rec, verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_example"}, "/webhooks/stripe", body))
	fmt.Println(rec.Code)
	// Output: 200
}
