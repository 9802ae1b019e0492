package conversoevent_test

import (
	"fmt"
	"log"

	"github.com/hookkit/hookkit/events/conversoevent"
)

func Example() {
	body := []byte(`{"event":"booking.cancelled","timestamp":"2026-11-23T08:04:00Z",
		"data":{"booking_id":"12345","status":"cancelled","client_phone":"+15551234567","reason":"client no longer available"}}`)
	e, err := conversoevent.NewParser().Parse(nil, body)
	if err != nil {
		log.Fatal(err)
	}
	b, err := conversoevent.BookingCancelled.Decode(e)
	if err != nil {
		log.Fatal(err)
	}
	// GoConverso sends no ID: it is derived from the content, the same on a retry.
	fmt.Println(e.ID[:7], len(e.ID), b.BookingID, b.Reason)
	// Output: sha256: 39 12345 client no longer available
}
