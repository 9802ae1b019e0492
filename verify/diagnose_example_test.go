package verify_test

import (
	"bytes"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/hookkit/hookkit/verify"
	"github.com/hookkit/hookkit/verify/verifytest"
)

// A host logs why a delivery was rejected: here a framework re-indented
// the JSON before the handler verified it.
func ExampleDiagnose() {
	const secret = "whsec_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z"
	v, err := verify.NewStripe(secret)
	if err != nil {
		log.Fatal(err)
	}
	sent := []byte(`{"id":"evt_1","type":"payment_intent.succeeded"}`)
	r := httptest.NewRequest(http.MethodPost, "https://api.example.com/webhooks/stripe", bytes.NewReader(sent))
	if err := (verifytest.Stripe{Secret: secret}).Sign(r, sent); err != nil {
		log.Fatal(err)
	}
	received := []byte("{\n  \"id\": \"evt_1\",\n  \"type\": \"payment_intent.succeeded\"\n}")

	if err := v.Verify(r, received); err != nil {
		d := verify.Diagnose(r, received, verify.DiagnoseConfig{Scheme: "stripe", Secret: secret})
		fmt.Println(d.Check, "/", d.Cause)
		fmt.Println(d.Detail)
	}
	// Output:
	// signature / reserialized
	// the body verifies after writing it compact, without whitespace (it was parsed and re-serialised): verify the raw bytes as received, before anything parses or rewrites them
}
