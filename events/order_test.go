package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hookkit/hookkit/events"
)

func TestPositionCompare(t *testing.T) {
	for _, c := range []struct {
		p, q events.Position
		want int
	}{
		{events.Position{}, events.Position{}, 0},
		{events.Position{At: 1}, events.Position{At: 2}, -1},
		{events.Position{At: 2}, events.Position{At: 1, Rank: 9}, 1}, // At decides before Rank
		{events.Position{At: 7, Rank: 1}, events.Position{At: 7, Rank: 2}, -1},
		{events.Position{At: 7, Rank: 3}, events.Position{At: 7, Rank: 2}, 1},
		{events.Position{At: 7, Rank: 2}, events.Position{At: 7, Rank: 2}, 0},
		{events.Position{Rank: 1}, events.Position{Rank: 0}, 1}, // no time: the rank alone
		{events.Position{At: -1}, events.Position{At: 0}, -1},
	} {
		if got := c.p.Compare(c.q); got != c.want {
			t.Errorf("%+v.Compare(%+v) = %d, want %d", c.p, c.q, got, c.want)
		}
		if got := c.q.Compare(c.p); got != -c.want {
			t.Errorf("%+v.Compare(%+v) = %d, want %d", c.q, c.p, got, -c.want)
		}
	}
}

// Of checks what any Order returns, a host's included: an object that no
// store could keep as a key is undecodable, never passed on; an error that
// does not say it is permanent is made so; nil orders nothing.
func TestOrderOf(t *testing.T) {
	e := &events.Event{Source: "acme", ID: "evt_1", Type: "invoice.updated"}
	returning := func(object string, err error) events.Order {
		return func(*events.Event) (string, events.Position, error) {
			return object, events.Position{At: 3, Rank: 1}, err
		}
	}
	hostErr := errors.New("no invoice field")
	for _, c := range []struct {
		name        string
		order       events.Order
		object      string
		pos         events.Position
		undecodable bool
		quotes      string // a value the error must not quote
	}{
		{name: "nil", order: nil},
		{name: "no object: no position", order: returning("", nil)},
		{name: "an object", order: returning("inv_1", nil), object: "inv_1", pos: events.Position{At: 3, Rank: 1}},
		{name: "the longest object", order: returning(strings.Repeat("i", events.MaxIDBytes), nil),
			object: strings.Repeat("i", events.MaxIDBytes), pos: events.Position{At: 3, Rank: 1}},
		{name: "too long", order: returning(strings.Repeat("i", events.MaxIDBytes+1), nil), undecodable: true},
		{name: "NUL", order: returning("inv\x00secret", nil), undecodable: true, quotes: "secret"},
		{name: "C1 control", order: returning("inv\u0085secret", nil), undecodable: true, quotes: "secret"},
		{name: "invalid UTF-8", order: returning("inv\xffsecret", nil), undecodable: true, quotes: "secret"},
		{name: "host error", order: returning("", hostErr), undecodable: true},
		{name: "host error with an object", order: returning("inv_1", hostErr), undecodable: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			object, pos, err := c.order.Of(e)
			if c.undecodable {
				if !errors.Is(err, events.ErrUndecodable) || object != "" {
					t.Fatalf("Of = %q, %v; want an error wrapping ErrUndecodable", object, err)
				}
				var de *events.DecodeError
				if !errors.As(err, &de) || de.Source != "acme" || de.ID != "evt_1" {
					t.Errorf("error %v is not a DecodeError naming the event", err)
				}
				if c.quotes != "" && strings.Contains(err.Error(), c.quotes) {
					t.Errorf("error %q quotes the object", err)
				}
				return
			}
			if err != nil || object != c.object || pos != c.pos {
				t.Errorf("Of = %q, %+v, %v; want %q, %+v", object, pos, err, c.object, c.pos)
			}
		})
	}

	// An error that already wraps ErrUndecodable is returned as it is.
	own := &events.DecodeError{Source: "acme", Field: "data.invoice", Problem: "absent", Err: hostErr}
	if _, _, err := returning("", own).Of(e); err != own {
		t.Errorf("Of rewrapped an undecodable error: %v", err)
	}
}
