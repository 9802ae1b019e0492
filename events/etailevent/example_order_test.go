package etailevent_test

import (
	"fmt"
	"log"

	"github.com/hookkit/hookkit/events/etailevent"
)

// A payment's refund in the same second as its success ranks after it.
func ExampleOrdering() {
	p := etailevent.NewParser()
	for _, body := range []string{
		`{"id":"evt_2","type":"payment.refunded","created":1640995200,"data":{"object":{"id":"pay_1234567890","status":"refunded"}}}`,
		`{"id":"evt_1","type":"payment.succeeded","created":1640995200,"data":{"object":{"id":"pay_1234567890","status":"succeeded"}}}`,
	} {
		e, err := p.Parse(nil, []byte(body))
		if err != nil {
			log.Fatal(err)
		}
		object, pos, err := etailevent.Ordering(e)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(e.Type, object, pos.At, pos.Rank)
	}
	// Output:
	// payment.refunded pay_1234567890 1640995200 3
	// payment.succeeded pay_1234567890 1640995200 2
}
