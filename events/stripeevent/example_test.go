package stripeevent_test

import (
	"fmt"
	"log"
	"os"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/events"
	"github.com/hookkit/hookkit/events/stripeevent"
)

func Example() {
	body, err := os.ReadFile("../../testdata/stripe/payment_intent.succeeded.json")
	if err != nil {
		log.Fatal(err)
	}
	e, err := stripeevent.NewParser().Parse(nil, body) // after verify.NewStripe(...).Verify
	if err != nil {
		log.Fatal(err)
	}
	pi, err := stripeevent.PaymentIntentSucceeded.Decode(e)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.ID, e.Type)
	fmt.Println(pi.ID, pi.Amount, pi.Currency, pi.Metadata["booking_id"])
	// Output:
	// evt_3OdQh2LkdIwHu7ix1Tn5aQ0b payment_intent.succeeded
	// pi_3OdQh2LkdIwHu7ix1pLqDp2K 5000 usd 12345
}

// Any Stripe event type is one line away.
func ExampleCatalog() {
	disputeCreated := events.NewType[*stripe.Dispute]("charge.dispute.created")
	fmt.Println(len(stripeevent.Catalog()), "types in the catalog; one more:", disputeCreated.Name())
	// Output: 9 types in the catalog; one more: charge.dispute.created
}
