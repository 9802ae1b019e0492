package twilioevent_test

import (
	"testing"

	"github.com/hookkit/hookkit/events/twilioevent"
)

// BenchmarkOrdering compares reading a call callback's object and position
// with decoding it into a CallStatus, in the same run.
func BenchmarkOrdering(b *testing.B) {
	e := callback(b, "call.completed", nil)
	b.Run("hookkit", func(b *testing.B) {
		b.SetBytes(int64(len(e.Data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := twilioevent.Ordering(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode-call-status", func(b *testing.B) {
		b.SetBytes(int64(len(e.Data)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := twilioevent.DecodeCallStatus(e.Data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
