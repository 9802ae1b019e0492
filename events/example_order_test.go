package events_test

import (
	"fmt"
	"log"

	"github.com/hookkit/hookkit/events"
)

// RefundVersion is what a host's Order reads of a refund event.
type RefundVersion struct {
	ID      string `json:"id"`
	Version int64  `json:"version"`
}

// A host's own Order, for a sender no provider package covers: its refund
// events carry the refund's id and a version that grows with each change,
// {"id": "re_1", "version": 3, ...}. An event without an id is about no
// refund and is not guarded.
func ExampleOrder() {
	var refundOrder events.Order = func(e *events.Event) (string, events.Position, error) {
		var v RefundVersion
		// A payload that does not decode is a *DecodeError wrapping
		// ErrUndecodable, naming the field, quoting no value.
		if err := events.DecodeJSON(e, e.Data, &v); err != nil {
			return "", events.Position{}, err
		}
		return v.ID, events.Position{At: v.Version}, nil
	}

	// Version 3 arrives before version 2; then a retry of version 3.
	var last *events.Position
	for _, data := range []string{
		`{"id":"re_1","version":3,"status":"succeeded"}`,
		`{"id":"re_1","version":2,"status":"pending"}`,
		`{"id":"re_1","version":3,"status":"succeeded"}`,
	} {
		e := &events.Event{Source: "shop", ID: "ev", Type: "refund.updated", Data: []byte(data)}
		object, pos, err := refundOrder.Of(e)
		if err != nil {
			log.Fatal(err)
		}
		// The guard's rule: stale only when strictly older.
		if last != nil && pos.Compare(*last) < 0 {
			fmt.Println(object, "version", pos.At, "stale")
			continue
		}
		last = &pos
		fmt.Println(object, "version", pos.At, "runs")
	}

	_, _, err := refundOrder.Of(&events.Event{Source: "shop", ID: "ev_9", Type: "refund.updated", Data: []byte(`{"id":"re_1","version":"three"}`)})
	fmt.Println(err)
	// Output:
	// re_1 version 3 runs
	// re_1 version 2 stale
	// re_1 version 3 runs
	// shop event ev_9 (refund.updated) into *events_test.RefundVersion: field version: a JSON string cannot be a Go int64: events: payload does not decode
}

func ExamplePosition_Compare() {
	// Two events of one Stripe subscription in the same second: the
	// deletion (canceled ranks above every other status) is the newer.
	updated := events.Position{At: 1795420820, Rank: 2}
	deleted := events.Position{At: 1795420820, Rank: 4}
	fmt.Println(updated.Compare(deleted), deleted.Compare(updated), updated.Compare(updated))
	// Output: -1 1 0
}
