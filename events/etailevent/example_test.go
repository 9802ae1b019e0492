package etailevent_test

import (
	"fmt"
	"log"

	"github.com/hookkit/hookkit/events/etailevent"
)

func Example() {
	body := []byte(`{"id":"evt_et_1","type":"payment.succeeded","created":1795420851,
		"data":{"object":{"id":"pay_1","amount":12900,"currency":"USD","status":"succeeded",
		"customer":{"id":"cust_1","email":"guest@example.com"}}},
		"request":{"id":"req_1","idempotency_key":"checkout-12345"}}`)
	e, err := etailevent.NewParser().Parse(nil, body)
	if err != nil {
		log.Fatal(err)
	}
	p, err := etailevent.PaymentSucceeded.Decode(e)
	if err != nil {
		log.Fatal(err)
	}
	// The request lies outside data.object: read it only when needed.
	env, err := etailevent.EnvelopeOf(e)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Key(), p.Amount, p.Currency, p.Customer.Email)
	fmt.Println(env.Request.ID, *env.Request.IdempotencyKey)
	// Output:
	// etail:evt_et_1 12900 USD guest@example.com
	// req_1 checkout-12345
}
