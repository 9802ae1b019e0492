package conversoevent_test

import (
	"fmt"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/hookkit/hookkit/events/conversoevent"
)

// GoConverso's bodies signed with an HMAC (verify.NewHMAC): the ID is
// derived from the content, the same on every retry.
func Example() {
	body := []byte(`{"event":"booking.cancelled","timestamp":"2026-11-23T08:04:00.000Z","data":{"booking_id":"12345",
		"client_phone":"+15551234567","service":{"id":"svc_dt60","name":"Deep tissue massage","price":95.00,"duration":60,"currency":"USD"},
		"scheduled_at":"2026-11-26T10:00:00.000Z","status":"cancelled"}}`)
	e, err := conversoevent.NewParser().Parse(nil, body)
	if err != nil {
		log.Fatal(err)
	}
	b, err := conversoevent.BookingCancelled.Decode(e)
	if err != nil {
		log.Fatal(err)
	}
	cents, err := b.Service.Price.Minor(2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.ID[:7], len(e.ID), b.BookingID, b.Status)
	fmt.Println(b.Service.Name, b.Service.Duration, "min", cents, b.Service.Currency, b.ScheduledAt.Format("Jan 2 15:04"))
	// Output:
	// sha256: 39 12345 cancelled
	// Deep tissue massage 60 min 9500 USD Nov 26 10:00
}

// GoConverso's bodies signed with Standard Webhooks (verify.NewStandard):
// the ID is the signed webhook-id.
func ExampleNewStandardParser() {
	body := `{"event":"booking.confirmed","timestamp":"2026-11-23T08:01:00.000Z","data":{"booking_id":"12345","status":"confirmed"}}`
	r := httptest.NewRequest("POST", "/webhooks/bookings", strings.NewReader(body))
	r.Header.Set("Webhook-Id", "msg_2pQx7Lk9Vb3Nw1Rt5Yc8Hd1Zf")

	e, err := conversoevent.NewStandardParser().Parse(r, []byte(body))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Key(), e.Type)
	// Output: goconverso:msg_2pQx7Lk9Vb3Nw1Rt5Yc8Hd1Zf booking.confirmed
}
