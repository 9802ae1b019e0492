package events_test

import (
	"fmt"
	"log"

	"github.com/hookkit/hookkit/events"
)

type Refund struct {
	ID     string `json:"id"`
	Amount int64  `json:"amount"`
}

func ExampleNewKind() {
	refundCreated := events.NewKind[*Refund]("refund.created")

	e := &events.Event{ID: "evt_1", Type: "refund.created", Source: "shop", Data: []byte(`{"id":"re_1","amount":2500}`)}
	refund, err := refundCreated.Decode(e) // a *Refund, decoded on demand
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(refund.ID, refund.Amount)
	// Output: re_1 2500
}

func ExampleNewJSONParser() {
	// A sender whose events look like {"event_id", "kind", "at", "payload"}.
	parser, err := events.NewJSONParser(events.JSONConfig{
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

func ExampleNames() {
	// What a provider package's Catalog function returns.
	fmt.Println(events.Names(events.NewKind[*Refund]("refund.failed"), events.NewKind[*Refund]("refund.created")))
	// Output: [refund.created refund.failed]
}
