package replay_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/fixture"
	"github.com/hookkit/hookkit/events/stripeevent"
	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

func ExampleDir() {
	v, err := verify.NewStripe("whsec_test")
	if err != nil {
		log.Fatal(err)
	}
	r := dispatch.NewRouter()
	dispatch.On(r, stripeevent.ChargeRefunded, func(_ context.Context, _ *events.Event, ch *stripe.Charge) error {
		fmt.Println("refunded", ch.AmountRefunded, "for booking", ch.Metadata["booking_id"])
		return nil
	})
	endpoint := dispatch.NewEndpoint(v, stripeevent.NewParser(), r, dispatch.WithLogger(slog.New(slog.DiscardHandler)))

	results, err := replay.Dir(endpoint, os.DirFS("../../testdata"), "stripe", verifytest.Stripe{Secret: "whsec_test"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(results), "deliveries replayed, first answered", results[0].Status)
	// Output:
	// refunded 5000 for booking 12345
	// 9 deliveries replayed, first answered 200
}

// Send replays one fixture, here built in the test rather than loaded, so
// that a test can change it first: a delivery signed with the wrong secret
// is refused.
func ExampleSend() {
	v, err := verify.NewStripe("whsec_test")
	if err != nil {
		log.Fatal(err)
	}
	endpoint := dispatch.NewEndpoint(v, stripeevent.NewParser(), dispatch.NewRouter(), dispatch.WithLogger(slog.New(slog.DiscardHandler)))
	f := fixture.Fixture{
		Name:    "stripe/customer.created",
		Method:  "POST",
		Target:  "/webhooks/stripe",
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    []byte(`{"id":"evt_send","type":"customer.created","created":1795420800,"data":{"object":{}}}`),
		BodyExt: ".json",
	}
	for _, secret := range []string{"whsec_test", "whsec_other"} {
		res, err := replay.Send(endpoint, f, verifytest.Stripe{Secret: secret})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(secret, res.Status)
	}
	// Output:
	// whsec_test 200
	// whsec_other 400
}
