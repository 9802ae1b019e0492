package conversoevent_test

import (
	"fmt"
	"log"

	"github.com/hookkit/hookkit/events/conversoevent"
)

// A booking's position is its event's timestamp in milliseconds; a
// confirmation of the same millisecond ranks after the creation. A
// reminder is about no ordered object: it always runs.
func ExampleOrdering() {
	p := conversoevent.NewParser()
	for _, body := range []string{
		`{"event":"booking.confirmed","timestamp":"2026-02-01T14:30:00.250Z","data":{"booking_id":"b7e8f9a0","status":"confirmed"}}`,
		`{"event":"booking.created","timestamp":"2026-02-01T14:30:00.250Z","data":{"booking_id":"b7e8f9a0","status":"confirmed"}}`,
		`{"event":"booking.reminder","timestamp":"2026-02-04T10:00:00.000Z","data":{"booking_id":"b7e8f9a0","status":"confirmed"}}`,
	} {
		e, err := p.Parse(nil, []byte(body))
		if err != nil {
			log.Fatal(err)
		}
		object, pos, err := conversoevent.Ordering(e)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %q %d %d\n", e.Type, object, pos.At, pos.Rank)
	}
	// Output:
	// booking.confirmed "b7e8f9a0" 1769956200250 2
	// booking.created "b7e8f9a0" 1769956200250 1
	// booking.reminder "" 0 0
}
