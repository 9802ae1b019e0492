package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
)

// An event read from Stripe's List Events API (package dispatch/reconcile
// does the reading) goes through the Endpoint its webhook would have: its
// handler runs once, and the webhook, if it comes after all, is a
// duplicate.
func ExampleEndpoint_Recover() {
	r := dispatch.NewRouter()
	r.HandleFunc("payment_intent.succeeded", func(_ context.Context, e *events.Event) error {
		fmt.Println("booking paid by", e.ID)
		return nil
	})
	v, _ := verify.NewStripe("whsec_example")
	ep := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithLogger(slog.New(slog.DiscardHandler)))

	listed := []byte(`{"id":"evt_missed","object":"event","type":"payment_intent.succeeded","created":1796000000,` +
		`"data":{"object":{"id":"pi_1","object":"payment_intent","metadata":{"booking_id":"b42"}}}}`)
	for range 2 {
		res := ep.Recover(context.Background(), listed, nil)
		fmt.Println(res.Outcome, res.Outcome.Status())
	}
	fmt.Println(ep.Patterns())
	// Output:
	// booking paid by evt_missed
	// recovered 200
	// duplicate 200
	// [payment_intent.succeeded]
}
