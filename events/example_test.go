package events_test

import (
	"fmt"
	"log"
	"net/url"

	"github.com/hookkit/hookkit/events"
)

type Refund struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
}

func ExampleNewType() {
	refundCreated := events.NewType[*Refund]("refund.created")

	e := &events.Event{ID: "evt_1", Type: "refund.created", Source: "shop", Data: []byte(`{"id":"re_1","amount":2500}`)}
	refund, err := refundCreated.Decode(e) // a *Refund, decoded on demand
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(refund.ID, refund.Amount)
	// Output: re_1 2500
}

func ExampleNewJSONParserSafely() {
	// A sender whose events look like {"event_id", "kind", "at", "payload"}.
	parser, err := events.NewJSONParserSafely(events.JSONConfig{
		Source: "shop",
		ID:     "event_id",
		Type:   "kind",
		Time:   "at",
		Data:   "payload",
	})
	if err != nil {
		log.Fatal(err)
	}
	body := []byte(`{"event_id":"ev_9","kind":"refund.created","at":"2026-11-23T08:00:00Z","payload":{"id":"re_1","amount":2500}}`)
	e, err := parser.Parse(nil, body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Key(), e.Type, e.Time.Format("2006-01-02"), string(e.Data))

	_, err = parser.Parse(nil, []byte(`{"event_id":"ev_10","payload":{}}`))
	fmt.Println(err)
	// Output:
	// shop:ev_9 refund.created 2026-11-23 {"id":"re_1","amount":2500}
	// shop: no event type (a non-empty string) at "kind": events: malformed event
}

// NewJSONParser is for a configuration fixed in code, as the provider
// packages' presets are: a mistake in it is a bug, found at start-up.
func ExampleNewJSONParser() {
	parser := events.NewJSONParser(events.JSONConfig{Source: "shop", ID: "id", Type: "type", Data: "data"})
	e, err := parser.Parse(nil, []byte(`{"id":"ev_1","type":"order.paid","data":{"total":4200}}`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Key(), e.Type, string(e.Data))
	// Output: shop:ev_1 order.paid {"total":4200}
}

// NewTypeFunc decodes a payload that is not JSON: here a form's fields.
func ExampleNewTypeFunc() {
	smsStatus := events.NewTypeFunc("sms.status", func(data []byte) (url.Values, error) {
		v, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, fmt.Errorf("sms status: not a form: %w", err)
		}
		return v, nil
	})
	form, err := smsStatus.Decode(&events.Event{Type: "sms.status", Data: []byte("MessageSid=SM1&MessageStatus=delivered")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(form.Get("MessageSid"), form.Get("MessageStatus"))
	// Output: SM1 delivered
}
