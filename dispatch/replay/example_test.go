package replay_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/dispatch"
	"github.com/hookkit/hookkit/dispatch/replay"
	"github.com/hookkit/hookkit/events"
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
