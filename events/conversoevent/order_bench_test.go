package conversoevent_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/hookkit/hookkit/events/conversoevent"
)

// BenchmarkOrdering compares reading a booking event's object and
// position (booking_id, in one pass of the scanner) with decoding its data
// into a Booking with encoding/json, in the same run.
func BenchmarkOrdering(b *testing.B) {
	e := recorded(b, "booking.rescheduled", "")
	var compact bytes.Buffer
	if err := json.Compact(&compact, e.Data); err != nil {
		b.Fatal(err)
	}
	e.Data = compact.Bytes()
	b.Run("hookkit", func(b *testing.B) {
		b.SetBytes(int64(len(e.Data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := conversoevent.Ordering(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json-booking", func(b *testing.B) {
		b.SetBytes(int64(len(e.Data)))
		b.ReportAllocs()
		for b.Loop() {
			var v conversoevent.Booking
			if err := json.Unmarshal(e.Data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
