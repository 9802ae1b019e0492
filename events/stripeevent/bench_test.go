package stripeevent_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/stripe/stripe-go/v76"

	"github.com/hookkit/hookkit/events/stripeevent"
)

// compacted returns a recorded Stripe event without its pretty-printing:
// payment_intent.succeeded is 1,572 bytes, invoice.payment_succeeded (13
// invoice lines) 16,588.
func compacted(b *testing.B, name string) []byte {
	raw, err := os.ReadFile("../../testdata/stripe/" + name + ".json")
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkEnvelope compares finding a Stripe event's envelope (id, type,
// created, the span of data.object) with decoding the body with
// encoding/json, into stripe-go's Event (what webhook.ConstructEvent does
// after verifying) and into a struct of just the three envelope fields.
func BenchmarkEnvelope(b *testing.B) {
	for _, size := range []struct{ name, file string }{
		{"1.5KiB", "payment_intent.succeeded"},
		{"16KiB", "invoice.payment_succeeded"},
	} {
		body := compacted(b, size.file)
		b.Run(size.name+"/hookkit", func(b *testing.B) {
			p := stripeevent.NewParser()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(nil, body); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/stripe-go-event", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var e stripe.Event
				if err := json.Unmarshal(body, &e); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(size.name+"/encoding-json-3-fields", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var e struct {
					ID      string `json:"id"`
					Type    string `json:"type"`
					Created int64  `json:"created"`
				}
				if err := json.Unmarshal(body, &e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseAndDecode adds the typed decode a handler triggers:
// envelope plus *stripe.PaymentIntent, beside stripe-go's path (Event, then
// data.object into a PaymentIntent).
func BenchmarkParseAndDecode(b *testing.B) {
	body := compacted(b, "payment_intent.succeeded")
	b.Run("hookkit", func(b *testing.B) {
		p := stripeevent.NewParser()
		b.ReportAllocs()
		for b.Loop() {
			e, err := p.Parse(nil, body)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := stripeevent.PaymentIntentSucceeded.Decode(e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stripe-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e stripe.Event
			if err := json.Unmarshal(body, &e); err != nil {
				b.Fatal(err)
			}
			var pi stripe.PaymentIntent
			if err := json.Unmarshal(e.Data.Raw, &pi); err != nil {
				b.Fatal(err)
			}
		}
	})
}
