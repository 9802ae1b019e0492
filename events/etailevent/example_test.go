package etailevent_test

import (
	"fmt"
	"log"

	"github.com/hookkit/hookkit/events/etailevent"
)

func Example() {
	body := []byte(`{"id":"evt_et_1","type":"payment.succeeded","created":1795420851,
		"data":{"object":{"id":"pay_1","amount":12900,"currency":"usd","status":"succeeded","metadata":{"booking_id":"12345"}}}}`)
	e, err := etailevent.NewParser().Parse(nil, body)
	if err != nil {
		log.Fatal(err)
	}
	p, err := etailevent.PaymentSucceeded.Decode(e)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Key(), p.Amount, p.Metadata["booking_id"])
	// Output: etail:evt_et_1 12900 12345
}
