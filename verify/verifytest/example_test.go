package verifytest_test

import (
	"fmt"
	"log"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// A host's handler test sends a delivery signed as Stripe would sign it.
func ExampleNewRequest() {
	v, err := verify.NewStripe("whsec_test")
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"id":"evt_1","type":"payment_intent.succeeded"}`)
	r := verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_test"}, "/webhooks/stripe", body)
	fmt.Println(v.Verify(r, body))

	forged := verifytest.NewRequest(verifytest.Stripe{Secret: "whsec_guess"}, "/webhooks/stripe", body)
	fmt.Println(v.Verify(forged, body) != nil)
	// Output:
	// <nil>
	// true
}
