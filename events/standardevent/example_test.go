package standardevent_test

import (
	"fmt"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/hookkit/hookkit/events/standardevent"
)

func ExampleNewParser() {
	body := `{"type":"booking.confirmed","timestamp":"2026-11-23T08:01:00Z","data":{"booking_id":"12345"}}`
	r := httptest.NewRequest("POST", "/webhooks/bookings", strings.NewReader(body))
	r.Header.Set("webhook-id", "msg_2pQx7Lk9")

	e, err := standardevent.NewParser("goconverso").Parse(r, []byte(body))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Key(), e.Type, string(e.Data))
	// Output: goconverso:msg_2pQx7Lk9 booking.confirmed {"booking_id":"12345"}
}
