package reconcile_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/reconcile"
	"github.com/hookkit/hookkit/dispatch/reconcile/reconciletest"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

// A payment whose webhook never arrived is recovered from Stripe's List
// Events API (here a local server that speaks it) and applied once; a
// second run finds nothing more to do.
func Example() {
	api := reconciletest.NewServer(reconciletest.Config{StripeKey: "rk_test_example"})
	defer api.Close()
	api.AddStripeEvent(reconciletest.StripeEvent("evt_missed", "payment_intent.succeeded", time.Now().Add(-time.Hour),
		`{"id":"pi_1","object":"payment_intent","amount":5000,"currency":"usd","status":"succeeded","metadata":{"booking_id":"b42"}}`))

	// The host's Stripe endpoint, as it serves webhooks.
	router := dispatch.NewRouter()
	dispatch.On(router, stripeevent.PaymentIntentSucceeded, func(_ context.Context, e *events.Event, pi *stripe.PaymentIntent) error {
		fmt.Println("booking", pi.Metadata["booking_id"], "paid, by", e.ID)
		return nil
	})
	v, _ := verify.NewStripe("whsec_example")
	quiet := slog.New(slog.DiscardHandler)
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), router, dispatch.WithLogger(quiet))

	source, err := reconcile.NewStripe(reconcile.StripeConfig{Key: "rk_test_example", URL: api.URL})
	if err != nil {
		panic(err)
	}
	r, err := reconcile.New(reconcile.Config{Endpoint: ep, Source: source, Store: reconcile.NewMemoryStore(), Logger: quiet})
	if err != nil {
		panic(err)
	}
	for range 2 {
		rep, err := r.Run(context.Background())
		fmt.Println("recovered:", rep.Recovered(), "caught up:", rep.CaughtUp, "error:", err)
	}
	// Output:
	// booking b42 paid, by evt_missed
	// recovered: 1 caught up: true error: <nil>
	// recovered: 0 caught up: true error: <nil>
}
