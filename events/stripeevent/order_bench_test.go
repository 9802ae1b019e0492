package stripeevent_test

import (
	"encoding/json"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/events/stripeevent"
)

// BenchmarkOrdering compares reading an event's object and position
// (data.object's id, object and status, in one pass of the scanner) with
// decoding data.object with encoding/json, into stripe-go's type (what a
// guard that used the handler's typed decode would pay) and into a struct
// of just the fields the Order reads.
func BenchmarkOrdering(b *testing.B) {
	for _, c := range []struct {
		name, file string
		typed      func() any
	}{
		{"subscription-2.6KiB", "customer.subscription.updated", func() any { return new(stripe.Subscription) }},
		{"invoice-16KiB", "invoice.payment_succeeded", func() any { return new(stripe.Invoice) }},
	} {
		e, err := stripeevent.NewParser().Parse(nil, compacted(b, c.file))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/hookkit", func(b *testing.B) {
			b.SetBytes(int64(len(e.Data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := stripeevent.Ordering(e); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/encoding-json-stripe-go", func(b *testing.B) {
			b.SetBytes(int64(len(e.Data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := json.Unmarshal(e.Data, c.typed()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/encoding-json-4-fields", func(b *testing.B) {
			b.SetBytes(int64(len(e.Data)))
			b.ReportAllocs()
			for b.Loop() {
				var o struct {
					ID       string `json:"id"`
					Object   string `json:"object"`
					Status   string `json:"status"`
					Refunded bool   `json:"refunded"`
				}
				if err := json.Unmarshal(e.Data, &o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
